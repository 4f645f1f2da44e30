"""The ticketing service. Its methods live in one module per concern (mixins), so each
workflow's part of the service reads on its own; this class puts them together."""
from app.services.base import Service
from app.services.ticketing.tickets import ConversationMixin, TicketsMixin
from app.services.ticketing.installations import InstallationsMixin


class TicketingService(TicketsMixin, ConversationMixin, InstallationsMixin, Service):
    name = "ticketing"
