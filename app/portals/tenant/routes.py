"""tenant/routes pages."""
from app.portals.tenant import bp  # noqa: F401
