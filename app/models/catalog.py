"""What the ISP sells: plans (internet or hosted software) and bandwidth profiles."""
from app.extensions import db
from app.models.base import Money, TimestampMixin

PLAN_KINDS = ("internet", "software")
BILLING_CYCLES = ("monthly", "quarterly", "annual")


class BandwidthProfile(db.Model):
    """A plan's speed as FreeRADIUS sees it: the RADIUS group whose radgroupreply rows
    carry the rate-limit attributes."""
    __tablename__ = "bandwidth_profiles"
    id = db.Column(db.Integer, primary_key=True)
    code = db.Column(db.String(50), nullable=False, unique=True)
    name = db.Column(db.String(200), nullable=False)
    download_kbps = db.Column(db.Integer, nullable=False)
    upload_kbps = db.Column(db.Integer, nullable=False)
    radius_group = db.Column(db.String(64), nullable=False, unique=True)


class Plan(TimestampMixin, db.Model):
    __tablename__ = "plans"
    id = db.Column(db.Integer, primary_key=True)
    code = db.Column(db.String(50), nullable=False, unique=True)
    name = db.Column(db.String(200), nullable=False)
    kind = db.Column(db.String(20), nullable=False)
    download_mbps = db.Column(db.Integer)
    upload_mbps = db.Column(db.Integer)
    bandwidth_profile_id = db.Column(db.Integer, db.ForeignKey("bandwidth_profiles.id"))
    billing_cycle = db.Column(db.String(20), nullable=False, default="monthly")
    price = db.Column(Money, nullable=False)  # per billing cycle
    currency = db.Column(db.String(3), nullable=False, default="USD")
    setup_fee = db.Column(Money, nullable=False, default=0)
    trial_days = db.Column(db.Integer, nullable=False, default=0)
    # {"12": 10} = 10 % off a 12-month renewal term.
    term_discounts = db.Column(db.JSON, nullable=False, default=dict)
    is_active = db.Column(db.Boolean, nullable=False, default=True)

    bandwidth_profile = db.relationship("BandwidthProfile")
