"""Logins. A user belongs to exactly one portal; staff users carry a role."""
from flask_login import UserMixin

from app.extensions import db
from app.models.base import TimestampMixin

PORTALS = ("customer", "partner", "staff")
STAFF_ROLES = ("admin", "sales", "ops", "dispatcher", "technician", "finance", "support")


class User(UserMixin, TimestampMixin, db.Model):
    __tablename__ = "users"
    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(255), nullable=False, unique=True)
    name = db.Column(db.String(200), nullable=False)
    password_hash = db.Column(db.String(255))  # NULL until an invited user sets one
    portal = db.Column(db.String(20), nullable=False)
    role = db.Column(db.String(20))  # staff only
    customer_id = db.Column(db.Integer, db.ForeignKey("customers.id"), index=True)
    partner_id = db.Column(db.Integer, db.ForeignKey("partners.id"), index=True)
    is_active_user = db.Column(db.Boolean, nullable=False, default=True)
    invitation_token_hash = db.Column(db.String(128), unique=True)
    last_login_at = db.Column(db.DateTime)
    # Password reset: only a SHA-256 of the emailed token is kept, like invitations.
    reset_token_hash = db.Column(db.String(128), unique=True)
    reset_token_expires_at = db.Column(db.DateTime)
    password_changed_at = db.Column(db.DateTime)
    # TOTP two-factor sign-in: the shared secret once enrolment is confirmed, encrypted
    # (a Fernet token: app/portals/auth/two_factor.py), and the recovery codes as keyed
    # SHA-256 hashes (each crossed out when used).
    totp_secret = db.Column(db.String(255))
    totp_enabled_at = db.Column(db.DateTime)
    recovery_code_hashes = db.Column(db.JSON, nullable=False, default=list)

    customer = db.relationship("Customer", foreign_keys=[customer_id])
    partner = db.relationship("Partner", foreign_keys=[partner_id])

    @property
    def is_active(self):
        return self.is_active_user

    def get_id(self):
        # The portal is part of the session id, so a login is only ever valid in its portal.
        return f"{self.portal}:{self.id}"


def two_factor_required(user):
    """Staff roles in TWO_FACTOR_REQUIRED_ROLES (admin and finance) must sign in with a second
    factor; they enrol at their next sign-in."""
    from flask import current_app
    return user.portal == "staff" and \
        user.role in current_app.config["TWO_FACTOR_REQUIRED_ROLES"]


class UserSession(db.Model):
    """A signed-in browser. The cookie carries a random token; only its SHA-256 is stored, and
    a session counts only while its row is not revoked, so logout, a password change and
    "sign out everywhere" end it on the server, whatever copy of the cookie exists."""
    __tablename__ = "user_sessions"
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    token_hash = db.Column(db.String(64), nullable=False, unique=True)
    created_at = db.Column(db.DateTime, nullable=False)
    last_seen_at = db.Column(db.DateTime, nullable=False)
    expires_at = db.Column(db.DateTime, nullable=False)
    revoked_at = db.Column(db.DateTime)
    ip_address = db.Column(db.String(45))
    user_agent = db.Column(db.String(200))
    user = db.relationship("User")


class TechnicianProfile(db.Model):
    """Field data of a staff user with the technician role."""
    __tablename__ = "technician_profiles"
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, unique=True)
    skills = db.Column(db.JSON, nullable=False, default=list)  # ["fibre", "wireless"]
    service_areas = db.Column(db.JSON, nullable=False, default=list)  # area codes / cities
    work_start = db.Column(db.Time, nullable=False)
    work_end = db.Column(db.Time, nullable=False)
    work_days = db.Column(db.JSON, nullable=False, default=lambda: [0, 1, 2, 3, 4])  # Mon=0
    user = db.relationship("User")
