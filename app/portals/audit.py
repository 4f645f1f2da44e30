"""The audit log: who did what, when, from where, with before/after.

`record()` is called by an action that knows its before/after (a reveal, a settings change,
a sign-in). Every other staff request that changes data (a POST that did not fail) is
recorded by `audit_staff_request`, an after-request hook, with the endpoint, the ids in its
URL and the submitted fields (secrets masked, CSRF token dropped): so no staff action goes
unrecorded because someone forgot to call `record()`."""
from flask import request
from flask_login import current_user

from app.extensions import db
from app.models import AuditEvent, utcnow
from app.workflows.secrets import mask

AUDITED = "lastmile.audited"  # this request wrote its own entry
_SKIP_FIELDS = {"csrf_token", "submission_token"}
_MAX_VALUE = 200


def record(action, object_type=None, object_id=None, before=None, after=None, user=None,
           **details):
    """Add an audit entry to the current transaction (the caller commits it with its change)."""
    user = user or (current_user if current_user.is_authenticated else None)
    if before is not None or after is not None:
        details.update(before=mask(before or {}), after=mask(after or {}))
    db.session.add(AuditEvent(
        user_id=getattr(user, "id", None), portal=getattr(user, "portal", None),
        action=action[:100], object_type=object_type, object_id=None if object_id is None
        else str(object_id)[:50], details=mask(details), created_at=utcnow(),
        ip_address=(request.remote_addr or "")[:45] if request else None))
    if request:
        request.environ[AUDITED] = True


def _submitted():
    fields = {}
    for name in request.form:
        if name in _SKIP_FIELDS:
            continue
        values = request.form.getlist(name)
        value = values[0] if len(values) == 1 else values
        fields[name[:50]] = value[:_MAX_VALUE] if isinstance(value, str) else \
            [v[:_MAX_VALUE] for v in value[:20]]
    return mask(fields)


def audit_staff_request(response):
    if request.method != "POST" or request.blueprint != "staff" or request.environ.get(AUDITED) or \
            response.status_code >= 400 or not current_user.is_authenticated or \
            current_user.portal != "staff":
        return response
    try:
        db.session.add(AuditEvent(
            user_id=current_user.id, portal="staff", action=request.endpoint[:100],
            object_type=_object_type(), object_id=_object_id(), details=_submitted(),
            ip_address=(request.remote_addr or "")[:45], created_at=utcnow()))
        db.session.commit()
    except Exception:  # the action itself is done; a lost entry must not turn it into a 500
        db.session.rollback()
        import logging
        logging.getLogger(__name__).exception("audit entry for %s not written", request.path)
    return response


def _object_type():
    ids = [name for name in (request.view_args or {}) if name.endswith("_id")]
    return ids[0][:-3] if ids else None


def _object_id():
    ids = [value for name, value in (request.view_args or {}).items() if name.endswith("_id")]
    return str(ids[0])[:50] if ids else None
