"""The network service (issue 7)."""
from app.services.base import Service


class NetworkService(Service):
    name = "network"
