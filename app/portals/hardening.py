"""One place for what every request gets, whichever route it reaches:

- bad input is a 400, before any view sees it: NUL bytes anywhere in the path, query or form
  (PostgreSQL refuses them in text), integers out of range (a 32-bit INTEGER column) in URL
  converters and in integer-named query and form fields, a Host header that is no host name,
  CR/LF in `next=`;
- an unexpected error is a plain message for customers, partners and visitors; staff also
  see its type and a reference (the log has the traceback under the same reference);
- security headers on every response (frames, sniffing, referrer, a CSP that fits htmx and
  its SSE extension, both served from /static/vendor);
- behind TRUSTED_PROXIES reverse proxies, the client's address and scheme come from their
  X-Forwarded-* headers (ProxyFix), so the login throttle sees clients, not the proxy.
"""
import logging
import re
import secrets

from flask import request
from flask_login import current_user
from sqlalchemy.exc import DataError
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

log = logging.getLogger(__name__)

INT_MAX = 2 ** 31 - 1  # INTEGER columns on PostgreSQL (and ids everywhere)
# Query and form fields that views read as integers.
_INTEGER_FIELD = re.compile(r"^(page|per_page|since|customer|partner|exp_month|exp_year|"
                            r"quantity|seats|term_months|.*_id|id)$")
_INTEGER = re.compile(r"^\s*[+-]?\d+\s*$")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"^(?:{_LABEL}(?:\.{_LABEL})*\.?|\[[0-9a-f:.]+\])(?::\d{{1,5}})?$",
                   re.IGNORECASE)

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    # htmx adds its indicator <style>; Pico and the email preview use style attributes.
    "style-src 'self' 'unsafe-inline'",
    # Partners' logos are http(s) or data: URLs.
    "img-src 'self' data: https: http:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


class BoundedIntConverter(IntegerConverter):
    """`<int:id>` as before, but a number no row can have is a 400, not a database error."""

    def to_python(self, value):
        number = super().to_python(value)
        if number > INT_MAX:
            raise BadRequest("The number in this address is too large.")
        return number


def _bad_value(value):
    return "\x00" in value


def reject_bad_input():
    if not _HOST.match(request.host or ""):
        raise BadRequest("The Host header is not a host name.")
    if "\x00" in request.path:
        raise BadRequest("The address contains a NUL character.")
    for source in (request.args, request.form):
        for name, value in source.items(multi=True):
            if _bad_value(name) or _bad_value(value):
                raise BadRequest(f"The field {name[:40]!r} contains a NUL character."
                                 if not _bad_value(name) else "A field name is not valid.")
            if _INTEGER_FIELD.match(name) and _INTEGER.match(value) and \
                    abs(int(value)) > INT_MAX:
                raise BadRequest(f"The number in {name[:40]!r} is too large.")
    target = request.args.get("next", "")
    if "\r" in target or "\n" in target:
        raise BadRequest("The next address is not valid.")


def security_headers(response):
    headers = response.headers
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if request.endpoint != "static" and getattr(current_user, "is_authenticated", False):
        # Pages behind a sign-in are not kept by shared caches or the back button after logout.
        headers.setdefault("Cache-Control", "no-store")
    return response


def fresh_request_state():
    """Each request starts from its own cookie. In production `g` is new for every request
    anyway; the test client shares one app context (and `g`) between requests, where
    flask-login's and flask-wtf's caches would carry one browser's user or CSRF token into
    another browser's request."""
    from flask import g
    for name in ("_login_user", "csrf_token"):
        g.pop(name, None)


def register(app, render_error):
    if app.config.get("TRUSTED_PROXIES"):
        count = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)
    # First of all before-request hooks (blueprints add theirs when they are registered).
    app.before_request_funcs.setdefault(None, []).insert(0, reject_bad_input)
    app.before_request_funcs[None].insert(0, fresh_request_state)
    app.after_request(security_headers)

    @app.errorhandler(DataError)
    @app.errorhandler(OverflowError)
    def value_rejected_by_database(error):
        from app.extensions import db
        db.session.rollback()
        log.info("bad value for %s %s: %s", request.method, request.path,
                 str(error).splitlines()[0][:200])
        return render_error(400, "Bad request", "A value in the request is not valid.")

    @app.errorhandler(Exception)
    def unexpected_error(error):
        if isinstance(error, HTTPException):
            return error
        from app.extensions import db
        db.session.rollback()
        reference = secrets.token_hex(4)
        log.exception("unexpected error %s on %s %s", reference, request.method, request.path)
        message = f"The error was logged (reference {reference}). Please try again in a moment."
        if staff_may_see_details():
            message += f" Details for staff: {type(error).__name__}: {str(error)[:500]}"
        return render_error(500, "Something went wrong", message)


def staff_may_see_details():
    try:
        return current_user.is_authenticated and current_user.portal == "staff"
    except Exception:  # no user could be loaded (the database itself may be the error)
        return False


def render_public_error(run):
    """What a customer or partner may read of a run's error: the message of a business error
    (written for them), or a plain sentence when the step failed on something unexpected
    (a database error's text carries its SQL and parameters)."""
    from app.errors import DomainError
    from app.models import StepRun
    from app.extensions import db
    from sqlalchemy import select
    if not run.error:
        return None
    failed = db.session.execute(select(StepRun.error_type, StepRun.error_message).where(
        StepRun.run_id == run.id, StepRun.status == "failed")).all()
    business = _domain_error_names(DomainError) | {"Timeout"}
    for error_type, message in failed:
        if error_type not in business and message and message in run.error:
            return "Something went wrong on our side. Our team has been told and will " \
                   "look into it."
    return run.error


def _domain_error_names(cls):
    names = {cls.__name__}
    for sub in cls.__subclasses__():
        names |= _domain_error_names(sub)
    return names
