"""The partner service (issue 6)."""
from app.services.base import Service


class PartnerService(Service):
    name = "partner"
