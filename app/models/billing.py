from app.extensions import db
from app.models.base import Money, TimestampMixin

SUBSCRIPTION_STATUSES = ("trialing", "active", "past_due", "canceled", "ended")
INVOICE_STATUSES = ("open", "paid", "void")
PAYMENT_STATUSES = ("pending", "succeeded", "failed", "refunded")


class Subscription(TimestampMixin, db.Model):
    __tablename__ = "subscriptions"
    id = db.Column(db.Integer, primary_key=True)
    customer_id = db.Column(db.Integer, db.ForeignKey("customers.id"), nullable=False,
                            index=True)
    plan_id = db.Column(db.Integer, db.ForeignKey("plans.id"), nullable=False)
    status = db.Column(db.String(20), nullable=False, default="active", index=True)
    current_period_start = db.Column(db.Date, nullable=False)
    current_period_end = db.Column(db.Date, nullable=False, index=True)
    custom_price = db.Column(Money)
    auto_renew = db.Column(db.Boolean, nullable=False, default=True)
    canceled_at = db.Column(db.DateTime)
    billing_started_at = db.Column(db.DateTime)
    created_by_key = db.Column(db.String(200), unique=True)

    customer = db.relationship("Customer")
    plan = db.relationship("Plan")
    renewals = db.relationship("SubscriptionRenewal", back_populates="subscription",
                               order_by="SubscriptionRenewal.id")


class SubscriptionRenewal(db.Model):
    """Renewal history. The unique quote makes a renewal impossible to apply twice."""
    __tablename__ = "subscription_renewals"
    id = db.Column(db.Integer, primary_key=True)
    subscription_id = db.Column(db.Integer, db.ForeignKey("subscriptions.id"),
                                nullable=False, index=True)
    quote_id = db.Column(db.Integer, db.ForeignKey("quotes.id"), unique=True)
    term_months = db.Column(db.Integer, nullable=False)
    previous_end = db.Column(db.Date, nullable=False)
    new_end = db.Column(db.Date, nullable=False)
    renewed_at = db.Column(db.DateTime, nullable=False)
    subscription = db.relationship("Subscription", back_populates="renewals")


class Invoice(TimestampMixin, db.Model):
    __tablename__ = "invoices"
    id = db.Column(db.Integer, primary_key=True)
    number = db.Column(db.String(20), nullable=False, unique=True)
    customer_id = db.Column(db.Integer, db.ForeignKey("customers.id"), nullable=False,
                            index=True)
    order_id = db.Column(db.Integer, db.ForeignKey("orders.id"), index=True)
    quote_id = db.Column(db.Integer, db.ForeignKey("quotes.id"), index=True)
    subscription_id = db.Column(db.Integer, db.ForeignKey("subscriptions.id"), index=True)
    status = db.Column(db.String(10), nullable=False, default="open", index=True)
    subtotal = db.Column(Money, nullable=False, default=0)
    tax = db.Column(Money, nullable=False, default=0)
    total = db.Column(Money, nullable=False, default=0)
    currency = db.Column(db.String(3), nullable=False, default="USD")
    issued_at = db.Column(db.DateTime, nullable=False)
    due_at = db.Column(db.DateTime, index=True)
    paid_at = db.Column(db.DateTime)
    # The service period the invoice bills (shown on it), when it bills one.
    period_start = db.Column(db.Date)
    period_end = db.Column(db.Date)

    customer = db.relationship("Customer")
    lines = db.relationship("InvoiceLine", back_populates="invoice", order_by="InvoiceLine.id",
                            cascade="all, delete-orphan")
    payments = db.relationship("Payment", back_populates="invoice", order_by="Payment.id")

    @property
    def issued_on(self):
        return self.issued_at.date() if self.issued_at else None

    @property
    def due_on(self):
        return self.due_at.date() if self.due_at else None


class InvoiceLine(db.Model):
    __tablename__ = "invoice_lines"
    id = db.Column(db.Integer, primary_key=True)
    invoice_id = db.Column(db.Integer, db.ForeignKey("invoices.id"), nullable=False,
                           index=True)
    description = db.Column(db.String(300), nullable=False)
    quantity = db.Column(db.Integer, nullable=False, default=1)
    unit_price = db.Column(Money, nullable=False)
    amount = db.Column(Money, nullable=False)
    invoice = db.relationship("Invoice", back_populates="lines")


class PaymentMethod(TimestampMixin, db.Model):
    """A saved card: only the gateway's token and what a person may see (brand, last 4).
    The gateway's fingerprint (the same for the same card number) keeps one row per card and
    customer, however often it is typed in."""
    __tablename__ = "payment_methods"
    __table_args__ = (db.UniqueConstraint("customer_id", "fingerprint"),)
    id = db.Column(db.Integer, primary_key=True)
    customer_id = db.Column(db.Integer, db.ForeignKey("customers.id"), nullable=False,
                            index=True)
    gateway = db.Column(db.String(20), nullable=False)
    gateway_token = db.Column(db.String(255), nullable=False)
    brand = db.Column(db.String(20))
    last4 = db.Column(db.String(4))
    exp_month = db.Column(db.Integer)
    exp_year = db.Column(db.Integer)
    is_default = db.Column(db.Boolean, nullable=False, default=False)
    fingerprint = db.Column(db.String(64))
    # Set when a charge on this card was declined: it is not offered again until typed in anew.
    declined_at = db.Column(db.DateTime)


class Payment(TimestampMixin, db.Model):
    __tablename__ = "payments"
    id = db.Column(db.Integer, primary_key=True)
    customer_id = db.Column(db.Integer, db.ForeignKey("customers.id"), nullable=False,
                            index=True)
    invoice_id = db.Column(db.Integer, db.ForeignKey("invoices.id"), index=True)
    order_id = db.Column(db.Integer, db.ForeignKey("orders.id"), index=True)
    amount = db.Column(Money, nullable=False)
    currency = db.Column(db.String(3), nullable=False, default="USD")
    gateway = db.Column(db.String(20), nullable=False)
    gateway_reference = db.Column(db.String(255))
    status = db.Column(db.String(20), nullable=False, default="pending", index=True)
    failure_reason = db.Column(db.String(300))
    idempotency_key = db.Column(db.String(200), nullable=False, unique=True)
    refunded_at = db.Column(db.DateTime)
    invoice = db.relationship("Invoice", back_populates="payments")
    customer = db.relationship("Customer")

    @property
    def created_on(self):
        return self.created_at.date() if self.created_at else None
