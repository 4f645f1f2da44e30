"""W4 in the customer portal: renew a subscription, accept and pay (or decline) the renewal
quote while the run waits, switch auto-renew."""
from flask import abort, flash, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.extensions import db
from app.models import Quote, Subscription, WorkflowRun
from app.portals.access import customer_required, get_own_or_404
from app.portals.customer import bp
from app.portals.customer.quotes import card_from_form, own_cards
from app.portals.wizards import already_started, form_page, go, submission_token, values
from app.services.crm.quotes import acceptance_problem
from app.services.crm.renewal_quotes import RENEWAL_TERMS, renewal_price
from app.workflows.engine import signal_run, start_run
from app.workflows.registry import get_service


def _own_subscription(subscription_id):
    return get_own_or_404(Subscription, subscription_id, customer_id=current_user.customer_id)


@bp.route("/subscriptions/<int:subscription_id>/renew", methods=["GET", "POST"])
@customer_required
def renew(subscription_id):
    subscription = _own_subscription(subscription_id)
    eligible, reasons, days = get_service("billing").renewal_status(
        subscription, current_user.customer_id)
    terms = [(term, *renewal_price(subscription, term)) for term in RENEWAL_TERMS]
    # This form posted twice, or a renewal already under way (then the page is not eligible):
    # a post goes there, the page links to it.
    started = None
    if request.method == "POST" or not eligible:
        started = already_started("customer_renewal_process",
                                  {"subscription_id": subscription.id})
        if started is not None and started.customer_id != current_user.customer_id:
            started = None
    if request.method == "POST" and started is not None:
        return go(url_for("customer.run_progress", run_id=started.id))
    page = dict(subscription=subscription, eligible=eligible, reasons=reasons, days=days,
                terms=terms, in_progress=started)
    if request.method == "GET" or not eligible:
        return form_page("customer/renewals/renew.html", 200 if eligible else 409, **page,
                         values={"renewal_term": "12"})
    vals = values("renewal_term")
    if vals["renewal_term"] not in {str(t) for t in RENEWAL_TERMS}:
        return form_page("customer/renewals/renew.html", 422, **page, values=vals,
                         errors={"renewal_term": "Choose how long to renew for."})
    run = start_run("customer_renewal_process", {
        "customer_id": current_user.customer_id, "subscription_id": subscription.id,
        "renewal_term": int(vals["renewal_term"])}, started_by=current_user,
        started_from="customer", customer_id=current_user.customer_id,
        submission_token=submission_token())
    return go(url_for("customer.run_progress", run_id=run.id))


@bp.route("/renewals/quote/<int:quote_id>")
@customer_required
def renewal_quote(quote_id):
    """The link in the renewal email: the quote's live renewal page."""
    quote = get_own_or_404(Quote, quote_id, customer_id=current_user.customer_id)
    if not quote.workflow_run_id:
        abort(404)
    return go(url_for("customer.run_progress", run_id=quote.workflow_run_id))


def _waiting_renewal(run_id):
    run = get_own_or_404(WorkflowRun, run_id, customer_id=current_user.customer_id)
    quote = db.session.execute(select(Quote).filter_by(workflow_run_id=run.id)
                               ).scalar_one_or_none()
    if run.workflow != "customer_renewal_process" or quote is None:
        abort(404)
    return run, quote


@bp.route("/renewals/<int:run_id>/accept", methods=["POST"])
@customer_required
def accept_renewal(run_id):
    run, quote = _waiting_renewal(run_id)
    problem = acceptance_problem(quote)
    if problem or run.status != "waiting":
        flash(problem or "This renewal is not waiting for you any more.", "error")
        return go(url_for("customer.run_progress", run_id=run.id))
    vals = values("payment_method", "card_number", "exp_month", "exp_year", "cvc")
    errors = {}
    method = card_from_form(vals, errors)
    if errors:
        vals.pop("card_number", None)
        vals.pop("cvc", None)
        return form_page("customer/renewals/_accept_form.html", 422, run=run, quote=quote,
                         cards=own_cards(), values=vals, errors=errors)
    card_id = int(method[3:])
    if not signal_run(run.id, "quote_accepted", {"payment_method_id": card_id}):
        flash("This renewal was already accepted or has expired.", "error")
    return go(url_for("customer.run_progress", run_id=run.id))


@bp.route("/renewals/<int:run_id>/decline", methods=["POST"])
@customer_required
def decline_renewal(run_id):
    run, _ = _waiting_renewal(run_id)
    if not signal_run(run.id, "quote_declined", {}):
        flash("This renewal is not waiting for an answer any more.", "error")
    return go(url_for("customer.run_progress", run_id=run.id))


@bp.route("/subscriptions/<int:subscription_id>/auto-renew", methods=["POST"])
@customer_required
def toggle_auto_renew(subscription_id):
    subscription = _own_subscription(subscription_id)
    subscription.auto_renew = request.form.get("auto_renew") == "on"
    db.session.commit()
    if request.headers.get("HX-Request"):
        return render_template("customer/renewals/_auto_renew.html", subscription=subscription)
    return go(url_for("customer.subscription_detail", subscription_id=subscription.id))


def renewal_context(run):
    """For the live progress fragment: the quote and the customer's cards while waiting."""
    quote = db.session.execute(select(Quote).filter_by(workflow_run_id=run.id)
                               ).scalar_one_or_none()
    subscription = db.session.get(Subscription, run.inputs.get("subscription_id"))
    return {"quote": quote, "subscription": subscription, "cards": own_cards(),
            "values": {}, "errors": {}}
