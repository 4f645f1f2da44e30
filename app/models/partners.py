from sqlalchemy import CheckConstraint

from app.extensions import db
from app.models.base import Money, TimestampMixin

PARTNER_STATUSES = ("pending", "active", "suspended")
COMMISSION_MODELS = ("percent", "flat", "tiered")
COMMISSION_TYPES = ("new_customer", "renewal", "upgrade")
COMMISSION_STATUSES = ("pending", "approved", "paid", "void")


class Partner(TimestampMixin, db.Model):
    __tablename__ = "partners"
    __table_args__ = (
        # The pool can never be over-allocated, whatever the application does.
        CheckConstraint("licenses_used >= 0 AND licenses_used <= license_quota",
                        name="pool_within_quota"),
    )
    id = db.Column(db.Integer, primary_key=True)
    number = db.Column(db.String(20), nullable=False, unique=True)
    company = db.Column(db.String(200), nullable=False, index=True)
    status = db.Column(db.String(20), nullable=False, default="pending")
    tier = db.Column(db.String(20), nullable=False, default="silver")
    commission_model = db.Column(db.String(10), nullable=False, default="percent")
    commission_rate = db.Column(db.Numeric(10, 4), nullable=False, default=0)
    # tiered: [{"min_customers": 0, "rate": 10}, {"min_customers": 10, "rate": 15}]
    commission_tiers = db.Column(db.JSON, nullable=False, default=list)
    contact_email = db.Column(db.String(255), nullable=False)
    billing_email = db.Column(db.String(255))
    license_template_id = db.Column(db.Integer, db.ForeignKey("license_templates.id"))
    # The hosted-product plan the partner's customers are billed on, per license: its price
    # is the base of a percent/tiered commission (first-term value = licenses x 12 months).
    plan_id = db.Column(db.Integer, db.ForeignKey("plans.id"))
    license_quota = db.Column(db.Integer, nullable=False, default=0)
    licenses_used = db.Column(db.Integer, nullable=False, default=0)
    # white-label defaults
    brand_name = db.Column(db.String(200))
    logo_url = db.Column(db.String(500))
    primary_color = db.Column(db.String(7))
    secondary_color = db.Column(db.String(7))
    support_email = db.Column(db.String(255))
    subdomain = db.Column(db.String(63), unique=True)
    custom_domain = db.Column(db.String(255), unique=True)

    customers = db.relationship("Customer", back_populates="partner")
    license_template = db.relationship("LicenseTemplate")
    plan = db.relationship("Plan")


class LicensePoolEvent(db.Model):
    """History of a partner's pool: allocations, returns, quota changes."""
    __tablename__ = "license_pool_events"
    id = db.Column(db.Integer, primary_key=True)
    partner_id = db.Column(db.Integer, db.ForeignKey("partners.id"), nullable=False,
                           index=True)
    customer_id = db.Column(db.Integer, db.ForeignKey("customers.id"))
    kind = db.Column(db.String(20), nullable=False)  # allocate | return | quota_change
    delta = db.Column(db.Integer, nullable=False)
    note = db.Column(db.String(300))
    created_at = db.Column(db.DateTime, nullable=False)


class CommissionEntry(TimestampMixin, db.Model):
    __tablename__ = "commission_entries"
    id = db.Column(db.Integer, primary_key=True)
    partner_id = db.Column(db.Integer, db.ForeignKey("partners.id"), nullable=False,
                           index=True)
    customer_id = db.Column(db.Integer, db.ForeignKey("customers.id"), index=True)
    type = db.Column(db.String(20), nullable=False)
    base_amount = db.Column(Money, nullable=False)
    rate = db.Column(db.Numeric(10, 4))
    amount = db.Column(Money, nullable=False)
    currency = db.Column(db.String(3), nullable=False, default="USD")
    status = db.Column(db.String(10), nullable=False, default="pending", index=True)
    approved_at = db.Column(db.DateTime)
    paid_at = db.Column(db.DateTime)
    payout_reference = db.Column(db.String(100))
    created_by_key = db.Column(db.String(200), unique=True)

    partner = db.relationship("Partner")
    customer = db.relationship("Customer")
