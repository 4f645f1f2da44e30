"""Tickets (W1's onboarding ticket, and any other)."""
from datetime import timedelta

from app.errors import ValidationError
from app.models import Ticket, next_number, utcnow
from app.models.ticketing import TICKET_PRIORITIES, TICKET_TYPES

SLA_HOURS = {"urgent": 4, "high": 24, "normal": 72, "low": 168}


class TicketsMixin:

    def create_ticket(self, title, description, customer_id, priority, team,
                      type="support", *, idempotency_key=None):
        def produce():
            if priority not in TICKET_PRIORITIES:
                raise ValidationError(f"Unknown priority {priority}.")
            if type not in TICKET_TYPES:
                raise ValidationError(f"Unknown ticket type {type}.")
            ticket = Ticket(number=next_number("T"), title=title[:300],
                            description=description, customer_id=customer_id, type=type,
                            priority=priority, team=team, status="open",
                            sla_due_at=utcnow() + timedelta(hours=SLA_HOURS[priority]),
                            created_by_key=idempotency_key)
            self.session.add(ticket)
            self.session.flush()
            return {"ticket_id": ticket.id, "number": ticket.number}
        return self.once(idempotency_key, "ticketing.create_ticket", produce)
