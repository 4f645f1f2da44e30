"""customer/renewals pages."""
from app.portals.customer import bp  # noqa: F401
