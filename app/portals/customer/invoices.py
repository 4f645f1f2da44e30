"""The customer pays an open invoice of theirs (a saved card or a new sandbox card). Paid
means captured; the runs waiting for the money (an order, a dunning run that may have
suspended the service) are told at once."""
from flask import flash, url_for
from flask_login import current_user

from app.errors import DomainError
from app.extensions import db
from app.models import Invoice
from app.portals import payment_signals
from app.portals.access import customer_required, get_own_or_404
from app.portals.customer import bp
from app.portals.customer.quotes import card_from_form, own_cards
from app.portals.wizards import error_details, go, values
from app.workflows.registry import get_service


@bp.route("/invoices/<int:invoice_id>/pay", methods=["POST"])
@customer_required
def pay_invoice(invoice_id):
    invoice = get_own_or_404(Invoice, invoice_id, customer_id=current_user.customer_id)
    if invoice.status != "open":
        flash(f"Invoice {invoice.number} is {invoice.status}: there is nothing to pay.")
        return go(url_for("customer.invoice_detail", invoice_id=invoice.id))
    vals = values("payment_method", "card_number", "exp_month", "exp_year", "cvc")
    errors = {}
    method = card_from_form(vals, errors)
    if not errors:
        try:
            get_service("billing").pay_open_invoice(current_user.customer_id, invoice.id,
                                                    method)
        except DomainError as error:
            db.session.rollback()
            errors = error_details(error)
    if errors:
        from app.portals.customer.routes import invoice_page
        vals.pop("card_number", None)
        vals.pop("cvc", None)
        return invoice_page(invoice, values=vals, errors=errors, status=422)
    payment_signals.invoice_paid(invoice.id, by=current_user)
    flash(f"Thank you: invoice {invoice.number} is paid.")
    return go(url_for("customer.invoice_detail", invoice_id=invoice.id))


def pay_context(invoice):
    return {"cards": own_cards()} if invoice.status == "open" else {}
