"""A partner's license pool: allocation is atomic in the database, licenses are signed and
marked as issued through the partner, and returning them gives the count back exactly once."""
import threading

import pytest

from app.errors import DomainError, NotFound, ValidationError
from app.models import License, LicensePoolEvent, Partner
from app.services.license import LicenseService
from tests.factories import make_customer, make_license_template, make_partner


def _partner(**fields):
    fields.setdefault("license_template_id", make_license_template().id)
    return make_partner(**fields)


def test_allocation_issues_signed_partner_licenses(db):
    partner = _partner(license_quota=5, licenses_used=1)
    customer = make_customer(partner_id=partner.id)
    result = LicenseService().allocate_from_partner(partner.id, customer.id, 3,
                                                    idempotency_key="run1:allocate_licenses")
    assert result["quota_remaining"] == 1 and len(result["license_ids"]) == 3
    licenses = db.session.query(License).order_by(License.id).all()
    assert [lic.license_key for lic in licenses] == result["license_keys"]
    for lic in licenses:
        assert (lic.issued_via, lic.partner_id, lic.customer_id, lic.status) == (
            "partner", partner.id, customer.id, "active")
        assert lic.token and lic.expires_at is not None
    assert _verifies(licenses[0])
    assert db.session.get(Partner, partner.id).licenses_used == 4
    event = db.session.query(LicensePoolEvent).one()
    assert (event.kind, event.delta, event.customer_id) == ("allocate", -3, customer.id)


def _verifies(license_row):
    """The token verifies offline with the public key (the signing module's own check)."""
    claims, problem = LicenseService().verify_token(license_row.token)
    return problem is None and claims["key"] == license_row.license_key


def test_allocation_replay_has_its_effect_once(db):
    partner = _partner(license_quota=5)
    customer = make_customer(partner_id=partner.id)
    first = LicenseService().allocate_from_partner(partner.id, customer.id, 2,
                                                   idempotency_key="run2:allocate_licenses")
    again = LicenseService().allocate_from_partner(partner.id, customer.id, 2,
                                                   idempotency_key="run2:allocate_licenses")
    assert first == again
    assert db.session.query(License).count() == 2
    assert db.session.get(Partner, partner.id).licenses_used == 2


def test_allocation_beyond_the_pool_fails_with_the_quota_message(db):
    partner = _partner(license_quota=3, licenses_used=2)
    customer = make_customer(partner_id=partner.id)
    with pytest.raises(DomainError) as error:
        LicenseService().allocate_from_partner(partner.id, customer.id, 2)
    assert "2 requested, only 1 license left" in error.value.message
    assert db.session.query(License).count() == 0
    assert db.session.get(Partner, partner.id).licenses_used == 2


def test_allocation_refuses_a_suspended_partner_and_foreign_customers(db):
    partner = _partner(status="suspended")
    customer = make_customer(partner_id=partner.id)
    with pytest.raises(DomainError, match="suspended"):
        LicenseService().allocate_from_partner(partner.id, customer.id, 1)
    active = _partner()
    with pytest.raises(NotFound):
        LicenseService().allocate_from_partner(active.id, make_customer().id, 1)
    with pytest.raises(ValidationError):
        LicenseService().allocate_from_partner(active.id, customer.id, 0)
    without_product = make_partner()
    own = make_customer(partner_id=without_product.id)
    with pytest.raises(DomainError, match="license product"):
        LicenseService().allocate_from_partner(without_product.id, own.id, 1)


def test_return_to_pool_revokes_and_gives_the_count_back_once(db):
    partner = _partner(license_quota=5)
    customer = make_customer(partner_id=partner.id)
    ids = LicenseService().allocate_from_partner(partner.id, customer.id, 3)["license_ids"]
    result = LicenseService().return_to_partner_pool(
        partner.id, ids, idempotency_key="run3:compensate:allocate_licenses")
    assert result == {"returned": 3, "quota_remaining": 5}
    # A replay, and a second call without a key, give nothing back twice.
    LicenseService().return_to_partner_pool(partner.id, ids,
                                            idempotency_key="run3:compensate:allocate_licenses")
    assert LicenseService().return_to_partner_pool(partner.id, ids)["returned"] == 0
    assert db.session.get(Partner, partner.id).licenses_used == 0
    assert {lic.status for lic in db.session.query(License)} == {"revoked"}
    kinds = [e.kind for e in db.session.query(LicensePoolEvent).order_by(LicensePoolEvent.id)]
    assert kinds == ["allocate", "return"]


def test_return_ignores_another_partners_licenses(db):
    mine, theirs = _partner(license_quota=5), _partner(license_quota=5)
    their_customer = make_customer(partner_id=theirs.id)
    ids = LicenseService().allocate_from_partner(theirs.id, their_customer.id, 2)["license_ids"]
    assert LicenseService().return_to_partner_pool(mine.id, ids)["returned"] == 0
    assert db.session.get(Partner, theirs.id).licenses_used == 2


def test_the_check_constraint_backs_the_pool(db):
    from sqlalchemy.exc import IntegrityError
    partner = _partner(license_quota=2)
    partner.licenses_used = 3
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_concurrent_allocations_never_exceed_the_pool(app, db):
    """N+10 threads, each with its own session, race for a pool of N single licenses."""
    pool = 5
    partner = _partner(license_quota=pool)
    customers = [make_customer(partner_id=partner.id).id for _ in range(pool + 10)]
    partner_id = partner.id
    barrier = threading.Barrier(len(customers))
    outcomes = []

    def allocate(customer_id):
        with app.app_context():
            from app.extensions import db as database
            barrier.wait()
            try:
                LicenseService(database.session).allocate_from_partner(
                    partner_id, customer_id, 1, idempotency_key=f"race:{customer_id}")
                outcomes.append("ok")
            except DomainError as error:
                outcomes.append(error.message)
            finally:
                database.session.remove()

    threads = [threading.Thread(target=allocate, args=(c,)) for c in customers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert outcomes.count("ok") == pool
    assert all("only 0 licenses left" in o for o in outcomes if o != "ok"), outcomes
    db.session.expire_all()
    assert db.session.get(Partner, partner_id).licenses_used == pool
    assert db.session.query(License).count() == pool
