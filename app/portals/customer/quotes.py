"""W2 from the customer's side: accept a quote and pay (or choose an invoice)."""
from flask import request, url_for
from flask_login import current_user

from app.errors import DomainError
from app.models import Quote
from app.portals.access import customer_required, get_own_or_404
from app.portals.customer import bp
from app.portals.staff.orders import acceptance_inputs
from app.portals.wizards import (already_started, error_details, form_page, go,
                                 submission_token, values)
from app.workflows.engine import start_run
from app.workflows.registry import get_service


def own_cards():
    """The customer's cards that may be offered (a declined one is not, until typed again)."""
    return get_service("billing").usable_cards(current_user.customer_id)


def card_from_form(vals, errors):
    """A saved card ("pm:<id>") or a new card saved now; None if the card is refused. A card
    number typed in is the card to use, whichever radio button was left selected."""
    choice = "new" if vals.get("card_number") else (vals.get("payment_method") or "")
    if choice != "new":
        if choice not in {f"pm:{card.id}" for card in own_cards()}:
            errors["payment_method"] = "Choose one of your cards, or enter a new one."
            return None
        return choice
    try:
        method = get_service("billing").save_payment_method(
            current_user.customer_id, vals["card_number"], vals["exp_month"],
            vals["exp_year"], vals["cvc"])
        return f"pm:{method.id}"
    except DomainError as error:
        errors.update(error_details(error))
        return None


@bp.route("/quotes/<int:quote_id>/accept", methods=["GET", "POST"])
@customer_required
def accept_quote(quote_id):
    quote = get_own_or_404(Quote, quote_id, customer_id=current_user.customer_id)
    if quote.kind == "renewal":  # renewals are accepted inside their own run
        return go(url_for("customer.renewal_quote", quote_id=quote.id))
    cards = own_cards()
    page = dict(quote=quote, cards=cards)
    if request.method == "GET":
        return form_page("customer/quotes/accept.html", **page,
                         values={"payment_method": f"pm:{cards[0].id}" if cards else "new"})
    started = already_started("quote_accepted_to_order", {"quote_id": quote.id})
    if started is not None and started.customer_id == current_user.customer_id:
        return go(url_for("customer.run_progress", run_id=started.id))
    vals = values("payment_method", "card_number", "exp_month", "exp_year", "cvc")
    errors = {}
    method = card_from_form(vals, errors)
    if not errors:
        inputs, errors = acceptance_inputs(quote, {"payment_type": "prepaid",
                                                   "payment_method": method},
                                           own_cards(), current_user.email)
    if not errors:
        run = start_run("quote_accepted_to_order", inputs, started_by=current_user,
                        started_from="customer", customer_id=current_user.customer_id,
                        submission_token=submission_token())
        return go(url_for("customer.run_progress", run_id=run.id))
    vals.pop("card_number", None)
    vals.pop("cvc", None)  # never echo card data back
    return form_page("customer/quotes/accept.html", 422, **page, values=vals, errors=errors)
