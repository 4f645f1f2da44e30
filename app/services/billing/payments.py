"""Invoices and payments (W2's prepaid step, W4's renewal payment, bank transfers).

`charge_invoice(invoice, payment_method, idempotency_key)` is the one charging core: it
records a Payment under the key (unique), charges through the configured gateway, and
settles the invoice only on a capture. A decline is recorded as a failed Payment and raised
as a DomainError carrying the gateway's reason; an unknown outcome is asked of the gateway."""
from decimal import Decimal

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.errors import DomainError, NotFound, ValidationError
from app.integrations.payments import get_gateway
from app.models import (Invoice, InvoiceLine, Order, Payment, PaymentMethod, next_number,
                        utcnow)


class PaymentsMixin:

    def process_payment(self, order_id, amount, payment_method, *, idempotency_key=None):
        order = self.session.get(Order, order_id)
        if order is None:
            raise NotFound(f"Order {order_id} does not exist.")
        if Decimal(str(amount)) != Decimal(order.total):
            raise ValidationError(f"The amount {amount} is not the order's total {order.total}.")
        invoice = self.session.execute(select(Invoice).where(
            Invoice.order_id == order.id, Invoice.status != "void")).scalar_one_or_none()
        if invoice is None:
            invoice = self.new_invoice(order.customer_id, order.currency, order_id=order.id,
                                       quote_id=order.quote_id, lines=[
                                           (item.description, item.quantity, item.unit_price)
                                           for item in order.items])
            self.session.commit()
        payment = self.charge_invoice(invoice, payment_method, idempotency_key)
        # Paid means captured: only then is the order approved. A manual payment leaves it
        # visibly waiting for the money (the run waits for the transfer).
        order.status = "approved" if payment.status == "succeeded" else "awaiting_payment"
        self.session.commit()
        return {"payment_id": payment.id, "status": payment.status,
                "gateway_reference": payment.gateway_reference, "invoice_id": invoice.id}

    def new_invoice(self, customer_id, currency, lines, **links):
        invoice = Invoice(number=next_number("INV"), customer_id=customer_id, currency=currency,
                          issued_at=utcnow(), status="open", **links)
        total = Decimal("0")
        for description, quantity, unit_price in lines:
            amount = Decimal(unit_price) * quantity
            invoice.lines.append(InvoiceLine(description=description, quantity=quantity,
                                             unit_price=unit_price, amount=amount))
            total += amount
        invoice.subtotal = invoice.total = total
        self.apply_tax_and_terms(invoice)  # tax (INVOICE_TAX_RATE) and due date
        self.session.add(invoice)
        self.session.flush()
        return invoice

    def charge_invoice(self, invoice, payment_method, idempotency_key):
        """Charge `invoice` once per key. payment_method: "manual", "pm:<id>" or a
        PaymentMethod id (int) of the invoice's customer.

        Paid means captured: the payment is `succeeded` only when the gateway said it took
        the money. An attempt whose outcome is unknown (a timeout, a lost reply, a worker
        killed mid-charge) stays `pending` and raises TransientError; the next attempt first
        asks the gateway what became of it (by the same key) and never charges twice. A
        decline is `failed` and a DomainError; trying again is a new attempt with a new key.
        manual: the payment stays `pending` and the invoice open until the money arrives."""
        key = idempotency_key or f"invoice{invoice.id}:{utcnow().timestamp()}"
        payment = self.session.execute(select(Payment).filter_by(idempotency_key=key)
                                       ).scalar_one_or_none()
        if payment is not None and payment.status == "failed":
            raise DomainError(payment.failure_reason or "The payment was declined.")
        if payment is not None and payment.status in ("succeeded", "refunded"):
            return payment
        method = self._payment_method(invoice.customer_id, payment_method)
        if payment is None:
            payment = Payment(customer_id=invoice.customer_id, invoice_id=invoice.id,
                              order_id=invoice.order_id, amount=invoice.total,
                              currency=invoice.currency,
                              gateway="manual" if method is None else method.gateway,
                              status="pending", idempotency_key=key)
            self.session.add(payment)
            self.session.commit()  # the attempt is on record before money moves
            outcome = None
        elif payment.gateway != "manual":
            # An earlier attempt never heard back: ask the gateway before charging again.
            outcome = get_gateway(payment.gateway).lookup(current_app.config, key)
        if method is None:
            return payment  # manual: the invoice stays open, paid later by transfer
        if outcome is None:
            try:
                reference = get_gateway(payment.gateway).charge(
                    current_app.config, method.gateway_token, invoice.total, invoice.currency,
                    key, f"Invoice {invoice.number}")
            except DomainError as error:
                outcome = {"status": "failed", "reason": error.message}
            else:
                outcome = {"status": "succeeded", "reference": reference}
        if outcome["status"] != "succeeded":
            payment.status = "failed"
            payment.failure_reason = (outcome.get("reason") or "The payment was declined.")[:300]
            method.declined_at = utcnow()  # not offered again until typed in anew
            self.session.commit()
            raise DomainError(payment.failure_reason, code="card_declined")
        self._settle(invoice, payment, outcome["reference"])
        self.session.commit()
        return payment

    def _settle(self, invoice, payment, reference):
        payment.status, payment.gateway_reference = "succeeded", reference
        invoice.status, invoice.paid_at = "paid", utcnow()

    def record_bank_transfer(self, invoice_id, reference, *, idempotency_key=None):
        """Finance saw the money arrive for an open invoice: its pending manual payment (or
        a new one) is succeeded and the invoice paid. Returns the order whose run waits."""
        def produce():
            invoice = self.lock_row(Invoice, id=invoice_id)
            if invoice is None:
                raise NotFound(f"Invoice {invoice_id} does not exist.")
            text = " ".join(str(reference or "").split())
            if not text or len(text) > 100:
                raise ValidationError("Enter the bank's reference for the transfer.",
                                      details={"reference": "Enter the bank reference."})
            if invoice.status != "open":
                raise DomainError(f"Invoice {invoice.number} is {invoice.status}.")
            payment = next((p for p in invoice.payments
                            if p.status == "pending" and p.gateway == "manual"), None)
            if payment is None:
                payment = Payment(customer_id=invoice.customer_id, invoice_id=invoice.id,
                                  order_id=invoice.order_id, amount=invoice.total,
                                  currency=invoice.currency, gateway="manual",
                                  status="pending",
                                  idempotency_key=f"transfer:{invoice.id}:{text}")
                self.session.add(payment)
            self._settle(invoice, payment, f"transfer:{text}")
            order = self.session.get(Order, invoice.order_id) if invoice.order_id else None
            if order is not None and order.status == "awaiting_payment":
                order.status = "approved"
            self.session.flush()
            return {"invoice_id": invoice.id, "payment_id": payment.id,
                    "order_id": invoice.order_id}
        return self.once(idempotency_key, "billing.record_bank_transfer", produce)

    def check_paid_invoice(self, invoice_id, expected_invoice_id, *, idempotency_key=None):
        """A signal's check (W2's payment received): the run's own invoice, and paid."""
        invoice = self.session.get(Invoice, invoice_id) if invoice_id == expected_invoice_id \
            else None
        if invoice is None:
            raise ValidationError("That is not this order's invoice.",
                                  details={"invoice_id": "Not this order's invoice."})
        if invoice.status != "paid":
            raise ValidationError(f"Invoice {invoice.number} is {invoice.status}, not paid: "
                                  "record the payment first.",
                                  details={"invoice_id": "Not paid yet."})
        return {"invoice_id": invoice.id}

    def check_payment_method(self, customer_id, payment_method_id, *, idempotency_key=None):
        """A signal's check (W4's Accept and pay): the card is one of the customer's own and
        has not just been declined. Reads only."""
        self._payment_method(customer_id, payment_method_id, usable=True)
        return {"payment_method_id": payment_method_id}

    def _payment_method(self, customer_id, payment_method, usable=False):
        if payment_method in (None, "", "manual"):
            if usable:
                raise ValidationError("Choose a card.",
                                      details={"payment_method_id": "Choose a card."})
            return None
        text = str(payment_method)
        method_id = text[3:] if text.startswith("pm:") else text
        method = self.session.get(PaymentMethod, int(method_id)) \
            if method_id.isdigit() and len(method_id) < 10 else None
        if method is None or method.customer_id != customer_id or \
                (usable and method.declined_at is not None):
            raise ValidationError("Choose one of the customer's saved cards, or manual payment.",
                                  details={"payment_method_id": "Not a usable card of this "
                                                                "customer."})
        return method

    def usable_cards(self, customer_id):
        """The customer's saved cards that may be offered, newest first."""
        return self.session.execute(select(PaymentMethod).where(
            PaymentMethod.customer_id == customer_id, PaymentMethod.declined_at.is_(None))
            .order_by(PaymentMethod.id.desc())).scalars().all()

    def save_payment_method(self, customer_id, card_number, exp_month, exp_year, cvc):
        """Tokenize a card through the gateway and keep only the token, brand and last 4.
        The same card typed in again is the same row (by the gateway's fingerprint), offered
        again even if it was declined before."""
        config = current_app.config
        errors = {}
        if not "".join(ch for ch in str(card_number or "") if ch.isdigit()):
            errors["card_number"] = "Enter the card number."
        try:
            exp_month, exp_year = int(exp_month), int(exp_year)
            if not 1 <= exp_month <= 12:
                errors["exp_month"] = "A month from 1 to 12."
            if exp_year < 100:
                exp_year += 2000
            today = utcnow().date()
            if (exp_year, exp_month) < (today.year, today.month):
                errors["exp_year"] = "This card has expired."
            elif exp_year > today.year + 30:
                errors["exp_year"] = "Check the expiry year."
        except (TypeError, ValueError):
            errors["exp_month"] = "Enter the expiry month and year as numbers."
        if errors:
            message = "Enter the card number." if "card_number" in errors \
                else "Check the card's expiry date."
            raise ValidationError(message, details=errors)
        gateway = config["PAYMENT_GATEWAY"] if config["PAYMENT_GATEWAY"] != "manual" \
            else "sandbox"
        card = get_gateway(gateway).tokenize(config, card_number, exp_month, exp_year, cvc)
        existing = self._card_by_fingerprint(customer_id, card.get("fingerprint"))
        if existing is None:
            existing = PaymentMethod(customer_id=customer_id, gateway=gateway,
                                     gateway_token=card["token"], brand=card["brand"],
                                     last4=card["last4"], fingerprint=card.get("fingerprint"))
            self.session.add(existing)
            try:
                self.session.flush()
            except IntegrityError:  # the same card saved by a concurrent request: use it
                self.session.rollback()
                existing = self._card_by_fingerprint(customer_id, card["fingerprint"])
        existing.gateway_token = card["token"]
        existing.exp_month, existing.exp_year, existing.declined_at = exp_month, exp_year, None
        self.session.commit()
        return existing

    def _card_by_fingerprint(self, customer_id, fingerprint):
        if not fingerprint:
            return None
        return self.session.execute(select(PaymentMethod).filter_by(
            customer_id=customer_id, fingerprint=fingerprint)).scalar_one_or_none()

    def refund_payment(self, payment_id, *, idempotency_key=None):
        def produce():
            payment = self.session.get(Payment, payment_id)
            if payment is None:
                raise NotFound(f"Payment {payment_id} does not exist.")
            if payment.status == "succeeded":
                get_gateway(payment.gateway).refund(current_app.config,
                                                    payment.gateway_reference,
                                                    f"refund:{payment.idempotency_key}")
                payment.status, payment.refunded_at = "refunded", utcnow()
                if payment.invoice:
                    payment.invoice.status = "void"
            return {"payment_id": payment.id, "status": payment.status}
        return self.once(idempotency_key, "billing.refund_payment", produce)
