"""Renewal quotes (W4): price = the monthly price × term, less the plan's term discount."""
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from app.errors import NotFound, ValidationError
from app.models import Quote, QuoteLine, Subscription, next_number, utcnow

RENEWAL_TERMS = (1, 3, 12, 24)
QUOTE_VALID_DAYS = 14
CYCLE_MONTHS = {"monthly": 1, "quarterly": 3, "annual": 12}
CENT = Decimal("0.01")


def renewal_price(subscription, term):
    """(monthly price, gross, discount percent, discount amount, total) for `term` months."""
    plan = subscription.plan
    cycle_price = Decimal(subscription.custom_price or plan.price)
    cycle_months = CYCLE_MONTHS[plan.billing_cycle]
    monthly = (cycle_price / cycle_months).quantize(CENT, ROUND_HALF_UP)
    # Rounded once at the end: a year of an annual plan costs exactly its annual price.
    gross = (cycle_price * term / cycle_months).quantize(CENT, ROUND_HALF_UP)
    percent = Decimal(str((plan.term_discounts or {}).get(str(term), 0)))
    discount = (gross * percent / 100).quantize(CENT, ROUND_HALF_UP)
    return monthly, gross, percent, discount, gross - discount


class RenewalQuotesMixin:

    def create_renewal_quote(self, customer_id, subscription_id, renewal_term,
                             workflow_run_id=None, *, idempotency_key=None):
        def produce():
            if renewal_term not in RENEWAL_TERMS:
                raise ValidationError(f"A renewal is for {', '.join(map(str, RENEWAL_TERMS))} "
                                      "months.", details={"renewal_term": "Choose a term."})
            subscription = self.session.get(Subscription, subscription_id)
            if subscription is None or subscription.customer_id != customer_id:
                raise NotFound("That subscription does not exist for this customer.")
            monthly, gross, percent, discount, total = renewal_price(subscription, renewal_term)
            plan = subscription.plan
            quote = Quote(number=next_number("Q"), customer_id=customer_id, status="sent",
                          kind="renewal", renews_subscription_id=subscription.id,
                          plan_id=plan.id, monthly_recurring=monthly, one_time_total=0,
                          total=total, currency=plan.currency, term_months=renewal_term,
                          valid_until=utcnow() + timedelta(days=QUOTE_VALID_DAYS),
                          sent_at=utcnow(), workflow_run_id=workflow_run_id,
                          created_by_key=idempotency_key)
            quote.lines = [QuoteLine(kind="plan", plan_id=plan.id, quantity=1,
                                     description=f"{plan.name}, {renewal_term} months",
                                     unit_price=gross, recurring=True, amount=gross)]
            if discount:
                quote.lines.append(QuoteLine(kind="discount", quantity=1,
                                             description=f"{percent}% off a {renewal_term}-"
                                                         "month term",
                                             unit_price=-discount, amount=-discount))
            self.session.add(quote)
            self.session.flush()
            return {"quote_id": quote.id, "number": quote.number, "amount": str(total),
                    "valid_until": quote.valid_until.isoformat(),
                    "customer_email": subscription.customer.email}
        return self.once(idempotency_key, "crm.create_renewal_quote", produce)

    def expire_quote(self, quote_id, *, idempotency_key=None):
        return self._close_quote(quote_id, "expired", idempotency_key)

    def decline_quote(self, quote_id, *, idempotency_key=None):
        return self._close_quote(quote_id, "rejected", idempotency_key)

    def withdraw_quote(self, quote_id, *, idempotency_key=None):
        """The run that offered the quote was cancelled or failed: it is no longer on offer."""
        return self._close_quote(quote_id, "withdrawn", idempotency_key)

    def _close_quote(self, quote_id, status, idempotency_key):
        def produce():
            quote = self.session.get(Quote, quote_id)
            if quote is None:
                raise NotFound(f"Quote {quote_id} does not exist.")
            if quote.status in ("sent", "viewed"):
                quote.status = status
            return {"quote_id": quote.id, "status": quote.status}
        return self.once(idempotency_key, f"crm.{status}_quote", produce)
