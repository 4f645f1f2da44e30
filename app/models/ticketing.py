from app.extensions import db
from app.models.base import TimestampMixin

TICKET_TYPES = ("support", "onboarding", "installation", "billing", "outage")
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")
TICKET_STATUSES = ("open", "in_progress", "resolved", "closed")
APPOINTMENT_STATUSES = ("scheduled", "en_route", "completed", "cancelled")


class Ticket(TimestampMixin, db.Model):
    __tablename__ = "tickets"
    id = db.Column(db.Integer, primary_key=True)
    number = db.Column(db.String(20), nullable=False, unique=True)
    title = db.Column(db.String(300), nullable=False)
    description = db.Column(db.Text)
    customer_id = db.Column(db.Integer, db.ForeignKey("customers.id"), index=True)
    type = db.Column(db.String(20), nullable=False, default="support")
    priority = db.Column(db.String(10), nullable=False, default="normal")
    status = db.Column(db.String(20), nullable=False, default="open", index=True)
    team = db.Column(db.String(50), index=True)
    assignee_id = db.Column(db.Integer, db.ForeignKey("users.id"), index=True)
    sla_due_at = db.Column(db.DateTime)
    resolved_at = db.Column(db.DateTime)
    created_by_key = db.Column(db.String(200), unique=True)
    # What the ticket is about, when it is about one service or came from a workflow run.
    service_instance_id = db.Column(db.Integer, db.ForeignKey("service_instances.id"),
                                    index=True)
    workflow_run_id = db.Column(db.Integer, index=True)
    opened_by_id = db.Column(db.Integer, db.ForeignKey("users.id"))

    customer = db.relationship("Customer")
    assignee = db.relationship("User", foreign_keys=[assignee_id])
    service = db.relationship("ServiceInstance")
    messages = db.relationship("TicketMessage", back_populates="ticket",
                               order_by="TicketMessage.id")

    @property
    def run_id(self):
        """The workflow run behind the ticket: its own link, or the run whose step made it
        (its idempotency key is "run<id>:<step>")."""
        if self.workflow_run_id:
            return self.workflow_run_id
        key = self.created_by_key or ""
        head = key.split(":", 1)[0]
        return int(head[3:]) if head.startswith("run") and head[3:].isdigit() else None


class TicketMessage(db.Model):
    """One message of a ticket's conversation, from the customer or from staff."""
    __tablename__ = "ticket_messages"
    id = db.Column(db.Integer, primary_key=True)
    ticket_id = db.Column(db.Integer, db.ForeignKey("tickets.id"), nullable=False,
                          index=True)
    author_id = db.Column(db.Integer, db.ForeignKey("users.id"))
    from_staff = db.Column(db.Boolean, nullable=False, default=False)
    body = db.Column(db.Text, nullable=False)
    created_at = db.Column(db.DateTime, nullable=False)

    ticket = db.relationship("Ticket", back_populates="messages")
    author = db.relationship("User")


class Appointment(TimestampMixin, db.Model):
    """A technician's job. Overlaps for one technician are refused by the ticketing
    service under a lock on the technician's profile row."""
    __tablename__ = "appointments"
    __table_args__ = (db.Index("ix_appointments_technician_start", "technician_id",
                               "starts_at"),)
    id = db.Column(db.Integer, primary_key=True)
    technician_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False)
    customer_id = db.Column(db.Integer, db.ForeignKey("customers.id"), nullable=False,
                            index=True)
    ticket_id = db.Column(db.Integer, db.ForeignKey("tickets.id"), index=True)
    service_instance_id = db.Column(db.Integer, db.ForeignKey("service_instances.id"))
    address = db.Column(db.String(500), nullable=False)
    starts_at = db.Column(db.DateTime, nullable=False)
    ends_at = db.Column(db.DateTime, nullable=False)
    status = db.Column(db.String(20), nullable=False, default="scheduled", index=True)
    notes = db.Column(db.Text)
    cpe_serial = db.Column(db.String(100))
    completed_at = db.Column(db.DateTime)
    workflow_run_id = db.Column(db.Integer, index=True)  # the run waiting on this job
    created_by_key = db.Column(db.String(200), unique=True)

    technician = db.relationship("User")
    customer = db.relationship("Customer")
    ticket = db.relationship("Ticket")
