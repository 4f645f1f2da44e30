"""Invitation and password-reset links. Only a SHA-256 of each token is stored, so the
database never holds a usable link; the link itself is a credential that exists only in the
message handed to the mail server (the outbox keeps a masked copy)."""
import hashlib
import secrets
from datetime import timedelta

from flask import current_app

from app.extensions import db
from app.models import User, utcnow

TOKEN_MAX_LENGTH = 200


def _digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


def _link(path, token):
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}{path}/{token}"


def create_invitation(user):
    """A fresh single-use link for `user` (any earlier link stops working)."""
    token = secrets.token_urlsafe(32)
    user.invitation_token_hash = _digest(token)
    db.session.flush()
    return _link("/portal/invite", token)


def find_invited_user(token):
    if not token or len(token) > TOKEN_MAX_LENGTH:
        return None
    return db.session.execute(db.select(User).filter_by(
        invitation_token_hash=_digest(token))).scalar_one_or_none()


def create_reset_link(user):
    """A single-use password-reset link, valid PASSWORD_RESET_MINUTES (earlier ones die)."""
    token = secrets.token_urlsafe(32)
    user.reset_token_hash = _digest(token)
    user.reset_token_expires_at = utcnow() + timedelta(
        minutes=current_app.config["PASSWORD_RESET_MINUTES"])
    db.session.flush()
    return _link("/reset-password", token)


def find_reset_user(token):
    if not token or len(token) > TOKEN_MAX_LENGTH:
        return None
    user = db.session.execute(db.select(User).filter_by(
        reset_token_hash=_digest(token))).scalar_one_or_none()
    if user is None or not user.is_active or user.reset_token_expires_at is None or \
            user.reset_token_expires_at < utcnow():
        return None
    return user


def send_password_reset(user):
    from app.services.communications import CommunicationsService
    CommunicationsService(db.session).send_template_email(
        "password_reset", user.email, {"name": user.name},
        secret_context={"reset_url": create_reset_link(user)})


def send_invitation(user):
    """A new invitation link to a portal user who has not set a password yet (staff: resend)."""
    from app.services.communications import CommunicationsService
    context = {"name": user.name, "user_id": user.id, "customer_id": user.customer_id,
               "partner_id": user.partner_id}
    return CommunicationsService(db.session).send_template_email(
        "portal_invitation", user.email, context,
        secret_context={"invitation_url": create_invitation(user)})
