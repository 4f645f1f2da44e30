"""Customer portal: a customer's own subscriptions, invoices, quotes, licenses and tickets.
Every query is filtered by the signed-in user's customer, so another id finds nothing."""
from flask import render_template, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import Invoice, License, Quote, Subscription, Ticket, WorkflowRun
from app.portals.access import customer_required, get_own_or_404
from app.portals.customer import bp
from app.portals.pagination import render_list
from app.workflows.registry import get_service

LAYOUT = "customer/base.html"


def own(model):
    return select(model).where(model.customer_id == current_user.customer_id)


@bp.route("/")
@customer_required
def dashboard():
    subscriptions = db.session.execute(
        own(Subscription).options(selectinload(Subscription.plan))
        .where(Subscription.status.in_(("active", "trialing", "past_due")))
        .order_by(Subscription.current_period_end)).scalars().all()
    open_invoices = db.session.execute(own(Invoice).where(Invoice.status == "open")
                                       .order_by(Invoice.issued_at.desc())).scalars().all()
    open_quotes = db.session.execute(own(Quote).where(Quote.status.in_(("sent", "viewed")))
                                     .order_by(Quote.valid_until)).scalars().all()
    open_tickets = db.session.execute(select(func.count(Ticket.id)).where(
        Ticket.customer_id == current_user.customer_id,
        Ticket.status.in_(("open", "in_progress")))).scalar()
    return render_template("customer/dashboard.html", subscriptions=subscriptions,
                           open_invoices=open_invoices, open_quotes=open_quotes,
                           open_tickets=open_tickets)


@bp.route("/subscriptions")
@customer_required
def subscriptions():
    query = own(Subscription).options(selectinload(Subscription.plan)).order_by(
        Subscription.current_period_end)
    return render_list(LAYOUT, "Subscriptions", query,
                       [("Plan", "plan.name"), ("Period start", "current_period_start"),
                        ("Period end", "current_period_end"), ("Auto-renew", "auto_renew"),
                        ("Status", "status")],
                       row_link=lambda s: url_for("customer.subscription_detail",
                                                  subscription_id=s.id),
                       empty="You have no subscriptions yet.")


@bp.route("/subscriptions/<int:subscription_id>")
@customer_required
def subscription_detail(subscription_id):
    subscription = get_own_or_404(Subscription, subscription_id,
                                  customer_id=current_user.customer_id)
    eligible, reasons, _ = get_service("billing").renewal_status(subscription,
                                                                current_user.customer_id)
    open_renewal = db.session.execute(select(WorkflowRun.id).where(
        WorkflowRun.workflow == "customer_renewal_process",
        WorkflowRun.customer_id == current_user.customer_id,
        WorkflowRun.status.in_(("pending", "running", "waiting")),
        WorkflowRun.inputs["subscription_id"].as_integer() == subscription.id)).scalar()
    return render_template("customer/subscription_detail.html", subscription=subscription,
                           renewable=eligible, renewal_reasons=reasons,
                           open_renewal=open_renewal, price=_current_price(subscription))


def _current_price(subscription):
    """What the customer pays now: after a renewal, the renewal quote's amount for its term
    (with the plan's term discount), not the plan's list price per cycle."""
    from app.models import Quote
    renewals = [r for r in subscription.renewals if r.quote_id]
    latest = max(renewals, key=lambda r: r.renewed_at, default=None)
    quote = db.session.get(Quote, latest.quote_id) if latest else None
    if quote is not None:
        return {"amount": quote.total, "currency": quote.currency,
                "per": f"{latest.term_months} months", "until": latest.new_end,
                "list": subscription.custom_price or subscription.plan.price}
    return {"amount": subscription.custom_price or subscription.plan.price,
            "currency": subscription.plan.currency,
            "per": subscription.plan.billing_cycle, "until": None, "list": None}


@bp.route("/invoices")
@customer_required
def invoices():
    return render_list(LAYOUT, "Invoices", own(Invoice).order_by(Invoice.issued_at.desc()),
                       [("Number", "number"), ("Issued", "issued_on"), ("Due", "due_on"),
                        ("Total", "total"),
                        ("Currency", "currency"), ("Status", "status")],
                       row_link=lambda i: url_for("customer.invoice_detail", invoice_id=i.id),
                       empty="No invoices yet.")


@bp.route("/invoices/<int:invoice_id>")
@customer_required
def invoice_detail(invoice_id):
    invoice = get_own_or_404(Invoice, invoice_id, customer_id=current_user.customer_id)
    return invoice_page(invoice)


def invoice_page(invoice, values=None, errors=None, status=200):
    """The invoice document, its payments and, while it is open, the form to pay it."""
    from app.portals.customer.invoices import pay_context
    from app.portals.invoice_view import invoice_context
    return render_template("customer/invoice_detail.html", **invoice_context(invoice),
                           **pay_context(invoice), values=values or {},
                           errors=errors or {}), status


@bp.route("/quotes")
@customer_required
def quotes():
    return render_list(LAYOUT, "Quotes", own(Quote).order_by(Quote.id.desc()),
                       [("Number", "number"), ("Kind", "kind"), ("Total", "total"),
                        ("Valid until", "valid_until"), ("Status", "status")],
                       row_link=lambda q: url_for("customer.quote_detail", quote_id=q.id),
                       empty="No quotes yet.")


@bp.route("/quotes/<int:quote_id>")
@customer_required
def quote_detail(quote_id):
    quote = get_own_or_404(Quote, quote_id, customer_id=current_user.customer_id)
    if quote.status == "sent":  # the customer has seen it
        quote.status = "viewed"
        db.session.commit()
    return render_template("customer/quote_detail.html", quote=quote)


@bp.route("/licenses")
@customer_required
def licenses():
    return render_list(LAYOUT, "Licenses",
                       own(License).options(selectinload(License.template))
                       .order_by(License.id.desc()),
                       [("Key", "license_key"), ("Product", "template.product"),
                        ("Expires", "expires_at"), ("Status", "status")],
                       empty="No licenses yet.")


@bp.route("/tickets")
@customer_required
def tickets():
    from markupsafe import Markup
    new = Markup(f'<a role="button" href="{url_for("customer.new_ticket")}">Open a ticket</a>')
    return render_list(LAYOUT, "Tickets", own(Ticket).order_by(Ticket.id.desc()),
                       [("Number", "number"), ("Title", "title"), ("Category", "type"),
                        ("Status", "status")],
                       row_link=lambda t: url_for("customer.ticket_detail", ticket_id=t.id),
                       empty="No tickets. Good news.", actions=new)
