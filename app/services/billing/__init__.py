"""The billing service. Its methods live in one module per concern (mixins), so each
workflow's part of the service reads on its own; this class puts them together."""
from app.services.base import Service
from app.services.billing.subscriptions import SubscriptionsMixin
from app.services.billing.payments import PaymentsMixin
from app.services.billing.renewals import RenewalsMixin
from app.services.billing.activation import ActivationMixin
from app.services.billing.invoices import InvoicesMixin


class BillingService(SubscriptionsMixin, PaymentsMixin, RenewalsMixin, ActivationMixin,
                     InvoicesMixin, Service):
    name = "billing"
