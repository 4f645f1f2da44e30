"""The partner service (quota check, commission ledger) and partner customers, called
directly: success, business errors, idempotent replay, compensation."""
from datetime import timedelta
from decimal import Decimal

import pytest

from app.errors import Conflict, DomainError, NotFound, ValidationError
from app.models import CommissionEntry, Customer, License, utcnow
from app.services.customer import CustomerService
from app.services.partner import PartnerService, tier_rate, validate_tiers
from tests.factories import make_customer, make_license_template, make_partner, make_plan


def _partner(**fields):
    fields.setdefault("plan_id", make_plan(price=Decimal("20.00")).id)
    fields.setdefault("license_template_id", make_license_template().id)
    return make_partner(**fields)


def _licenses(db, customer, partner, n):
    for i in range(n):
        db.session.add(License(license_key=f"K-{customer.id}-{i}", token="t",
                               template_id=partner.license_template_id,
                               customer_id=customer.id, partner_id=partner.id,
                               issued_via="partner"))
    db.session.commit()


# --- check_license_quota -------------------------------------------------------------------

def test_quota_check_reports_what_is_left(db):
    partner = _partner(license_quota=10, licenses_used=4, brand_name="Acme Cloud")
    result = PartnerService().check_license_quota(partner.id, 6)
    assert result == {"available": True, "quota_remaining": 6,
                      "partner_email": partner.contact_email, "partner_name": "Acme Cloud"}


def test_quota_check_says_plainly_how_many_are_left(db):
    partner = _partner(license_quota=5, licenses_used=4)
    with pytest.raises(DomainError) as error:
        PartnerService().check_license_quota(partner.id, 2)
    assert "2 requested, only 1 license left" in error.value.message


@pytest.mark.parametrize("status", ["suspended", "pending"])
def test_quota_check_refuses_an_inactive_partner(db, status):
    partner = _partner(status=status)
    with pytest.raises(DomainError, match=status):
        PartnerService().check_license_quota(partner.id, 1)


@pytest.mark.parametrize("bad", [0, -1, "x", None, True, 1.5])
def test_quota_check_rejects_a_bad_count(db, bad):
    partner = _partner()
    with pytest.raises(ValidationError) as error:
        PartnerService().check_license_quota(partner.id, bad)
    assert "requested_licenses" in error.value.details


def test_quota_check_unknown_partner(db):
    with pytest.raises(NotFound):
        PartnerService().check_license_quota(999, 1)


def test_quota_check_replays_its_first_answer(db):
    partner = _partner(license_quota=10)
    first = PartnerService().check_license_quota(partner.id, 1, idempotency_key="run1:check")
    partner.licenses_used = 9
    db.session.commit()
    assert PartnerService().check_license_quota(
        partner.id, 1, idempotency_key="run1:check") == first


# --- record_commission ---------------------------------------------------------------------

def test_percent_commission_is_a_share_of_the_first_term(db):
    partner = _partner(commission_model="percent", commission_rate=Decimal("10"))
    customer = make_customer(partner_id=partner.id)
    _licenses(db, customer, partner, 3)
    result = PartnerService().record_commission(partner.id, customer.id, "new_customer")
    # 3 licenses x 20.00 a month x 12 months = 720.00; 10 % = 72.00
    assert result["amount"] == "72.00"
    entry = db.session.get(CommissionEntry, result["commission_id"])
    assert (entry.base_amount, entry.rate, entry.status) == (Decimal("720.00"), 10, "pending")


def test_percent_commission_of_a_quarterly_plan_uses_the_monthly_equivalent(db):
    partner = _partner(plan_id=make_plan(price=Decimal("90.00"), billing_cycle="quarterly").id,
                       commission_rate=Decimal("5"))
    customer = make_customer(partner_id=partner.id)
    _licenses(db, customer, partner, 1)
    result = PartnerService().record_commission(partner.id, customer.id, "new_customer")
    assert result["amount"] == "18.00"  # 30/month x 12 = 360; 5 %


def test_flat_commission(db):
    partner = _partner(commission_model="flat", commission_rate=Decimal("150"))
    customer = make_customer(partner_id=partner.id)
    assert PartnerService().record_commission(
        partner.id, customer.id, "new_customer")["amount"] == "150.00"


