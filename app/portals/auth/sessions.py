"""Server-side sessions. The signed cookie alone cannot be taken back, so it carries a random
token whose SHA-256 names a row in `user_sessions`; a request is signed in only while that row
is unrevoked and unexpired. Logout revokes the row, a password change and "sign out
everywhere" revoke all of the user's rows: a cookie copied earlier opens nothing afterwards."""
import hashlib
import secrets
from datetime import timedelta

from flask import current_app, request, session
from flask_login import login_user, logout_user
from sqlalchemy import select, update

from app.extensions import db
from app.models import User, UserSession, utcnow

SESSION_KEY = "sid"
CACHE = "lastmile.user_session"
# Writing last_seen_at on every request would turn each page view into a write.
TOUCH_EVERY = timedelta(minutes=5)


def _digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(user):
    """Sign `user` in on this browser with a fresh server-side session."""
    # Nothing from before the sign-in carries over, except the CSRF token, so that forms
    # open in other tabs still post (the session cookie is signed: it cannot be planted).
    csrf_token = session.get("csrf_token")
    session.clear()
    if csrf_token:
        session["csrf_token"] = csrf_token
    token = secrets.token_urlsafe(32)
    now = utcnow()
    lifetime = timedelta(hours=current_app.config["SESSION_LIFETIME_HOURS"])
    db.session.add(UserSession(user_id=user.id, token_hash=_digest(token), created_at=now,
                               last_seen_at=now, expires_at=now + lifetime,
                               ip_address=(request.remote_addr or "")[:45],
                               user_agent=(request.user_agent.string or "")[:200]))
    session[SESSION_KEY] = token
    login_user(user)


def current_session():
    """This browser's live session row, or None (looked up once per request)."""
    if CACHE not in request.environ:
        token = session.get(SESSION_KEY)
        row = None
        if isinstance(token, str) and 20 < len(token) < 100:
            row = db.session.execute(select(UserSession).where(
                UserSession.token_hash == _digest(token))).scalar_one_or_none()
            if row is not None and (row.revoked_at or row.expires_at <= utcnow()):
                row = None
        request.environ[CACHE] = row
    return request.environ[CACHE]


def load_session_user(portal, user_id):
    """flask-login's user loader: the user only if this browser's session row is live and
    belongs to that user."""
    row = current_session()
    if row is None or row.user_id != user_id:
        return None
    user = db.session.get(User, user_id)
    if user is None or user.portal != portal or not user.is_active:
        return None
    now = utcnow()
    if now - row.last_seen_at > TOUCH_EVERY:
        db.session.execute(update(UserSession).where(UserSession.id == row.id)
                           .values(last_seen_at=now))
        db.session.commit()
    return user


def end_session():
    """Logout: revoke this browser's row and forget the cookie's contents."""
    row = current_session()
    if row is not None:
        row.revoked_at = utcnow()
    logout_user()
    session.clear()
    request.environ.pop(CACHE, None)


def revoke_sessions(user, keep_current=False):
    """End every session of `user` (all browsers), except this one if `keep_current`.
    Returns how many were ended."""
    query = update(UserSession).where(UserSession.user_id == user.id,
                                      UserSession.revoked_at.is_(None))
    current = current_session() if keep_current else None
    if current is not None:
        query = query.where(UserSession.id != current.id)
    return db.session.execute(query.values(revoked_at=utcnow())).rowcount


def live_sessions(user):
    return db.session.execute(select(UserSession).where(
        UserSession.user_id == user.id, UserSession.revoked_at.is_(None),
        UserSession.expires_at > utcnow()).order_by(UserSession.last_seen_at.desc())
    ).scalars().all()
