from app.extensions import db
from app.models.base import TimestampMixin, trigram_indexes

CUSTOMER_STATUSES = ("prospect", "active", "suspended", "churned")
INSTALLATION_STATUSES = ("none", "survey", "scheduled", "in_progress", "completed")


class Customer(TimestampMixin, db.Model):
    __tablename__ = "customers"
    id = db.Column(db.Integer, primary_key=True)
    number = db.Column(db.String(20), nullable=False, unique=True)
    name = db.Column(db.String(200), nullable=False, index=True)
    email = db.Column(db.String(255), nullable=False, index=True)
    phone = db.Column(db.String(50))
    company = db.Column(db.String(200))
    billing_address = db.Column(db.String(500))
    service_address = db.Column(db.String(500))
    service_area = db.Column(db.String(100), index=True)  # matches technicians' areas
    latitude = db.Column(db.Float)
    longitude = db.Column(db.Float)
    status = db.Column(db.String(20), nullable=False, default="prospect", index=True)
    partner_id = db.Column(db.Integer, db.ForeignKey("partners.id"), index=True)
    installation_status = db.Column(db.String(20), nullable=False, default="none")
    archived_at = db.Column(db.DateTime)
    # The engine step that created it (idempotency); NULL for customers made by hand.
    created_by_key = db.Column(db.String(200), unique=True)

    partner = db.relationship("Partner", back_populates="customers")


# The staff customer search (name, email, number, company) at 100,000 customers.
trigram_indexes(Customer, "name", "email", "number", "company")
