"""auth/routes pages."""
from app.portals.auth import bp  # noqa: F401
