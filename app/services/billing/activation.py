"""Going live (W5 step 7): the service is active, its internet plan starts billing."""
from sqlalchemy import select

from app.errors import NotFound
from app.models import Customer, ServiceInstance, Subscription, utcnow


class ActivationMixin:

    def activate_service(self, customer_id, service_id, *, idempotency_key=None):
        def produce():
            service = self.session.get(ServiceInstance, service_id)
            customer = self.session.get(Customer, customer_id)
            if service is None or customer is None or service.customer_id != customer.id:
                raise NotFound("That service does not exist for this customer.")
            if service.status != "active":
                service.status, service.activated_at = "active", utcnow()
            if service.subscription_id is None:
                subscription = self.session.execute(select(Subscription).where(
                    Subscription.customer_id == customer.id,
                    Subscription.plan_id == service.plan_id,
                    Subscription.status.in_(("active", "trialing")))).scalars().first()
                if subscription is None:
                    subscription = self.start_subscription(customer.id, service.plan_id)
                service.subscription_id = subscription.id
            customer.installation_status, customer.status = "completed", "active"
            return {"status": service.status, "activated_at": service.activated_at.isoformat()}
        return self.once(idempotency_key, "billing.activate_service", produce)
