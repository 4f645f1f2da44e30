"""The deployment service. Its methods live in one module per concern (mixins), so each
workflow's part of the service reads on its own; this class puts them together."""
from app.services.base import Service
from app.services.deployment.tenants import TenantsMixin
from app.services.deployment.partner_tenants import PartnerTenantsMixin


class DeploymentService(TenantsMixin, PartnerTenantsMixin, Service):
    name = "deployment"
