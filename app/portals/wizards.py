"""What every wizard does the same way: read a form into values, answer a bad one with the
form and its field errors (422, swapped in place by HTMX), and after starting a workflow go
to its live page (HX-Redirect for HTMX, a plain redirect otherwise).

Every wizard form carries a one-time submission token (components/forms.html
`submission_token`): the same form posted twice (a double click, the back button, a second
tab) starts one run, and the second post lands on its page (engine.start_run)."""
import secrets

from flask import redirect, render_template, request

from app.errors import DomainError, ValidationError


def values(*names):
    """The named fields of the posted form, and its submission token (kept on a re-render)."""
    found = {name: (request.form.get(name) or "").strip() for name in names}
    if submission_token():
        found["submission_token"] = submission_token()
    return found


def form_page(template, status=200, **context):
    context.setdefault("errors", {})
    context.setdefault("values", {})
    return render_template(template, **context), status


def go(url):
    if request.headers.get("HX-Request"):
        return "", 204, {"HX-Redirect": url}
    return redirect(url, code=303)


def error_details(error):
    """Field errors from a service's ValidationError, or the message under "_form"."""
    if isinstance(error, ValidationError) and error.details:
        return {**error.details, "_form": error.message}
    if isinstance(error, DomainError):
        return {"_form": error.message}
    raise error


def require_int(vals, errors, name, label):
    try:
        return int(vals[name])
    except (TypeError, ValueError):
        errors[name] = f"Choose {label}."
        return None


def new_submission_token():
    return secrets.token_urlsafe(24)


def submission_token():
    """The posted form's one-time token, for start_run."""
    return (request.form.get("submission_token") or "").strip()[:64] or None


def already_started(workflow_name, inputs=None):
    """The run this very form already started (posted again: a double click, the back
    button), or the live run for the same subject; None if this is a new start."""
    from app.workflows.engine import existing_run
    return existing_run(workflow_name, inputs, submission_token())
