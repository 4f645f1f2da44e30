from app.extensions import db
from app.models.base import TimestampMixin

TENANT_STATUSES = ("provisioning", "active", "failed", "deprovisioned")
SCHEDULE_STATUSES = ("scheduled", "running", "completed", "failed", "cancelled")


class Tenant(TimestampMixin, db.Model):
    """A hosted instance of the management product."""
    __tablename__ = "tenants"
    id = db.Column(db.Integer, primary_key=True)
    slug = db.Column(db.String(63), nullable=False, unique=True)
    url = db.Column(db.String(500), nullable=False)
    customer_id = db.Column(db.Integer, db.ForeignKey("customers.id"), nullable=False,
                            index=True)
    partner_id = db.Column(db.Integer, db.ForeignKey("partners.id"), index=True)
    license_key = db.Column(db.String(64))
    deployment_type = db.Column(db.String(20), nullable=False, default="shared")
    backend = db.Column(db.String(20), nullable=False, default="local")
    external_id = db.Column(db.String(200))  # the webhook provisioner's id
    status = db.Column(db.String(20), nullable=False, default="provisioning", index=True)
    # {"brand_name", "logo_url", "primary_color", "secondary_color", "support_email",
    #  "custom_domain"}
    branding = db.Column(db.JSON, nullable=False, default=dict)
    custom_domain = db.Column(db.String(255), unique=True)
    error = db.Column(db.String(500))
    created_by_key = db.Column(db.String(200), unique=True)

    customer = db.relationship("Customer")
    partner = db.relationship("Partner")


class DeploymentSchedule(TimestampMixin, db.Model):
    """An order's deployment, provisioned at `scheduled_for` by the periodic sweep (the row
    is the timer)."""
    __tablename__ = "deployment_schedules"
    id = db.Column(db.Integer, primary_key=True)
    order_id = db.Column(db.Integer, db.ForeignKey("orders.id"), nullable=False, unique=True)
    customer_id = db.Column(db.Integer, db.ForeignKey("customers.id"), nullable=False,
                            index=True)
    priority = db.Column(db.String(10), nullable=False, default="normal")
    scheduled_for = db.Column(db.DateTime, nullable=False, index=True)
    status = db.Column(db.String(20), nullable=False, default="scheduled")
    tenant_id = db.Column(db.Integer, db.ForeignKey("tenants.id"))
    error = db.Column(db.String(500))
