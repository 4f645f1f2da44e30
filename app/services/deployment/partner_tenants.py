"""provision_partner_tenant (issue 6)"""


class PartnerTenantsMixin:
    pass
