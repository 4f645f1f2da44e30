"""Renewals (W4): who may renew, paying the renewal quote, extending the period."""
from flask import current_app
from sqlalchemy import select

from app.errors import DomainError, NotFound
from app.models import (Invoice, Quote, Subscription, SubscriptionRenewal, WorkflowRun,
                        utcnow)
from app.services.billing.subscriptions import add_months


class RenewalsMixin:

    def renewal_status(self, subscription, customer_id=None, ignore_run_id=None):
        """(eligible, reasons, days_until_expiry), without raising: the portal shows the
        Renew button or the reasons."""
        reasons = []
        days = (subscription.current_period_end - utcnow().date()).days
        window = current_app.config["RENEWAL_WINDOW_DAYS"]
        if customer_id is not None and subscription.customer_id != customer_id:
            reasons.append("This subscription belongs to another customer.")
        if subscription.status not in ("active", "trialing", "past_due"):
            reasons.append(f"The subscription is {subscription.status}.")
        if days > window:
            reasons.append(f"Renewal opens {window} days before the period ends "
                           f"({days} days to go).")
        if self.session.execute(select(SubscriptionRenewal.id).where(
                SubscriptionRenewal.subscription_id == subscription.id,
                SubscriptionRenewal.previous_end == subscription.current_period_end)).first():
            reasons.append("This period has already been renewed.")
        open_runs = select(WorkflowRun.id).where(
            WorkflowRun.workflow == "customer_renewal_process",
            WorkflowRun.customer_id == subscription.customer_id,
            WorkflowRun.status.in_(("pending", "running", "waiting")),
            WorkflowRun.inputs["subscription_id"].as_integer() == subscription.id)
        if ignore_run_id:
            open_runs = open_runs.where(WorkflowRun.id != ignore_run_id)
        if self.session.execute(open_runs.limit(1)).first():
            reasons.append("A renewal is already in progress.")
        return not reasons, reasons, days

    def check_renewal_eligibility(self, customer_id, subscription_id, *, idempotency_key=None):
        def produce():
            subscription = self.session.get(Subscription, subscription_id)
            if subscription is None or subscription.customer_id != customer_id:
                raise DomainError("Not eligible: this subscription does not belong to this "
                                  "customer.")
            run_id = int(idempotency_key.split(":")[0][3:]) if idempotency_key and \
                idempotency_key.startswith("run") else None
            eligible, reasons, days = self.renewal_status(subscription, customer_id,
                                                          ignore_run_id=run_id)
            if not eligible:
                raise DomainError("Not eligible: " + " ".join(reasons))
            return {"eligible": True, "reasons": [], "days_until_expiry": days}
        return self.once(idempotency_key, "billing.check_renewal_eligibility", produce)

    def process_renewal_payment(self, customer_id, quote_id, payment_method_id, *,
                                idempotency_key=None):
        """Charge the renewal quote; only a successful charge accepts it. A decline leaves
        the quote acceptable and the subscription untouched."""
        quote = self.session.get(Quote, quote_id)
        if quote is None or quote.customer_id != customer_id or quote.kind != "renewal":
            raise NotFound("That renewal quote does not exist for this customer.")
        if quote.status not in ("sent", "viewed", "accepted"):
            raise DomainError(f"Quote {quote.number} is {quote.status}.")
        invoice = self.session.execute(select(Invoice).filter_by(quote_id=quote.id)
                                       ).scalars().first()
        if invoice is None:
            invoice = self.new_invoice(customer_id, quote.currency, quote_id=quote.id,
                                       subscription_id=quote.renews_subscription_id,
                                       lines=[(line.description, 1, line.amount)
                                              for line in quote.lines])
            self.session.commit()
        payment = self.charge_invoice(invoice, payment_method_id, idempotency_key)
        if quote.status != "accepted" and payment.status == "succeeded":
            quote.status, quote.accepted_at = "accepted", utcnow()
            quote.accepted_by = quote.customer.email
            self.session.commit()
        return {"payment_id": payment.id, "status": payment.status}

    def extend_subscription(self, subscription_id, renewal_term, quote_id=None, *,
                            idempotency_key=None):
        """From the current period end (not today), by calendar months; the renewal is
        recorded under its quote (unique), so it is never applied twice."""
        def produce():
            subscription = self.lock_row(Subscription, id=subscription_id)
            if subscription is None:
                raise NotFound(f"Subscription {subscription_id} does not exist.")
            if quote_id and self.session.execute(select(SubscriptionRenewal).filter_by(
                    quote_id=quote_id)).scalar_one_or_none():
                raise DomainError("This renewal has already been applied.")
            previous_end = subscription.current_period_end
            new_end = add_months(previous_end, renewal_term)
            self.session.add(SubscriptionRenewal(
                subscription_id=subscription.id, quote_id=quote_id, term_months=renewal_term,
                previous_end=previous_end, new_end=new_end, renewed_at=utcnow()))
            subscription.current_period_end = new_end
            if subscription.status in ("past_due", "trialing"):
                subscription.status = "active"
            return {"previous_end": previous_end.isoformat(), "new_end": new_end.isoformat()}
        return self.once(idempotency_key, "billing.extend_subscription", produce)
