"""The communications service (issue 4)."""
from app.services.base import Service


class CommunicationsService(Service):
    name = "communications"
