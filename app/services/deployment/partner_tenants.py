"""provision_partner_tenant (issue 6): a white-labelled tenant for a partner's customer.

Branding = the partner's white-label defaults, overridden field by field by the
`white_label_config` given at provisioning. The tenant itself is made by the tenant core
(tenants.py), so partner tenants and direct tenants share one way of being provisioned.
"""
from sqlalchemy import select

from app.errors import NotFound, ValidationError
from app.models import Customer, Partner, Tenant
from app.services.fields import colour_error, domain_error, email_error, image_url_error, \
    summary, text_error

BRANDING_FIELDS = ("brand_name", "logo_url", "primary_color", "secondary_color",
                   "support_email", "custom_domain")


def partner_branding_defaults(partner):
    return {field: getattr(partner, field) or None for field in BRANDING_FIELDS}


def clean_white_label(config):
    """The white-label fields, stripped; ValidationError with a message per bad field.
    Empty values mean "use the partner's default"."""
    if config in (None, ""):
        config = {}
    if not isinstance(config, dict):
        raise ValidationError("White-label settings are malformed.",
                              details={"brand_name": "White-label settings are malformed."})
    unknown = set(config) - set(BRANDING_FIELDS)
    clean, errors = {}, {}
    for field in BRANDING_FIELDS:
        value = config.get(field)
        value = value.strip() if isinstance(value, str) else value
        if field in ("primary_color", "secondary_color") and isinstance(value, str):
            value = value.lower()
        if field == "custom_domain" and isinstance(value, str):
            value = value.lower().rstrip(".")
        # A logo may be a small data: image (as the partners' seeded defaults are): its own
        # check allows the length the partner's logo column holds.
        error = text_error(value, field.replace("_", " "), 500 if field == "logo_url" else 255)
        if not error:
            error = {"logo_url": image_url_error, "primary_color": colour_error,
                     "secondary_color": colour_error, "custom_domain": domain_error,
                     "support_email": lambda v: v and email_error(v),
                     "brand_name": lambda v: None}[field](value)
        if error:
            errors[field] = error
        if value:
            clean[field] = value
    if unknown:
        errors["brand_name"] = f"Unknown white-label setting(s): {', '.join(sorted(unknown))}."
    if errors:
        raise ValidationError("Please correct the white-label settings: " + summary(errors),
                              details=errors)
    return clean


def effective_branding(partner, config):
    branding = partner_branding_defaults(partner)
    branding.update(clean_white_label(config))
    branding["brand_name"] = branding.get("brand_name") or partner.company
    return branding


class PartnerTenantsMixin:

    def provision_partner_tenant(self, customer_id, partner_id, white_label_config, *,
                                 idempotency_key=None):
        def produce():
            partner = self.session.get(Partner, partner_id)
            if partner is None:
                raise NotFound(f"Partner {partner_id} does not exist.")
            customer = self.session.get(Customer, customer_id)
            if customer is None or customer.partner_id != partner.id:
                raise NotFound(f"Customer {customer_id} is not a customer of this partner.")
            branding = effective_branding(partner, white_label_config)
            domain = (white_label_config or {}).get("custom_domain") and \
                branding.get("custom_domain")
            if domain and self._domain_taken(domain):
                raise ValidationError(f"{domain} is already used by another tenant.", details={
                    "custom_domain": f"{domain} is already used by another tenant."})
            # The partner's default domain serves the partner's own site, not each tenant.
            branding["custom_domain"] = domain or None
            tenant = self.create_tenant(customer, partner=partner, branding=branding,
                                        custom_domain=domain or None,
                                        created_by_key=idempotency_key)
            return {"tenant_id": tenant.id, "tenant_url": tenant.url,
                    "status": tenant.status}
        return self.once(idempotency_key, "deployment.provision_partner_tenant", produce)

    def _domain_taken(self, domain):
        return self.session.execute(
            select(Tenant.id).where(Tenant.custom_domain == domain).limit(1)).first() is not None
