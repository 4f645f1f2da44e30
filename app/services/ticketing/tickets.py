"""Tickets (W1's onboarding ticket, and any other), and the support conversation."""
from datetime import timedelta

from app.errors import DomainError, NotFound, ValidationError
from app.models import Ticket, next_number, utcnow
from app.models.ticketing import TICKET_PRIORITIES, TICKET_STATUSES, TICKET_TYPES

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


class ConversationMixin:
    """Support tickets as a conversation: the customer opens one and replies, support
    assigns, replies, changes priority and status. Each reply emails the other side (the
    customer, or the assignee / SUPPORT_EMAIL), through the outbox."""

    def open_customer_ticket(self, customer_id, user, subject, category, message,
                             service_id=None):
        from app.models import ServiceInstance, TicketMessage
        errors = {}
        subject = " ".join(str(subject or "").split())
        message = str(message or "").strip()
        if not subject or len(subject) > 200:
            errors["subject"] = "Enter a subject (up to 200 characters)."
        if category not in CUSTOMER_CATEGORIES:
            errors["category"] = "Choose a category."
        if not message or len(message) > 10_000:
            errors["message"] = "Describe the problem (up to 10,000 characters)."
        service = None
        if service_id not in (None, ""):
            text = str(service_id)
            service = self.session.get(ServiceInstance, int(text)) \
                if text.isdigit() and len(text) < 10 else None
            if service is None or service.customer_id != customer_id:
                errors["service_id"] = "Choose one of your services."
        if errors:
            raise ValidationError("Check the ticket.", details=errors)
        priority = "high" if category == "outage" else "normal"
        ticket = Ticket(number=next_number("T"), title=subject, description=message,
                        customer_id=customer_id, type=category, priority=priority,
                        team="support", status="open", opened_by_id=getattr(user, "id", None),
                        service_instance_id=service.id if service else None,
                        sla_due_at=utcnow() + timedelta(hours=SLA_HOURS[priority]))
        self.session.add(ticket)
        self.session.flush()
        self.session.add(TicketMessage(ticket_id=ticket.id, author_id=getattr(user, "id", None),
                                       from_staff=False, body=message, created_at=utcnow()))
        self.session.commit()
        return ticket

    def reply(self, ticket_id, author, body, from_staff):
        from app.models import TicketMessage
        ticket = self.session.get(Ticket, ticket_id)
        if ticket is None:
            raise NotFound("That ticket does not exist.")
        text = str(body or "").strip()
        if not text or len(text) > 10_000:
            raise ValidationError("Write a reply (up to 10,000 characters).",
                                  details={"body": "Write a reply."})
        if ticket.status == "closed":
            raise DomainError(f"Ticket {ticket.number} is closed; open a new one.")
        message = TicketMessage(ticket_id=ticket.id, author_id=getattr(author, "id", None),
                                from_staff=from_staff, body=text, created_at=utcnow())
        self.session.add(message)
        if from_staff and ticket.status == "open":
            ticket.status = "in_progress"
        if not from_staff and ticket.status == "resolved":  # the customer says: not yet
            ticket.status, ticket.resolved_at = "open", None
        self.session.commit()
        self._email_other_side(ticket, message, author)
        return message

    def _email_other_side(self, ticket, message, author):
        from flask import current_app

        from app.services.communications import CommunicationsService
        if message.from_staff:
            to = ticket.customer.email if ticket.customer else None
            link = f"/portal/tickets/{ticket.id}"
        else:
            to = ticket.assignee.email if ticket.assignee else \
                current_app.config.get("SUPPORT_EMAIL")
            link = f"/staff/tickets/{ticket.id}"
        if not to:
            return None
        return CommunicationsService(self.session).send_template_email(
            "ticket_reply", to, {
                "customer_id": ticket.customer_id, "ticket_number": ticket.number,
                "subject": ticket.title, "author": getattr(author, "name", "Support"),
                "from_staff": message.from_staff, "body": message.body, "link": link},
            idempotency_key=f"ticket-message:{message.id}")

    def update_ticket(self, ticket_id, assignee_id=None, priority=None, status=None):
        """Staff change the assignee, priority or status (closing is status "closed")."""
        from app.models import User
        ticket = self.session.get(Ticket, ticket_id)
        if ticket is None:
            raise NotFound("That ticket does not exist.")
        errors = {}
        if assignee_id not in (None, ""):
            text = str(assignee_id)
            user = self.session.get(User, int(text)) if text.isdigit() and len(text) < 10 \
                else None
            if user is None or user.portal != "staff" or not user.is_active_user:
                errors["assignee_id"] = "Choose a member of staff."
            else:
                ticket.assignee_id = user.id
        if priority not in (None, ""):
            if priority not in TICKET_PRIORITIES:
                errors["priority"] = "Choose a priority."
            else:
                ticket.priority = priority
        if status not in (None, ""):
            if status not in TICKET_STATUSES:
                errors["status"] = "Choose a status."
            else:
                ticket.status = status
                ticket.resolved_at = utcnow() if status in ("resolved", "closed") else None
        if errors:
            self.session.rollback()
            raise ValidationError("Check the ticket's settings.", details=errors)
        self.session.commit()
        return ticket


CUSTOMER_CATEGORIES = ("support", "billing", "outage")
