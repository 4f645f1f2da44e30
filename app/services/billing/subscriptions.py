"""Subscriptions: created by W1 (software) and W5 (internet), cancelled as compensation.
Periods are calendar arithmetic: a month from 31 January ends 28/29 February."""
from datetime import timedelta

from dateutil.relativedelta import relativedelta

from app.errors import NotFound
from app.models import Customer, Plan, Subscription, utcnow

CYCLE_MONTHS = {"monthly": 1, "quarterly": 3, "annual": 12}


def add_months(day, months):
    return day + relativedelta(months=months)


class SubscriptionsMixin:

    def create_subscription(self, customer_id, plan_id, *, idempotency_key=None):
        def produce():
            subscription = self.start_subscription(customer_id, plan_id, idempotency_key)
            return {"subscription_id": subscription.id, "status": subscription.status,
                    "current_period_end": subscription.current_period_end.isoformat()}
        return self.once(idempotency_key, "billing.create_subscription", produce)

    def start_subscription(self, customer_id, plan_id, created_by_key=None):
        customer = self.session.get(Customer, customer_id)
        plan = self.session.get(Plan, plan_id)
        if customer is None:
            raise NotFound(f"Customer {customer_id} does not exist.")
        if plan is None or not plan.is_active:
            raise NotFound(f"Plan {plan_id} does not exist or is no longer sold.")
        today = utcnow().date()
        if plan.trial_days:
            status, end = "trialing", today + timedelta(days=plan.trial_days)
        else:
            status, end = "active", add_months(today, CYCLE_MONTHS[plan.billing_cycle])
        subscription = Subscription(customer_id=customer.id, plan_id=plan.id, status=status,
                                    current_period_start=today, current_period_end=end,
                                    billing_started_at=utcnow() if status == "active" else None,
                                    created_by_key=created_by_key)
        self.session.add(subscription)
        self.session.flush()
        return subscription

    def cancel_subscription(self, subscription_id, *, idempotency_key=None):
        def produce():
            subscription = self.session.get(Subscription, subscription_id)
            if subscription is None:
                raise NotFound(f"Subscription {subscription_id} does not exist.")
            if subscription.status != "canceled":
                subscription.status, subscription.canceled_at = "canceled", utcnow()
            return {"subscription_id": subscription.id, "status": subscription.status}
        return self.once(idempotency_key, "billing.cancel_subscription", produce)
