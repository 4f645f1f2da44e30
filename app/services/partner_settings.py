"""Staff edits of a partner: status, license pool size, commission model, white-label defaults.

`update_partner_settings` validates everything first (ValidationError with a message per
field, nothing written), then applies the change in one transaction with an audit event, and a
pool-history event when the pool size changed. The pool can never shrink below what is in use:
the new quota is set by a conditional UPDATE, so a provisioning that allocates at the same
moment cannot slip under it.
"""
from decimal import Decimal, InvalidOperation

from sqlalchemy import select, update

from app.errors import NotFound, ValidationError
from app.models import (AuditEvent, LicensePoolEvent, LicenseTemplate, Partner, Plan,
                        utcnow)
from app.models.partners import COMMISSION_MODELS, PARTNER_STATUSES
from app.services.deployment.partner_tenants import clean_white_label
from app.services.fields import email_error, text_error
from app.services.partner import validate_tiers

BRAND_DEFAULTS = ("brand_name", "logo_url", "primary_color", "secondary_color",
                  "support_email", "custom_domain")
EDITABLE = ("status", "license_quota", "commission_model", "commission_rate",
            "commission_tiers", "plan_id", "license_template_id", "contact_email",
            "billing_email", "subdomain") + BRAND_DEFAULTS


def parse_tiers(text):
    """"0: 10" lines (min customers: rate %) -> tier dicts; ValidationError when malformed."""
    tiers = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        minimum, sep, rate = line.partition(":")
        if not sep:
            raise ValidationError("Bad tier.", details={
                "commission_tiers": f"Write each tier as 'customers: rate', not {line!r}."})
        tiers.append({"min_customers": minimum.strip(), "rate": rate.strip().rstrip("%")})
    return validate_tiers(tiers)


def format_tiers(tiers):
    return "\n".join(f"{t['min_customers']}: {t['rate']}" for t in tiers or [])


class PartnerSettings:
    def __init__(self, session):
        self.session = session

    def clean(self, partner, data):
        errors, clean = {}, {}

        def check(field, fn):
            try:
                clean[field] = fn(data.get(field))
            except ValidationError as error:
                errors.update(error.details or {field: error.message})

        check("status", lambda v: _choice(v, PARTNER_STATUSES, "status"))
        check("license_quota", lambda v: _whole(v, "license_quota"))
        check("commission_model", lambda v: _choice(v, COMMISSION_MODELS, "commission_model"))
        check("commission_rate", lambda v: _rate(v))
        check("plan_id", lambda v: self._optional_id(v, Plan, "plan_id"))
        check("license_template_id",
              lambda v: self._optional_id(v, LicenseTemplate, "license_template_id"))
        check("contact_email", lambda v: _email(v, "contact_email", required=True))
        check("billing_email", lambda v: _email(v, "billing_email"))
        check("subdomain", lambda v: _subdomain(v))
        model = clean.get("commission_model")
        if model == "tiered":
            check("commission_tiers", parse_tiers)
        else:
            clean["commission_tiers"] = partner.commission_tiers or []
        if model == "percent" and clean.get("commission_rate", 0) > 100:
            errors["commission_rate"] = "A percentage is 100 at most."
        if model in ("percent", "tiered") and "plan_id" in clean and not clean["plan_id"]:
            errors["plan_id"] = "Choose the plan whose price the commission is a share of."
        try:
            brand = clean_white_label({f: data.get(f) for f in BRAND_DEFAULTS})
            clean.update({f: brand.get(f) for f in BRAND_DEFAULTS})
        except ValidationError as error:
            errors.update(error.details)
        if not errors:
            errors.update(self._uniqueness(partner, clean))
        if "license_quota" in clean and clean["license_quota"] < partner.licenses_used:
            errors["license_quota"] = (f"{partner.licenses_used} licenses are in use; the "
                                       "pool cannot be smaller than that.")
        if errors:
            raise ValidationError("Please correct the partner settings.", details=errors)
        return clean

    def update(self, partner_id, data, *, by=None, ip_address=None):
        """Apply staff's edit; returns {field: [old, new]} of what changed."""
        partner = self.session.get(Partner, partner_id)
        if partner is None:
            raise NotFound(f"Partner {partner_id} does not exist.")
        clean = self.clean(partner, data)
        changes = {}
        for field in EDITABLE:
            old, new = getattr(partner, field), clean[field]
            if _comparable(old) != _comparable(new):
                changes[field] = [_comparable(old), _comparable(new)]
        quota = clean.pop("license_quota")
        if "license_quota" in changes:
            resized = self.session.execute(
                update(Partner).where(Partner.id == partner.id, Partner.licenses_used <= quota)
                .values(license_quota=quota).execution_options(synchronize_session=False))
            if resized.rowcount != 1:
                self.session.rollback()
                raise ValidationError("The pool is in use.", details={
                    "license_quota": "More licenses are in use than that; reload and retry."})
            self.session.add(LicensePoolEvent(
                partner_id=partner.id, kind="quota_change", delta=quota - changes[
                    "license_quota"][0], note=f"Pool set to {quota} by staff",
                created_at=utcnow()))
        for field, value in clean.items():
            setattr(partner, field, value)
        if changes:
            self.session.add(AuditEvent(
                user_id=getattr(by, "id", None), portal="staff",
                action="partner.settings_changed", object_type="partner",
                object_id=str(partner.id), details=changes, ip_address=ip_address,
                created_at=utcnow()))
        self.session.commit()
        return changes

    def _optional_id(self, value, model, field):
        if value in (None, ""):
            return None
        found = self.session.get(model, int(value)) if str(value).isdigit() else None
        if found is None:
            raise ValidationError("Not found.", details={field: "Choose one from the list."})
        return found.id

    def _uniqueness(self, partner, clean):
        errors = {}
        for field in ("subdomain", "custom_domain"):
            value = clean.get(field)
            if value and self.session.execute(select(Partner.id).where(
                    getattr(Partner, field) == value, Partner.id != partner.id)).first():
                errors[field] = f"{value} is already used by another partner."
        return errors


def _comparable(value):
    if isinstance(value, Decimal):
        return str(value.normalize()) if value == value.to_integral() else str(value)
    return value


def _choice(value, choices, field):
    if value not in choices:
        raise ValidationError("Bad choice.", details={field: f"Choose one of: "
                                                             f"{', '.join(choices)}."})
    return value


def _whole(value, field):
    text = str(value or "").strip()
    if not text.isdigit() or int(text) > 1_000_000:
        raise ValidationError("Bad number.", details={field: "Enter a whole number, 0 or more."})
    return int(text)


def _rate(value):
    try:
        rate = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        rate = None
    if rate is None or not rate.is_finite() or rate < 0 or rate >= Decimal(10) ** 6:
        raise ValidationError("Bad rate.", details={
            "commission_rate": "Enter a number, 0 or more (a % for percent, money for flat)."})
    return rate.quantize(Decimal("0.0001"))


def _email(value, field, required=False):
    value = (value or "").strip()
    if not value and not required:
        return None
    error = email_error(value)
    if error:
        raise ValidationError("Bad email.", details={field: error})
    return value.lower()


def _subdomain(value):
    value = (value or "").strip().lower()
    if not value:
        return None
    error = text_error(value, "subdomain", 63)
    if error or not all(c.isalnum() or c == "-" for c in value) or value.startswith("-"):
        raise ValidationError("Bad subdomain.", details={
            "subdomain": "Use letters, digits and hyphens only."})
    return value
