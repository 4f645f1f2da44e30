"""Who may see what, checked on the server for every page and action.

A login belongs to one portal: `portal_required("customer")` sends an anonymous visitor to the
customer login and answers 403 to a user of another portal. Staff pages also name the roles
that may use them (admin may use everything). Scoping to a user's own records (a customer's
own invoices, a partner's own sub-customers, a technician's own jobs) is done in the query
with the helpers below, so a changed id in the URL finds nothing (404).
"""
from functools import wraps

from flask import abort, redirect, request, url_for
from flask_login import current_user

from app.extensions import db

LOGIN_ENDPOINTS = {"customer": "auth.customer_login", "partner": "auth.partner_login",
                   "staff": "auth.staff_login"}


def load_user(session_id):
    """The signed-in user, only while this browser's server-side session is live (see
    app/portals/auth/sessions.py: a cookie alone, e.g. one copied before logout, is not
    enough)."""
    from app.portals.auth.sessions import load_session_user
    portal, _, user_id = (session_id or "").partition(":")
    if portal not in LOGIN_ENDPOINTS or not user_id.isdigit() or len(user_id) > 9:
        return None
    return load_session_user(portal, int(user_id))


def portal_required(portal, roles=()):
    """Decorator: the current user must be logged in to `portal` (and, for staff, hold one of
    `roles`; admin always passes)."""
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                # Back here after the sign-in; a long address is not echoed into Location.
                back = request.full_path if len(request.full_path) <= 500 else request.path
                return redirect(url_for(LOGIN_ENDPOINTS[portal],
                                        next=back if len(back) <= 500 else None))
            if current_user.portal != portal:
                abort(403)
            if roles and current_user.role != "admin" and current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


def staff_required(*roles):
    return portal_required("staff", roles)


customer_required = portal_required("customer")
partner_required = portal_required("partner")


def has_role(*roles):
    return current_user.is_authenticated and current_user.portal == "staff" and (
        current_user.role == "admin" or current_user.role in roles)


def get_own_or_404(model, object_id, **owner):
    """Fetch `model` by id only if it belongs to the owner, e.g.
    `get_own_or_404(Invoice, 5, customer_id=current_user.customer_id)`."""
    query = db.select(model).filter_by(id=object_id, **owner)
    found = db.session.execute(query).scalar_one_or_none()
    if found is None:
        abort(404)
    return found
