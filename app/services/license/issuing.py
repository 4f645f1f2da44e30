"""Issuing and revoking licenses (W1), and the signing every license shares (W3 too)."""
import secrets
from datetime import timedelta

from flask import current_app

from app.errors import NotFound
from app.integrations import license_signing
from app.models import Customer, License, LicenseTemplate, utcnow

# No 0/O, 1/I/L: keys are read aloud and typed by people.
KEY_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_license_key():
    groups = ["".join(secrets.choice(KEY_ALPHABET) for _ in range(4)) for _ in range(4)]
    return "LMST-" + "-".join(groups)


def signing_key():
    return license_signing.load_private_key(current_app.config["LICENSE_PRIVATE_KEY_PATH"])


class IssuingMixin:

    def issue_license(self, customer_id, license_template_id, *, idempotency_key=None):
        def produce():
            customer = self.session.get(Customer, customer_id)
            template = self.session.get(LicenseTemplate, license_template_id)
            if customer is None:
                raise NotFound(f"Customer {customer_id} does not exist.")
            if template is None:
                raise NotFound(f"License template {license_template_id} does not exist.")
            license = self._new_license(customer, template, "direct", None, idempotency_key)
            return {"license_id": license.id, "license_key": license.license_key,
                    "token": license.token,
                    "expires_at": license.expires_at.isoformat() if license.expires_at else None}
        return self.once(idempotency_key, "license.issue_license", produce)

    def issue_partner_license(self, customer, partner, idempotency_key):
        """One license from a partner's pool (the pool count is the caller's business)."""
        return self._new_license(customer, partner.license_template, "partner", partner.id,
                                 idempotency_key)

    def _new_license(self, customer, template, issued_via, partner_id, idempotency_key):
        issued_at = utcnow()
        expires_at = issued_at + timedelta(days=template.duration_days) \
            if template.duration_days else None
        license = License(license_key=new_license_key(), token="", template_id=template.id,
                          customer_id=customer.id, partner_id=partner_id, status="active",
                          issued_via=issued_via, expires_at=expires_at,
                          created_by_key=idempotency_key)
        self.session.add(license)
        self.session.flush()
        license.token = license_signing.sign(signing_key(), {
            "license_id": license.id, "key": license.license_key, "customer": customer.number,
            "product": template.product, "type": template.license_type,
            "seats": template.seats, "features": list(template.features or []),
            "issued_at": issued_at.isoformat(),
            "expires_at": expires_at.isoformat() if expires_at else None})
        return license

    def revoke_license(self, license_id, *, idempotency_key=None):
        def produce():
            license = self.session.get(License, license_id)
            if license is None:
                raise NotFound(f"License {license_id} does not exist.")
            if license.status != "revoked":
                license.status, license.revoked_at = "revoked", utcnow()
            return {"license_id": license.id, "status": license.status}
        return self.once(idempotency_key, "license.revoke_license", produce)

    def verify_token(self, token):
        """(payload, problem): the signature checked offline with the public key, then the
        license's status checked here (revocation is only known online)."""
        payload = license_signing.verify(license_signing.public_key_pem(signing_key()),
                                         token or "")
        if payload is None:
            return None, "The token is not valid: it was changed or not signed by Lastmile."
        license = self.session.get(License, payload.get("license_id"))
        if license is not None and license.status != "active":
            return payload, f"The signature is valid, but the license is {license.status}."
        return payload, None
