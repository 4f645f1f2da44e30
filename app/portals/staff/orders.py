"""staff/orders pages."""
from app.portals.staff import bp  # noqa: F401
