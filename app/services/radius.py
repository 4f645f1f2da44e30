"""The radius service (issue 7)."""
from app.services.base import Service


class RadiusService(Service):
    name = "radius"
