"""Dunning (W6): one case per overdue invoice, and the customers ops paused dunning for.

A case's `next_due_at` is the timer of the waiting run (SPEC §7: timers live in the
database): the periodic dunning job signals the run when it has passed, so losing Redis loses
no reminder. `invoice_id` is unique: an invoice is dunned once, ever."""
from app.extensions import db
from app.models.base import TimestampMixin

# reminded_1 -> reminded_2 -> suspended -> restored, or paid / expired / cancelled at any time
DUNNING_STAGES = ("new", "reminded_1", "reminded_2", "suspended", "restored", "paid",
                  "expired", "cancelled")


class DunningCase(TimestampMixin, db.Model):
    __tablename__ = "dunning_cases"
    __table_args__ = (db.Index("ix_dunning_cases_stage_due", "stage", "next_due_at"),)
    id = db.Column(db.Integer, primary_key=True)
    invoice_id = db.Column(db.Integer, db.ForeignKey("invoices.id"), nullable=False,
                           unique=True)
    customer_id = db.Column(db.Integer, db.ForeignKey("customers.id"), nullable=False,
                            index=True)
    workflow_run_id = db.Column(db.Integer, index=True)
    stage = db.Column(db.String(20), nullable=False, default="new")
    reminders_sent = db.Column(db.Integer, nullable=False, default=0)
    next_due_at = db.Column(db.DateTime)
    # What the suspension changed, so that the restore puts back exactly that:
    # [{"service_id", "username", "group"}]
    suspended_services = db.Column(db.JSON, nullable=False, default=list)
    # The NAS's answers to our Disconnect-Requests: [{"username", "nas", "outcome", ...}]
    disconnects = db.Column(db.JSON, nullable=False, default=list)
    suspended_at = db.Column(db.DateTime)
    restored_at = db.Column(db.DateTime)
    closed_at = db.Column(db.DateTime)

    invoice = db.relationship("Invoice")
    customer = db.relationship("Customer")


class DunningPause(db.Model):
    """Ops paused dunning for this customer (a dispute, an arrangement): no new case starts
    and no service is suspended while the row exists."""
    __tablename__ = "dunning_pauses"
    id = db.Column(db.Integer, primary_key=True)
    customer_id = db.Column(db.Integer, db.ForeignKey("customers.id"), nullable=False,
                            unique=True)
    reason = db.Column(db.String(300), nullable=False)
    paused_by_id = db.Column(db.Integer, db.ForeignKey("users.id"))
    created_at = db.Column(db.DateTime, nullable=False)

    paused_by = db.relationship("User")


class CreditNote(TimestampMixin, db.Model):
    """A credit against an invoice (finance): it lowers what the customer owes; a credit of
    the whole open balance settles the invoice."""
    __tablename__ = "credit_notes"
    id = db.Column(db.Integer, primary_key=True)
    number = db.Column(db.String(20), nullable=False, unique=True)
    invoice_id = db.Column(db.Integer, db.ForeignKey("invoices.id"), nullable=False,
                           index=True)
    customer_id = db.Column(db.Integer, db.ForeignKey("customers.id"), nullable=False,
                            index=True)
    amount = db.Column(db.Numeric(12, 2), nullable=False)
    currency = db.Column(db.String(3), nullable=False)
    reason = db.Column(db.String(300), nullable=False)
    issued_by_id = db.Column(db.Integer, db.ForeignKey("users.id"))

    invoice = db.relationship("Invoice")
