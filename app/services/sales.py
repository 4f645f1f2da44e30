"""Orders from accepted quotes (W2 step 2). One order per quote, ever (unique quote_id)."""
from sqlalchemy import select

from app.errors import DomainError, NotFound, ValidationError
from app.models import Invoice, Order, OrderItem, Quote, next_number
from app.services.base import Service


class SalesService(Service):
    name = "sales"

    def create_order_from_quote(self, quote_id, payment_type, *, idempotency_key=None):
        def produce():
            if payment_type not in ("prepaid", "postpaid"):
                raise ValidationError("Payment type is prepaid or postpaid.")
            quote = self.session.get(Quote, quote_id)
            if quote is None:
                raise NotFound(f"Quote {quote_id} does not exist.")
            if quote.status != "accepted":
                raise DomainError(f"Quote {quote.number} has not been accepted.")
            order = self.session.execute(select(Order).filter_by(quote_id=quote.id)
                                         ).scalar_one_or_none()
            if order is not None and order.status != "cancelled":
                raise DomainError(f"Quote {quote.number} already became order "
                                  f"{order.number}.")
            if quote.customer_id is None:  # a lead's quote: the lead becomes a customer here
                from app.workflows.registry import get_service
                customer = get_service("customer", self.session).convert_lead(
                    quote.lead_id, require_qualified=False)
                quote.customer_id = customer.id
            if order is None:
                order = Order(number=next_number("O"), quote_id=quote.id)
                self.session.add(order)
            # One order per quote, ever: a quote accepted again after its order was undone
            # (a declined card) brings that order back.
            order.customer_id, order.status = quote.customer_id, "submitted"
            order.monthly_recurring, order.one_time_total = quote.monthly_recurring, \
                quote.one_time_total
            order.total, order.currency, order.payment_type = quote.total, quote.currency, \
                payment_type
            order.items = [OrderItem(plan_id=line.plan_id, description=line.description,
                                     quantity=line.quantity, unit_price=line.unit_price,
                                     recurring=line.recurring, amount=line.amount)
                           for line in quote.lines]
            self.session.flush()
            return {"order_id": order.id, "number": order.number,
                    "customer_id": order.customer_id,
                    "customer_email": order.customer.email, "total": str(order.total)}
        return self.once(idempotency_key, "sales.create_order_from_quote", produce)

    def cancel_order(self, order_id, *, idempotency_key=None):
        """Undo an order that cannot go ahead: it is cancelled and its unpaid invoices void.
        A paid one is refunded by its own compensation first."""
        def produce():
            order = self.lock_row(Order, id=order_id)
            if order is None:
                raise NotFound(f"Order {order_id} does not exist.")
            order.status = "cancelled"
            for invoice in self.session.execute(select(Invoice).where(
                    Invoice.order_id == order.id, Invoice.status == "open")).scalars():
                invoice.status = "void"
            return {"order_id": order.id, "status": order.status}
        return self.once(idempotency_key, "sales.cancel_order", produce)
