"""The notifications service (issue 4)."""
from app.services.base import Service


class NotificationsService(Service):
    name = "notifications"
