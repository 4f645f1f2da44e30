from app.extensions import db
from app.models.base import Money, TimestampMixin, trigram_indexes

LEAD_STATUSES = ("new", "contacted", "qualified", "site_survey_scheduled",
                 "site_survey_completed", "quote_sent", "negotiating", "won", "lost",
                 "disqualified")
SURVEY_STATUSES = ("scheduled", "in_progress", "completed", "failed", "canceled")
SERVICEABILITY = ("serviceable", "not_serviceable", "pending_expansion",
                  "requires_construction")
# withdrawn: the run that offered it was cancelled; it can no longer be accepted.
QUOTE_STATUSES = ("draft", "sent", "viewed", "accepted", "rejected", "expired", "withdrawn")
QUOTE_LINE_KINDS = ("plan", "installation", "equipment", "activation", "discount")


class Lead(TimestampMixin, db.Model):
    __tablename__ = "leads"
    id = db.Column(db.Integer, primary_key=True)
    number = db.Column(db.String(20), nullable=False, unique=True)
    name = db.Column(db.String(200), nullable=False, index=True)
    email = db.Column(db.String(255), nullable=False, index=True)
    phone = db.Column(db.String(50))
    company = db.Column(db.String(200))
    service_address = db.Column(db.String(500))
    service_area = db.Column(db.String(100))
    latitude = db.Column(db.Float)
    longitude = db.Column(db.Float)
    source = db.Column(db.String(50), nullable=False, default="web")
    status = db.Column(db.String(30), nullable=False, default="new", index=True)
    partner_id = db.Column(db.Integer, db.ForeignKey("partners.id"), index=True)
    converted_customer_id = db.Column(db.Integer, db.ForeignKey("customers.id"), unique=True)
    converted_at = db.Column(db.DateTime)
    notes = db.Column(db.Text)

    partner = db.relationship("Partner")
    converted_customer = db.relationship("Customer")


# The staff lead search, like the customer search.
trigram_indexes(Lead, "name", "email", "number", "company")


class SiteSurvey(TimestampMixin, db.Model):
    __tablename__ = "site_surveys"
    id = db.Column(db.Integer, primary_key=True)
    lead_id = db.Column(db.Integer, db.ForeignKey("leads.id"), index=True)
    customer_id = db.Column(db.Integer, db.ForeignKey("customers.id"), index=True)
    status = db.Column(db.String(20), nullable=False, default="scheduled")
    serviceability = db.Column(db.String(30))
    technician_id = db.Column(db.Integer, db.ForeignKey("users.id"))
    scheduled_for = db.Column(db.DateTime)
    completed_at = db.Column(db.DateTime)
    notes = db.Column(db.Text)
    distance_to_fibre_m = db.Column(db.Integer)
    olt_port = db.Column(db.String(50))  # OLT/PON port, or tower/sector for wireless
    tower_sector = db.Column(db.String(50))

    lead = db.relationship("Lead")
    customer = db.relationship("Customer")
    technician = db.relationship("User")


class Quote(TimestampMixin, db.Model):
    __tablename__ = "quotes"
    id = db.Column(db.Integer, primary_key=True)
    number = db.Column(db.String(20), nullable=False, unique=True)
    lead_id = db.Column(db.Integer, db.ForeignKey("leads.id"), index=True)
    customer_id = db.Column(db.Integer, db.ForeignKey("customers.id"), index=True)
    status = db.Column(db.String(20), nullable=False, default="draft", index=True)
    kind = db.Column(db.String(20), nullable=False, default="new")  # new | renewal
    renews_subscription_id = db.Column(db.Integer, db.ForeignKey("subscriptions.id"),
                                       index=True)
    plan_id = db.Column(db.Integer, db.ForeignKey("plans.id"))
    monthly_recurring = db.Column(Money, nullable=False, default=0)
    one_time_total = db.Column(Money, nullable=False, default=0)
    total = db.Column(Money, nullable=False, default=0)
    currency = db.Column(db.String(3), nullable=False, default="USD")
    term_months = db.Column(db.Integer, nullable=False, default=12)
    valid_until = db.Column(db.DateTime, nullable=False)
    sent_at = db.Column(db.DateTime)
    accepted_by = db.Column(db.String(255))
    accepted_at = db.Column(db.DateTime)
    created_by_key = db.Column(db.String(200), unique=True)
    workflow_run_id = db.Column(db.Integer, index=True)  # the renewal run waiting on it

    lead = db.relationship("Lead")
    customer = db.relationship("Customer")
    plan = db.relationship("Plan")
    renews_subscription = db.relationship("Subscription")
    lines = db.relationship("QuoteLine", back_populates="quote", order_by="QuoteLine.id",
                            cascade="all, delete-orphan")

    @property
    def recipient_name(self):
        return (self.customer or self.lead).name if (self.customer or self.lead) else None


class QuoteLine(db.Model):
    __tablename__ = "quote_lines"
    id = db.Column(db.Integer, primary_key=True)
    quote_id = db.Column(db.Integer, db.ForeignKey("quotes.id"), nullable=False, index=True)
    kind = db.Column(db.String(20), nullable=False)
    description = db.Column(db.String(300), nullable=False)
    plan_id = db.Column(db.Integer, db.ForeignKey("plans.id"))
    quantity = db.Column(db.Integer, nullable=False, default=1)
    unit_price = db.Column(Money, nullable=False)
    recurring = db.Column(db.Boolean, nullable=False, default=False)
    amount = db.Column(Money, nullable=False)  # negative for discounts
    quote = db.relationship("Quote", back_populates="lines")
