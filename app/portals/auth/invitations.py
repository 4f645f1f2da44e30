"""Invitation links for new portal users. Only a SHA-256 of the token is stored, so the
database never holds a usable link; the link itself is a credential sent once by email."""
import hashlib
import secrets

from flask import current_app

from app.extensions import db
from app.models import User


def _digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


def create_invitation(user):
    """A fresh single-use link for `user` (any earlier link stops working)."""
    token = secrets.token_urlsafe(32)
    user.invitation_token_hash = _digest(token)
    db.session.flush()
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/portal/invite/{token}"


def find_invited_user(token):
    if not token or len(token) > 200:
        return None
    return db.session.execute(db.select(User).filter_by(
        invitation_token_hash=_digest(token))).scalar_one_or_none()
