from app.extensions import db
from app.models.base import TimestampMixin

EMAIL_STATUSES = ("queued", "sent", "failed", "outbox_only")


class OutboundEmail(TimestampMixin, db.Model):
    """The outbox: every email the platform sent (or would send), as rendered."""
    __tablename__ = "outbound_emails"
    id = db.Column(db.Integer, primary_key=True)
    template = db.Column(db.String(100), nullable=False, index=True)
    to_address = db.Column(db.String(255), nullable=False, index=True)
    subject = db.Column(db.String(300), nullable=False)
    text_body = db.Column(db.Text, nullable=False)
    html_body = db.Column(db.Text, nullable=False)
    status = db.Column(db.String(20), nullable=False, default="queued", index=True)
    error = db.Column(db.String(500))
    sent_at = db.Column(db.DateTime)
    customer_id = db.Column(db.Integer, db.ForeignKey("customers.id"), index=True)
    partner_id = db.Column(db.Integer, db.ForeignKey("partners.id"), index=True)
    idempotency_key = db.Column(db.String(200), unique=True)


class Notification(TimestampMixin, db.Model):
    """In-app notification for one staff user (the bell)."""
    __tablename__ = "notifications"
    __table_args__ = (db.Index("ix_notifications_user_unread", "user_id", "read_at"),)
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False)
    team = db.Column(db.String(50))
    subject = db.Column(db.String(300), nullable=False)
    body = db.Column(db.Text)
    link = db.Column(db.String(500))
    data = db.Column(db.JSON, nullable=False, default=dict)
    read_at = db.Column(db.DateTime)
    idempotency_key = db.Column(db.String(200), index=True)


class Team(db.Model):
    """A notification team: which staff roles belong to it, and its optional webhook."""
    __tablename__ = "teams"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(50), nullable=False, unique=True)  # "operations", ...
    roles = db.Column(db.JSON, nullable=False, default=list)  # ["ops", "admin"]
    email = db.Column(db.String(255))
    webhook_url = db.Column(db.String(500))


class AuditEvent(db.Model):
    """Who did what, when, from where: sign-ins, and every staff action that changes data
    (`details` holds {"before": ..., "after": ...} or the submitted fields, secrets masked)."""
    __tablename__ = "audit_events"
    __table_args__ = (db.Index("ix_audit_events_object", "object_type", "object_id"),)
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), index=True)
    portal = db.Column(db.String(20))
    action = db.Column(db.String(100), nullable=False, index=True)
    object_type = db.Column(db.String(50))
    object_id = db.Column(db.String(50))
    details = db.Column(db.JSON, nullable=False, default=dict)
    ip_address = db.Column(db.String(45))
    created_at = db.Column(db.DateTime, nullable=False, index=True)
    user = db.relationship("User")

    @property
    def changes(self):
        """The before/after (or submitted values) in one line, for the audit list."""
        details = self.details or {}
        if "before" in details or "after" in details:
            before, after = details.get("before") or {}, details.get("after") or {}
            keys = sorted(set(before) | set(after))
            return "; ".join(f"{k}: {before.get(k, '—')} → {after.get(k, '—')}" for k in keys
                             if before.get(k) != after.get(k))
        return "; ".join(f"{k}: {v}" for k, v in sorted(details.items()))
