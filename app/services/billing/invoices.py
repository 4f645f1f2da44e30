"""Invoices as finance and the customer see them: tax and payment terms, the open balance,
credit notes, and the customer paying an open invoice in the portal.

Charging goes through `charge_invoice` (payments.py), the one charging core: paid means
captured. The key of a portal payment is derived from the invoice and the number of earlier
declined attempts, so a double click (or two tabs) charges once and a new attempt after a
decline is a new charge."""
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.errors import DomainError, NotFound, ValidationError
from app.models import CreditNote, Invoice, Payment, next_number

CENT = Decimal("0.01")


class InvoicesMixin:

    def tax_rate(self):
        """INVOICE_TAX_RATE as a percentage (Decimal); a bad setting is a clear error."""
        try:
            rate = Decimal(str(current_app.config.get("INVOICE_TAX_RATE") or "0"))
        except InvalidOperation:
            raise DomainError("INVOICE_TAX_RATE must be a number (a percentage).")
        return rate

    def apply_tax_and_terms(self, invoice):
        """Tax on the lines' subtotal (prices are before tax) and the due date from
        INVOICE_DUE_DAYS. Called when an invoice is made."""
        from datetime import timedelta
        rate = self.tax_rate()
        invoice.tax = (Decimal(invoice.subtotal) * rate / 100).quantize(CENT, ROUND_HALF_UP)
        invoice.total = Decimal(invoice.subtotal) + invoice.tax
        if invoice.due_at is None:
            invoice.due_at = invoice.issued_at + timedelta(
                days=current_app.config["INVOICE_DUE_DAYS"])

    def tax_lines(self, invoice):
        """[(label, amount)] for the invoice's tax (empty when there is none)."""
        if not invoice.tax:
            return []
        subtotal = Decimal(invoice.subtotal)
        rate = (Decimal(invoice.tax) * 100 / subtotal).quantize(Decimal("0.1")) \
            if subtotal else Decimal("0")
        name = current_app.config.get("INVOICE_TAX_NAME") or "Tax"
        return [(f"{name} {rate.normalize():f}%", invoice.tax)]

    def service_period(self, invoice):
        """(start, end) the invoice bills: its own, else its subscription's period."""
        if invoice.period_start and invoice.period_end:
            return invoice.period_start, invoice.period_end
        subscription = getattr(invoice, "subscription", None)
        if invoice.subscription_id and subscription is None:
            from app.models import Subscription
            subscription = self.session.get(Subscription, invoice.subscription_id)
        if subscription is not None:
            return subscription.current_period_start, subscription.current_period_end
        return None

    def credited(self, invoice_id):
        return self.session.execute(select(func.coalesce(func.sum(CreditNote.amount), 0))
                                    .where(CreditNote.invoice_id == invoice_id)).scalar()

    def balance_due(self, invoice):
        if invoice.status != "open":
            return Decimal("0.00")
        return Decimal(invoice.total) - Decimal(self.credited(invoice.id))

    def issue_credit_note(self, invoice_id, amount, reason, by=None):
        """A credit note. On an open invoice it credits the whole amount and the invoice is
        void (nothing is owed; a run dunning it ends); on a paid one, up to what was paid
        less earlier credits, as a credit on the customer's account."""
        invoice = self.lock_row(Invoice, id=invoice_id)
        if invoice is None:
            raise NotFound("That invoice does not exist.")
        errors = {}
        try:
            value = Decimal(str(amount).strip()).quantize(CENT, ROUND_HALF_UP)
            if not value.is_finite() or value <= 0:
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            value = None
            errors["amount"] = "Enter an amount above 0, like 12.50."
        text = " ".join(str(reason or "").split())
        if not text or len(text) > 300:
            errors["reason"] = "Say why (up to 300 characters)."
        if errors:
            self.session.rollback()
            raise ValidationError("Check the credit note.", details=errors)
        if invoice.status == "void":
            self.session.rollback()
            raise DomainError(f"Invoice {invoice.number} is void: there is nothing to credit.")
        left = Decimal(invoice.total) - Decimal(self.credited(invoice.id))
        if invoice.status == "open" and value != left:
            self.session.rollback()
            raise ValidationError(
                f"An open invoice is credited in full ({left} {invoice.currency}); to bill "
                "less, credit it and issue a new one.", details={"amount": f"Enter {left}."})
        if value > left:
            self.session.rollback()
            raise ValidationError(f"At most {left} {invoice.currency} can still be credited.",
                                  details={"amount": f"At most {left}."})
        note = CreditNote(number=next_number("CN"), invoice_id=invoice.id,
                          customer_id=invoice.customer_id, amount=value,
                          currency=invoice.currency, reason=text,
                          issued_by_id=getattr(by, "id", None))
        self.session.add(note)
        if invoice.status == "open":
            invoice.status = "void"
        self.session.commit()
        return note

    def pay_open_invoice(self, customer_id, invoice_id, payment_method):
        """The customer pays an open invoice of theirs with a saved card ("pm:<id>")."""
        invoice = self.session.get(Invoice, invoice_id)
        if invoice is None or invoice.customer_id != customer_id:
            raise NotFound("That invoice does not exist.")
        if invoice.status != "open":
            raise DomainError(f"Invoice {invoice.number} is {invoice.status}: there is "
                              "nothing to pay.")
        if self.credited(invoice.id):
            raise DomainError("This invoice has a credit note; contact us to settle it.")
        declined = self.session.execute(select(func.count(Payment.id)).where(
            Payment.invoice_id == invoice.id, Payment.status == "failed")).scalar()
        key = f"invoice{invoice.id}:portal:{declined}"
        try:
            return self.charge_invoice(invoice, payment_method, key)
        except IntegrityError:  # the same click, twice, at the same moment
            self.session.rollback()
            raise DomainError("This invoice's payment is already being processed.")
