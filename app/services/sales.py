"""The sales service (issue 4)."""
from app.services.base import Service


class SalesService(Service):
    name = "sales"
