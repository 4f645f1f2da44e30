"""What every wizard does the same way: read a form into values, answer a bad one with the
form and its field errors (422, swapped in place by HTMX), and after starting a workflow go
to its live page (HX-Redirect for HTMX, a plain redirect otherwise)."""
from flask import redirect, render_template, request

from app.errors import DomainError, ValidationError


def values(*names):
    return {name: (request.form.get(name) or "").strip() for name in names}


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
