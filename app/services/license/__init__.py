"""The license service. Its methods live in one module per concern (mixins), so each
workflow's part of the service reads on its own; this class puts them together."""
from app.services.base import Service
from app.services.license.issuing import IssuingMixin
from app.services.license.partner_pool import PartnerPoolMixin


class LicenseService(IssuingMixin, PartnerPoolMixin, Service):
    name = "license"
