"""Orders from accepted quotes (W2 step 2). One order per quote, ever (unique quote_id)."""
from sqlalchemy import select

from app.errors import DomainError, NotFound, ValidationError
from app.models import Order, OrderItem, Quote
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
            existing = self.session.execute(select(Order).filter_by(quote_id=quote.id)
                                            ).scalar_one_or_none()
            if existing is not None:
                raise DomainError(f"Quote {quote.number} already became order "
                                  f"{existing.number}.")
            if quote.customer_id is None:  # a lead's quote: the lead becomes a customer here
                from app.workflows.registry import get_service
                customer = get_service("customer", self.session).convert_lead(
                    quote.lead_id, require_qualified=False)
                quote.customer_id = customer.id
            from app.models import next_number
            order = Order(number=next_number("O"), quote_id=quote.id,
                          customer_id=quote.customer_id, status="submitted",
                          monthly_recurring=quote.monthly_recurring,
                          one_time_total=quote.one_time_total, total=quote.total,
                          currency=quote.currency, payment_type=payment_type)
            order.items = [OrderItem(plan_id=line.plan_id, description=line.description,
                                     quantity=line.quantity, unit_price=line.unit_price,
                                     recurring=line.recurring, amount=line.amount)
                           for line in quote.lines]
            self.session.add(order)
            self.session.flush()
            return {"order_id": order.id, "number": order.number,
                    "customer_id": order.customer_id,
                    "customer_email": order.customer.email, "total": str(order.total)}
        return self.once(idempotency_key, "sales.create_order_from_quote", produce)
