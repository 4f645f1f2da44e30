"""Invoices and payments (W2's prepaid step, W4's renewal payment).

`charge_invoice(invoice, payment_method, idempotency_key)` is the one charging core: it
records a Payment under the key (unique), charges through the configured gateway, and
settles the invoice on success. A decline is recorded as a failed Payment and raised as a
DomainError carrying the gateway's reason."""
from decimal import Decimal

from flask import current_app
from sqlalchemy import select

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
        invoice = self.session.execute(select(Invoice).filter_by(order_id=order.id)
                                       ).scalar_one_or_none()
        if invoice is None:
            invoice = self.new_invoice(order.customer_id, order.currency, order_id=order.id,
                                       quote_id=order.quote_id, lines=[
                                           (item.description, item.quantity, item.unit_price)
                                           for item in order.items])
            self.session.commit()
        payment = self.charge_invoice(invoice, payment_method, idempotency_key)
        return {"payment_id": payment.id, "status": payment.status,
                "gateway_reference": payment.gateway_reference}

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
        self.session.add(invoice)
        self.session.flush()
        return invoice

    def charge_invoice(self, invoice, payment_method, idempotency_key):
        """Charge `invoice` once per key. payment_method: "manual", "pm:<id>" or a
        PaymentMethod id (int) of the invoice's customer."""
        key = idempotency_key or f"invoice{invoice.id}:{utcnow().timestamp()}"
        done = self.session.execute(select(Payment).filter_by(idempotency_key=key)
                                    ).scalar_one_or_none()
        if done is not None:
            if done.status == "failed":
                raise DomainError(done.failure_reason or "The payment was declined.")
            if done.status in ("succeeded", "pending"):
                return done
        method = self._payment_method(invoice.customer_id, payment_method)
        gateway_name = "manual" if method is None else method.gateway
        payment = done or Payment(customer_id=invoice.customer_id, invoice_id=invoice.id,
                                  order_id=invoice.order_id, amount=invoice.total,
                                  currency=invoice.currency, gateway=gateway_name,
                                  status="pending", idempotency_key=key)
        self.session.add(payment)
        self.session.commit()  # the attempt is on record before money moves
        config = current_app.config
        if method is None:
            return payment  # manual: the invoice stays open, paid later by transfer
        try:
            reference = get_gateway(gateway_name).charge(
                config, method.gateway_token, invoice.total, invoice.currency, key,
                f"Invoice {invoice.number}")
        except DomainError as error:
            payment.status, payment.failure_reason = "failed", error.message[:300]
            self.session.commit()
            raise
        payment.status, payment.gateway_reference = "succeeded", reference
        invoice.status, invoice.paid_at = "paid", utcnow()
        self.session.commit()
        return payment

    def _payment_method(self, customer_id, payment_method):
        if payment_method in (None, "", "manual"):
            return None
        text = str(payment_method)
        method_id = text[3:] if text.startswith("pm:") else text
        method = self.session.get(PaymentMethod, int(method_id)) if method_id.isdigit() else None
        if method is None or method.customer_id != customer_id:
            raise ValidationError("Choose one of the customer's saved cards, or manual payment.",
                                  details={"payment_method": "Not a card of this customer."})
        return method

    def save_payment_method(self, customer_id, card_number, exp_month, exp_year, cvc):
        """Tokenize a card through the gateway and keep only the token, brand and last 4."""
        config = current_app.config
        errors = {}
        try:
            exp_month, exp_year = int(exp_month), int(exp_year)
            if not 1 <= exp_month <= 12:
                errors["exp_month"] = "A month from 1 to 12."
            if exp_year < 100:
                exp_year += 2000
            today = utcnow().date()
            if (exp_year, exp_month) < (today.year, today.month):
                errors["exp_year"] = "This card has expired."
        except (TypeError, ValueError):
            errors["exp_month"] = "Enter the expiry month and year as numbers."
        if errors:
            raise ValidationError("Check the card's expiry date.", details=errors)
        gateway = config["PAYMENT_GATEWAY"] if config["PAYMENT_GATEWAY"] != "manual" \
            else "sandbox"
        card = get_gateway(gateway).tokenize(config, card_number, exp_month, exp_year, cvc)
        method = PaymentMethod(customer_id=customer_id, gateway=gateway,
                               gateway_token=card["token"], brand=card["brand"],
                               last4=card["last4"], exp_month=exp_month, exp_year=exp_year)
        self.session.add(method)
        self.session.commit()
        return method

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