def test_tiered_commission_counts_this_months_new_customers(db):
    partner = _partner(commission_model="tiered", commission_tiers=[
        {"min_customers": 0, "rate": 10}, {"min_customers": 3, "rate": 20}])
    service = PartnerService()
    amounts = []
    for _ in range(3):
        customer = make_customer(partner_id=partner.id)
        _licenses(db, customer, partner, 1)  # 240.00 first term
        amounts.append(service.record_commission(partner.id, customer.id,
                                                 "new_customer")["amount"])
    assert amounts == ["24.00", "24.00", "48.00"]


def test_tiered_ignores_last_month_and_voided_entries(db):
    partner = _partner(commission_model="tiered", commission_tiers=[
        {"min_customers": 0, "rate": 10}, {"min_customers": 2, "rate": 20}])
    old, voided, new = (make_customer(partner_id=partner.id) for _ in range(3))
    for customer in (old, voided, new):
        _licenses(db, customer, partner, 1)
    service = PartnerService()
    old_id = service.record_commission(partner.id, old.id, "new_customer")["commission_id"]
    db.session.get(CommissionEntry, old_id).created_at = utcnow() - timedelta(days=40)
    db.session.commit()
    void_id = service.record_commission(partner.id, voided.id, "new_customer")["commission_id"]
    service.void_commission(void_id)
    assert service.record_commission(partner.id, new.id, "new_customer")["amount"] == "24.00"


def test_tier_rate_picks_the_highest_reached_tier():
    tiers = [{"min_customers": 10, "rate": 15}, {"min_customers": 0, "rate": 10}]
    assert (tier_rate(tiers, 1), tier_rate(tiers, 10), tier_rate([], 5)) == (10, 15, 0)


def test_validate_tiers():
    assert validate_tiers([{"min_customers": "5", "rate": "12.5"},
                           {"min_customers": 0, "rate": 10}])[0]["min_customers"] == 0
    for bad in ([], [{"min_customers": -1, "rate": 5}], [{"rate": 5}],
                [{"min_customers": 1, "rate": 101}],
                [{"min_customers": 1, "rate": 1}, {"min_customers": 1, "rate": 2}]):
        with pytest.raises(ValidationError):
            validate_tiers(bad)


def test_explicit_amount_wins(db):
    partner = _partner()
    customer = make_customer(partner_id=partner.id)
    assert PartnerService().record_commission(
        partner.id, customer.id, "new_customer", "99.5")["amount"] == "99.50"


@pytest.mark.parametrize("bad", ["-1", "abc", "NaN", "1e20"])
def test_bad_amount_is_a_validation_error(db, bad):
    partner = _partner()
    customer = make_customer(partner_id=partner.id)
    with pytest.raises(ValidationError):
        PartnerService().record_commission(partner.id, customer.id, "new_customer", bad)
    assert db.session.query(CommissionEntry).count() == 0


def test_percent_without_a_plan_says_what_is_missing(db):
    partner = _partner(plan_id=None)
    customer = make_customer(partner_id=partner.id)
    with pytest.raises(DomainError, match="plan"):
        PartnerService().record_commission(partner.id, customer.id, "new_customer")


def test_commission_for_another_partners_customer_is_refused(db):
    partner, other = _partner(), _partner()
    customer = make_customer(partner_id=other.id)
    with pytest.raises(NotFound):
        PartnerService().record_commission(partner.id, customer.id, "new_customer")


def test_one_new_customer_commission_per_customer(db):
    partner = _partner(commission_model="flat", commission_rate=Decimal("5"))
    customer = make_customer(partner_id=partner.id)
    PartnerService().record_commission(partner.id, customer.id, "new_customer")
    with pytest.raises(Conflict):
        PartnerService().record_commission(partner.id, customer.id, "new_customer")


def test_record_commission_replay_writes_one_entry(db):
    partner = _partner(commission_model="flat", commission_rate=Decimal("5"))
    customer = make_customer(partner_id=partner.id)
    first = PartnerService().record_commission(partner.id, customer.id, "new_customer", None,
                                               idempotency_key="run7:record_commission")
    again = PartnerService().record_commission(partner.id, customer.id, "new_customer", None,
                                               idempotency_key="run7:record_commission")
    assert first == again and db.session.query(CommissionEntry).count() == 1


# --- ledger: void, approve, pay, balances --------------------------------------------------

