"""partner/runs pages: a customer-facing view of a run, live (issue 3)."""
from app.portals.partner import bp  # noqa: F401
