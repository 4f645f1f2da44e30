from app.extensions import db
from app.models.base import utcnow


class ServiceEffect(db.Model):
    """The result of a service call made under an idempotency key (run id + step name).
    Written in the same transaction as the effect itself, so a replay returns it instead
    of acting twice. See app.services.base.Service.once."""
    __tablename__ = "service_effects"
    id = db.Column(db.Integer, primary_key=True)
    key = db.Column(db.String(200), nullable=False, unique=True)
    operation = db.Column(db.String(100), nullable=False)  # "billing.create_subscription"
    result = db.Column(db.JSON, nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
