"""The customer service. Its methods live in one module per concern (mixins), so each
workflow's part of the service reads on its own; this class puts them together."""
from app.services.base import Service
from app.services.customer.leads import LeadConversionMixin
from app.services.customer.partner_customers import PartnerCustomersMixin


class CustomerService(LeadConversionMixin, PartnerCustomersMixin, Service):
    name = "customer"
