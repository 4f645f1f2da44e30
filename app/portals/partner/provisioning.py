"""partner/provisioning pages."""
from app.portals.partner import bp  # noqa: F401
