"""W2 "Record acceptance" on a sent quote, and the in-app notification bell."""
from datetime import datetime

from flask import render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select, update

from app.errors import DomainError
from app.extensions import db
from app.models import Notification, PaymentMethod, Quote, utcnow
from app.portals.access import staff_required
from app.portals.pagination import render_list
from app.portals.staff import bp
from app.portals.wizards import (already_started, error_details, form_page, go,
                                 submission_token, values)
from app.services.crm.quotes import acceptance_problem
from app.workflows.engine import start_run

PRIORITIES = ("low", "normal", "high", "urgent")


def quote_cards(quote):
    customer_id = quote.customer_id
    if customer_id is None:
        return []
    return db.session.execute(select(PaymentMethod).filter_by(customer_id=customer_id)
                              .order_by(PaymentMethod.id.desc())).scalars().all()


def acceptance_inputs(quote, vals, cards, accepted_by):
    """Inputs for quote_accepted_to_order from a form, or (None, errors)."""
    errors = {}
    if vals["payment_type"] not in ("prepaid", "postpaid"):
        errors["payment_type"] = "Prepaid or postpaid."
    method = vals.get("payment_method") or "manual"
    if method != "manual" and method not in {f"pm:{c.id}" for c in cards}:
        errors["payment_method"] = "Choose one of the customer's cards, or manual payment."
    scheduled = None
    if vals.get("scheduled_date"):
        try:
            scheduled = datetime.fromisoformat(vals["scheduled_date"])
            if scheduled <= utcnow():
                errors["scheduled_date"] = "Choose a date in the future."
        except ValueError:
            errors["scheduled_date"] = "Use a date like 2026-12-01T09:00."
    if vals.get("priority", "normal") not in PRIORITIES:
        errors["priority"] = "Choose a priority."
    problem = acceptance_problem(quote)
    if problem:
        errors["_form"] = problem
    if errors:
        return None, errors
    return {"quote_id": quote.id, "accepted_by": accepted_by,
            "payment_type": vals["payment_type"], "payment_method": method,
            "priority": vals.get("priority") or "normal",
            "scheduled_date": scheduled.isoformat() if scheduled else None}, {}


@bp.route("/quotes/<int:quote_id>/accept", methods=["GET", "POST"])
@staff_required("sales")
def record_acceptance(quote_id):
    quote = db.get_or_404(Quote, quote_id)
    cards = quote_cards(quote)
    page = dict(quote=quote, cards=cards, priorities=PRIORITIES)
    if request.method == "GET":
        return form_page("staff/orders/accept.html", **page,
                         values={"payment_type": "postpaid", "priority": "normal"},
                         errors={"_form": acceptance_problem(quote)} if acceptance_problem(quote) else {})
    started = already_started("quote_accepted_to_order", {"quote_id": quote.id})
    if started is not None:
        return go(url_for("staff.run_detail", run_id=started.id))
    vals = values("accepted_by", "payment_type", "payment_method", "priority", "scheduled_date")
    inputs, errors = acceptance_inputs(quote, vals, cards, vals["accepted_by"])
    if not vals["accepted_by"]:
        errors["accepted_by"] = "Who accepted it (name or email)?"
    if not errors:
        try:
            run = start_run("quote_accepted_to_order", inputs, started_by=current_user,
                            started_from="staff", customer_id=quote.customer_id,
                            submission_token=submission_token())
            return go(url_for("staff.run_detail", run_id=run.id))
        except DomainError as error:
            errors = error_details(error)
    return form_page("staff/orders/accept.html", 422, **page, values=vals, errors=errors)


@bp.route("/notifications/bell")
@staff_required()
def notifications_bell():
    unread = db.session.execute(select(func.count(Notification.id)).where(
        Notification.user_id == current_user.id, Notification.read_at.is_(None))).scalar()
    return render_template("staff/orders/_bell.html", unread=unread)


@bp.route("/notifications")
@staff_required()
def notifications():
    query = select(Notification).where(Notification.user_id == current_user.id).order_by(
        Notification.id.desc())
    return render_list("staff/base.html", "Notifications", query,
                       [("Subject", "subject"), ("Message", "body"), ("Team", "team"),
                        ("When", "created_at"), ("Read", "read_at")],
                       empty="No notifications.",
                       actions=_mark_read_button())


def _mark_read_button():
    from markupsafe import Markup
    from flask_wtf.csrf import generate_csrf
    return Markup(f'<form method="post" action="{url_for("staff.notifications_read")}" '
                  f'class="inline"><input type="hidden" name="csrf_token" '
                  f'value="{generate_csrf()}"><button type="submit" class="secondary">'
                  'Mark all as read</button></form>')


@bp.route("/notifications/read", methods=["POST"])
@staff_required()
def notifications_read():
    db.session.execute(update(Notification).where(Notification.user_id == current_user.id,
                                                  Notification.read_at.is_(None))
                       .values(read_at=utcnow()))
    db.session.commit()
    return go(url_for("staff.notifications"))
