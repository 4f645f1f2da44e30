"""customer/routes pages."""
from app.portals.customer import bp  # noqa: F401
