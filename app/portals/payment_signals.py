"""When money arrives for an invoice, the run waiting for it goes on. Services never import
the engine (ARCHITECTURE, dependency direction): the portal route that recorded the payment
delivers the signal, through this one function."""
from app.extensions import db
from app.models import Invoice, Order
from app.workflows import dunning_signals
from app.workflows.engine import existing_run, signal_run


def invoice_paid(invoice_id, by=None):
    """Tell every run waiting for this invoice's money: the order (W2) and its dunning (W6)."""
    order_resumed = _order_paid(invoice_id, by)
    dunning_ended = dunning_signals.invoice_paid(invoice_id, by=by)
    return order_resumed or dunning_ended


def _order_paid(invoice_id, by):
    """Resume the order run (W2) waiting for this invoice's payment; True if one was."""
    invoice = db.session.get(Invoice, invoice_id)
    order = db.session.get(Order, invoice.order_id) if invoice and invoice.order_id else None
    if invoice is None or invoice.status != "paid" or order is None:
        return False
    run = existing_run("quote_accepted_to_order", {"quote_id": order.quote_id})
    if run is None or run.status != "waiting":
        return False
    return signal_run(run.id, "payment_received", {"invoice_id": invoice.id}, by=by)
