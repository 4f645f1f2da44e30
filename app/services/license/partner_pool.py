"""allocate_from_partner, return_to_partner_pool (issue 6): a partner's license pool.

The pool is a quota and a used count on the partner row. Taking licenses is ONE conditional
UPDATE (`licenses_used + n <= license_quota`): the database decides, row lock held until
commit, so concurrent provisionings can never take more than the pool holds (a CHECK
constraint backs it). Every change is also written to LicensePoolEvent, the pool's history.
"""
from sqlalchemy import select, update

from app.errors import DomainError, NotFound, ValidationError
from app.models import Customer, License, LicensePoolEvent, Partner, utcnow
from app.services.partner import inactive_message, pool_message


class PartnerPoolMixin:

    def allocate_from_partner(self, partner_id, customer_id, license_count, *,
                              idempotency_key=None):
        def produce():
            count = _license_count(license_count)
            partner = self.session.get(Partner, partner_id)
            if partner is None:
                raise NotFound(f"Partner {partner_id} does not exist.")
            customer = self.session.get(Customer, customer_id)
            if customer is None or customer.partner_id != partner.id:
                raise NotFound(f"Customer {customer_id} is not a customer of this partner.")
            if partner.license_template is None:
                raise DomainError(f"No license product is set for {partner.company}; "
                                  "Lastmile staff must choose one before licenses can be "
                                  "allocated.")
            taken = self.session.execute(
                update(Partner)
                .where(Partner.id == partner.id, Partner.status == "active",
                       Partner.licenses_used + count <= Partner.license_quota)
                .values(licenses_used=Partner.licenses_used + count)
                .execution_options(synchronize_session=False))
            if taken.rowcount != 1:
                self.session.rollback()
                partner = self.session.get(Partner, partner_id)
                if partner.status != "active":
                    raise DomainError(inactive_message(partner))
                remaining = partner.license_quota - partner.licenses_used
                raise DomainError(pool_message(count, remaining), code="quota_exceeded")
            licenses = [self.issue_partner_license(customer, partner, idempotency_key)
                        for _ in range(count)]
            self.session.add(LicensePoolEvent(
                partner_id=partner.id, customer_id=customer.id, kind="allocate",
                delta=-count, note=f"{count} license(s) for {customer.name}",
                created_at=utcnow()))
            self.session.flush()
            used, quota = self.session.execute(
                select(Partner.licenses_used, Partner.license_quota)
                .where(Partner.id == partner.id)).one()
            return {"license_ids": [lic.id for lic in licenses],
                    "license_keys": [lic.license_key for lic in licenses],
                    "quota_remaining": quota - used}
        return self.once(idempotency_key, "license.allocate_from_partner", produce)

    def return_to_partner_pool(self, partner_id, license_ids, *, idempotency_key=None):
        """Compensation of allocate_from_partner: revoke the licenses and give back exactly
        as many as this call revoked (a license already revoked is not counted twice)."""
        def produce():
            ids = [int(i) for i in (license_ids or [])]
            if self.session.get(Partner, partner_id) is None:
                raise NotFound(f"Partner {partner_id} does not exist.")
            revoked = self.session.execute(
                update(License)
                .where(License.id.in_(ids), License.partner_id == partner_id,
                       License.issued_via == "partner", License.status != "revoked")
                .values(status="revoked", revoked_at=utcnow(), updated_at=utcnow())
                .execution_options(synchronize_session=False)).rowcount
            if revoked:
                self.session.execute(
                    update(Partner).where(Partner.id == partner_id)
                    .values(licenses_used=Partner.licenses_used - revoked)
                    .execution_options(synchronize_session=False))
                self.session.add(LicensePoolEvent(
                    partner_id=partner_id, kind="return", delta=revoked,
                    note=f"{revoked} license(s) returned", created_at=utcnow(),
                    customer_id=self.session.execute(
                        select(License.customer_id).where(License.id.in_(ids))
                        .limit(1)).scalar()))
            self.session.flush()
            quota, used = self.session.execute(
                select(Partner.license_quota, Partner.licenses_used)
                .where(Partner.id == partner_id)).one()
            return {"returned": revoked, "quota_remaining": quota - used}
        return self.once(idempotency_key, "license.return_to_partner_pool", produce)


def _license_count(value):
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = 0
    if isinstance(value, bool) or count < 1 or count > 1000:
        raise ValidationError("Enter a number of licenses.", details={
            "license_count": "Enter a whole number of licenses, from 1 to 1000."})
    return count
