"""The genieacs service (issue 7)."""
from app.services.base import Service


class GenieAcsService(Service):
    name = "genieacs"
