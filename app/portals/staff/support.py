"""Support: a ticket's conversation and its settings (assignee, priority, status, close);
and the internet panel on the staff service page (the same as the customer's My internet)."""
from flask import flash, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.errors import DomainError
from app.extensions import db
from app.models import Ticket, User
from app.models.ticketing import TICKET_PRIORITIES, TICKET_STATUSES
from app.portals.access import staff_required
from app.portals.internet_view import internet_context
from app.portals.staff import bp
from app.portals.wizards import error_details, go
from app.workflows.registry import get_service

SUPPORT = ("support", "ops", "sales")


@bp.app_template_global("internet_panel")
def internet_panel(service):
    """For the staff service page: `{% with panel = internet_panel(service) %}`."""
    return internet_context(service)


def ticket_context(ticket, errors=None, values=None):
    staff = db.session.execute(select(User).where(
        User.portal == "staff", User.is_active_user.is_(True),
        User.role.in_(("support", "ops", "admin", "sales", "technician")))
        .order_by(User.name).limit(200)).scalars().all()
    return dict(ticket=ticket, messages=ticket.messages, staff=staff,
                priorities=TICKET_PRIORITIES, statuses=TICKET_STATUSES,
                errors=errors or {}, values=values or {})


def render_ticket(ticket, errors=None, values=None, status=200):
    return render_template("staff/ticket_detail.html",
                           **ticket_context(ticket, errors, values)), status


@bp.route("/tickets/<int:ticket_id>/reply", methods=["POST"])
@staff_required(*SUPPORT)
def reply_to_ticket(ticket_id):
    ticket = db.get_or_404(Ticket, ticket_id)
    body = request.form.get("body", "")
    try:
        get_service("ticketing").reply(ticket.id, current_user, body, from_staff=True)
    except DomainError as error:
        db.session.rollback()
        return render_ticket(ticket, errors=error_details(error), values={"body": body},
                             status=422)
    flash("Reply sent: the customer gets it by email.")
    return go(url_for("staff.ticket_detail", ticket_id=ticket.id))


@bp.route("/tickets/<int:ticket_id>/update", methods=["POST"])
@staff_required(*SUPPORT)
def update_ticket(ticket_id):
    ticket = db.get_or_404(Ticket, ticket_id)
    status = "closed" if request.form.get("action") == "close" else request.form.get("status")
    try:
        get_service("ticketing").update_ticket(ticket.id, request.form.get("assignee_id"),
                                               request.form.get("priority"), status)
    except DomainError as error:
        db.session.rollback()
        return render_ticket(ticket, errors=error_details(error), status=422)
    flash("Ticket closed." if status == "closed" else "Ticket updated.")
    return go(url_for("staff.ticket_detail", ticket_id=ticket.id))
