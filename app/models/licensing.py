from app.extensions import db
from app.models.base import TimestampMixin

LICENSE_TYPES = ("subscription", "perpetual", "trial")
LICENSE_STATUSES = ("active", "suspended", "revoked", "expired")


class LicenseTemplate(TimestampMixin, db.Model):
    __tablename__ = "license_templates"
    id = db.Column(db.Integer, primary_key=True)
    code = db.Column(db.String(50), nullable=False, unique=True)
    name = db.Column(db.String(200), nullable=False)
    product = db.Column(db.String(100), nullable=False)
    license_type = db.Column(db.String(20), nullable=False, default="subscription")
    seats = db.Column(db.Integer, nullable=False, default=1)
    max_activations = db.Column(db.Integer, nullable=False, default=1)
    features = db.Column(db.JSON, nullable=False, default=list)
    duration_days = db.Column(db.Integer)  # NULL = perpetual


class License(TimestampMixin, db.Model):
    __tablename__ = "licenses"
    id = db.Column(db.Integer, primary_key=True)
    license_key = db.Column(db.String(64), nullable=False, unique=True)
    token = db.Column(db.Text, nullable=False)  # Ed25519-signed, verifiable offline
    template_id = db.Column(db.Integer, db.ForeignKey("license_templates.id"),
                            nullable=False)
    customer_id = db.Column(db.Integer, db.ForeignKey("customers.id"), nullable=False,
                            index=True)
    partner_id = db.Column(db.Integer, db.ForeignKey("partners.id"), index=True)
    status = db.Column(db.String(20), nullable=False, default="active", index=True)
    issued_via = db.Column(db.String(10), nullable=False, default="direct")
    expires_at = db.Column(db.DateTime)
    revoked_at = db.Column(db.DateTime)
    created_by_key = db.Column(db.String(200), index=True)

    template = db.relationship("LicenseTemplate")
    customer = db.relationship("Customer")
