"""The customer's support tickets: open one (subject, category, message, optionally about
one of their services), read the conversation and reply. Only their own tickets."""
from flask import flash, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.errors import DomainError
from app.extensions import db
from app.models import ServiceInstance, Ticket
from app.portals.access import customer_required, get_own_or_404
from app.portals.customer import bp
from app.portals.wizards import error_details, go
from app.services.ticketing.tickets import CUSTOMER_CATEGORIES
from app.workflows.registry import get_service


def _services():
    return db.session.execute(select(ServiceInstance).where(
        ServiceInstance.customer_id == current_user.customer_id,
        ServiceInstance.status != "terminated").order_by(ServiceInstance.id).limit(50)
    ).scalars().all()


@bp.route("/tickets/new", methods=["GET", "POST"])
@customer_required
def new_ticket():
    values, errors, status = {"category": "support"}, {}, 200
    if request.method == "POST":
        values = {name: request.form.get(name, "")[:10_000]
                  for name in ("subject", "category", "message", "service_id")}
        try:
            ticket = get_service("ticketing").open_customer_ticket(
                current_user.customer_id, current_user, values["subject"],
                values["category"], values["message"], values["service_id"] or None)
            flash(f"Ticket {ticket.number} opened: we answer by email and here.")
            return go(url_for("customer.ticket_detail", ticket_id=ticket.id))
        except DomainError as error:
            db.session.rollback()
            errors, status = error_details(error), 422
    return render_template("customer/tickets/new.html", values=values, errors=errors,
                           services=_services(), categories=CUSTOMER_CATEGORIES), status


@bp.route("/tickets/<int:ticket_id>", methods=["GET", "POST"])
@customer_required
def ticket_detail(ticket_id):
    ticket = get_own_or_404(Ticket, ticket_id, customer_id=current_user.customer_id)
    errors, body, status = {}, "", 200
    if request.method == "POST":
        body = request.form.get("body", "")[:10_000]
        try:
            get_service("ticketing").reply(ticket.id, current_user, body, from_staff=False)
            flash("Reply sent.")
            return go(url_for("customer.ticket_detail", ticket_id=ticket.id))
        except DomainError as error:
            db.session.rollback()
            errors, status = error_details(error), 422
    return render_template("customer/tickets/detail.html", ticket=ticket, errors=errors,
                           body=body), status