def test_ledger_lifecycle_and_balances(db):
    partner = _partner(commission_model="flat", commission_rate=Decimal("100"))
    service = PartnerService()
    ids = [service.record_commission(partner.id, make_customer(partner_id=partner.id).id,
                                     "new_customer")["commission_id"] for _ in range(4)]
    assert service.approve_commissions(ids[:3]) == 3
    assert service.approve_commissions(ids[:3]) == 0  # already approved
    with pytest.raises(ValidationError):
        service.record_payout(ids[:2], " ")
    assert service.record_payout(ids[:2] + [ids[3]], "TRX-1") == 2  # the pending one stays
    service.void_commission(ids[3])
    with pytest.raises(DomainError, match="already paid"):
        service.void_commission(ids[0])
    balances = service.commission_balances(partner.id)
    assert balances == {"pending": Decimal("0.00"), "approved": Decimal("100.00"),
                        "paid": Decimal("200.00"), "void": Decimal("100.00")}
    assert db.session.get(CommissionEntry, ids[0]).payout_reference == "TRX-1"
    assert service.commission_balances(_partner().id)["paid"] == Decimal("0.00")


def test_void_is_idempotent(db):
    partner = _partner(commission_model="flat", commission_rate=Decimal("1"))
    customer = make_customer(partner_id=partner.id)
    service = PartnerService()
    entry_id = service.record_commission(partner.id, customer.id, "new_customer")["commission_id"]
    one = service.void_commission(entry_id, idempotency_key="run1:comp:record_commission")
    two = service.void_commission(entry_id, idempotency_key="run1:comp:record_commission")
    assert one == two == {"commission_id": entry_id, "status": "void"}


# --- partner customers ---------------------------------------------------------------------

def test_create_partner_customer(db):
    partner = _partner()
    result = CustomerService().create_partner_customer(
        partner.id, {"name": " Ada Ltd ", "email": "Ops@Ada.example", "phone": "123"},
        idempotency_key="run3:create_customer")
    customer = db.session.get(Customer, result["customer_id"])
    assert result == {"customer_id": customer.id, "name": "Ada Ltd", "email": "ops@ada.example"}
    assert (customer.partner_id, customer.status) == (partner.id, "active")
    again = CustomerService().create_partner_customer(
        partner.id, {"name": "Ada Ltd", "email": "ops@ada.example"},
        idempotency_key="run3:create_customer")
    assert again == result and db.session.query(Customer).count() == 1


@pytest.mark.parametrize("data, fields", [
    ({}, {"name", "email"}),
    ({"name": "A", "email": "not-an-email"}, {"email"}),
    ({"name": "A" * 201, "email": "a@b.example", "phone": "9" * 51}, {"name", "phone"}),
    ({"name": 5, "email": "a@b.example"}, {"name"}),
    ("garbage", {"name"}),
])
def test_create_partner_customer_validates_each_field(db, data, fields):
    partner = _partner()
    with pytest.raises(ValidationError) as error:
        CustomerService().create_partner_customer(partner.id, data)
    assert set(error.value.details) == fields
    assert db.session.query(Customer).count() == 0


def test_create_partner_customer_refuses_a_duplicate_email_and_a_suspended_partner(db):
    partner = _partner()
    CustomerService().create_partner_customer(partner.id, {"name": "A", "email": "a@b.example"})
    with pytest.raises(ValidationError) as error:
        CustomerService().create_partner_customer(partner.id, {"name": "B",
                                                               "email": "A@b.example"})
    assert "email" in error.value.details
    suspended = _partner(status="suspended")
    with pytest.raises(DomainError, match="suspended"):
        CustomerService().create_partner_customer(suspended.id, {"name": "A",
                                                                 "email": "a@b.example"})


def test_archive_customer_is_the_compensation(db):
    partner = _partner()
    created = CustomerService().create_partner_customer(partner.id, {"name": "A",
                                                                     "email": "a@b.example"})
    first = CustomerService().archive_customer(created["customer_id"],
                                               idempotency_key="run1:comp:create_customer")
    again = CustomerService().archive_customer(created["customer_id"])
    customer = db.session.get(Customer, created["customer_id"])
    assert customer.status == "churned" and customer.archived_at is not None
    assert first["archived_at"] == again["archived_at"]
    # An archived customer's email may be used again.
    CustomerService().create_partner_customer(partner.id, {"name": "A", "email": "a@b.example"})


@pytest.mark.parametrize("missing, words", [("license_template_id", "license product"),
                                            ("plan_id", "plan price")])
def test_quota_check_stops_a_partner_that_is_not_set_up(db, missing, words):
    partner = _partner(**{missing: None})
    with pytest.raises(DomainError, match=words):
        PartnerService().check_license_quota(partner.id, 1)


def test_a_flat_commission_partner_needs_no_plan(db):
    partner = _partner(plan_id=None, commission_model="flat", commission_rate=Decimal("50"))
    assert PartnerService().check_license_quota(partner.id, 1)["available"] is True
