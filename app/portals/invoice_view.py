"""What an invoice's page shows, the same for finance and for the customer."""
from sqlalchemy import select

from app.extensions import db
from app.models import CreditNote, DunningCase, utcnow
from app.workflows.registry import get_service


def invoice_context(invoice):
    """What an invoice's page shows (staff and customer share the document)."""
    billing = get_service("billing")
    notes = db.session.execute(select(CreditNote).filter_by(invoice_id=invoice.id)
                               .order_by(CreditNote.id)).scalars().all()
    case = db.session.execute(select(DunningCase).filter_by(invoice_id=invoice.id)
                              ).scalar_one_or_none()
    return dict(invoice=invoice, credit_notes=notes, tax_lines=billing.tax_lines(invoice),
                period=billing.service_period(invoice), balance=billing.balance_due(invoice),
                dunning=case, seller=_seller(),
                overdue=invoice.status == "open" and invoice.due_at is not None
                and invoice.due_at < utcnow())


def _seller():
    from flask import current_app
    config = current_app.config
    return {"name": config["SELLER_NAME"], "address": config["SELLER_ADDRESS"],
            "tax_id": config["SELLER_TAX_ID"]}
