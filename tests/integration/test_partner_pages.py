"""Partner portal provisioning pages and the staff partner/commission pages: what each user
may see and do, checked on the server; bad input answered with the field's message."""
import csv
import io
from decimal import Decimal

import pytest
from flask import g

from app.models import AuditEvent, CommissionEntry, LicensePoolEvent, Partner, Tenant
from tests.factories import (PASSWORD, make_customer, make_license_template, make_partner,
                             make_plan, make_user)


def login(client, user):
    """Sign in as `user` through the sign-in page (a forged Flask-Login cookie opens nothing:
    sessions live on the server)."""
    # Requests share the test's app context, where Flask-Login caches the previous user.
    g.pop("_login_user", None)
    assert client.login(user.email, PASSWORD, user.portal).status_code == 302
    client.get("/partner/pool" if user.portal == "partner" else "/staff/commissions")
    return user


def _partner(**fields):
    fields.setdefault("plan_id", make_plan(price=Decimal("20.00")).id)
    fields.setdefault("license_template_id", make_license_template().id)
    return make_partner(**fields)


def _partner_user(partner):
    return make_user(portal="partner", partner_id=partner.id)


def _entry(db, partner, customer, amount="10.00", status="pending"):
    entry = CommissionEntry(partner_id=partner.id, customer_id=customer.id,
                            type="new_customer", base_amount=Decimal(amount),
                            amount=Decimal(amount), status=status)
    db.session.add(entry)
    db.session.commit()
    return entry


# --- the wizard ----------------------------------------------------------------------------

def test_wizard_is_prefilled_with_the_partners_white_label_defaults(client):
    partner = _partner(brand_name="Skyline Cloud", primary_color="#aa0000",
                       support_email="help@skyline.example")
    login(client, _partner_user(partner))
    page = client.get("/partner/customers/new")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'value="Skyline Cloud"' in html and 'value="#aa0000"' in html
    assert 'value="help@skyline.example"' in html


def test_wizard_answers_bad_input_with_field_messages_and_422(client, db):
    partner = _partner()
    login(client, _partner_user(partner))
    response = client.post_form("/partner/customers/new", {
        "name": "", "email": "nope", "requested_licenses": "0", "primary_color": "red",
        "logo_url": "javascript:alert(1)"}, headers={"HX-Request": "true"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith("<form")  # HTMX swaps just the form
    for field in ("name", "email", "requested_licenses", "primary_color", "logo_url"):
        assert f'id="err-{field}"' in html, field
    assert db.session.query(Partner).one().licenses_used == 0


def test_wizard_says_plainly_when_the_pool_is_too_small(client):
    partner = _partner(license_quota=3, licenses_used=2)
    login(client, _partner_user(partner))
    response = client.post_form("/partner/customers/new", {
        "name": "Ada", "email": "ada@example.test", "requested_licenses": "5"})
    assert response.status_code == 422
    assert "5 requested, only 1 license left" in response.get_data(as_text=True)


def test_wizard_refuses_a_taken_custom_domain(client, db):
    partner = _partner()
    customer = make_customer(partner_id=partner.id)
    db.session.add(Tenant(slug="taken", url="http://x/t/taken", customer_id=customer.id,
                          custom_domain="portal.taken.example"))
    db.session.commit()
    login(client, _partner_user(partner))
    response = client.post_form("/partner/customers/new", {
        "name": "Ada", "email": "ada@example.test", "requested_licenses": "1",
        "custom_domain": "Portal.Taken.example"})
    assert response.status_code == 422
    assert "already used" in response.get_data(as_text=True)


@pytest.mark.parametrize("status", ["suspended", "pending"])
def test_an_inactive_partner_cannot_provision(client, status):
    partner = _partner(status=status)
    login(client, _partner_user(partner))
    for response in (client.get("/partner/customers/new"),
                     client.post_form("/partner/customers/new", {
                         "name": "Ada", "email": "ada@example.test",
                         "requested_licenses": "1"})):
        assert response.status_code == 403
        assert f"is {status}" in response.get_data(as_text=True)


# --- who may see what ----------------------------------------------------------------------

def test_partner_pages_refuse_other_portals(client):
    _partner()
    customer_user = make_user(portal="customer", customer_id=make_customer().id)
    for user in (make_user(role="admin"), customer_user):
        login(client, user)
        for url in ("/partner/customers/new", "/partner/pool", "/partner/commissions",
                    "/partner/commissions.csv"):
            assert client.get(url).status_code == 403, (user.portal, url)


def test_a_partner_sees_only_its_own_customers(client, db):
    mine, theirs = _partner(), _partner()
    own = make_customer(partner_id=mine.id, name="Mine Ltd")
    other = make_customer(partner_id=theirs.id)
    isp_own = make_customer()
    db.session.add(Tenant(slug="mine-ltd", url="http://x/t/mine-ltd", customer_id=own.id,
                          partner_id=mine.id, status="active",
                          branding={"brand_name": "Mine Cloud", "primary_color": "#aa0000"}))
    db.session.commit()
    login(client, _partner_user(mine))
    page = client.get(f"/partner/customers/{own.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="customer-white-label"' in html
    assert "Mine Cloud" in html and "#aa0000" in html
    assert client.get(f"/partner/customers/{other.id}").status_code == 404
    assert client.get(f"/partner/customers/{isp_own.id}").status_code == 404


def test_pool_history_and_statement_show_only_the_partners_own_records(client, db):
    mine, theirs = _partner(license_quota=7, licenses_used=2), _partner()
    own, other = make_customer(partner_id=mine.id), make_customer(partner_id=theirs.id)
    for partner, customer in ((mine, own), (theirs, other)):
        db.session.add(LicensePoolEvent(partner_id=partner.id, customer_id=customer.id,
                                        kind="allocate", delta=-2,
                                        note=f"note-{partner.number}",
                                        created_at=own.created_at))
    _entry(db, mine, own, "12.34", "paid")
    _entry(db, mine, own, "5.00", "pending")
    _entry(db, theirs, other, "999.99")
    login(client, _partner_user(mine))
    pool = client.get("/partner/pool").get_data(as_text=True)
    assert f"note-{mine.number}" in pool and f"note-{theirs.number}" not in pool
    assert 'id="pool-left">5<' in pool
    statement = client.get("/partner/commissions").get_data(as_text=True)
    assert "12.34" in statement and "999.99" not in statement
    assert 'id="balance-paid">12.34<' in statement
    assert 'id="balance-pending">5.00<' in statement
    download = client.get("/partner/commissions.csv")
    assert download.mimetype == "text/csv"
    assert "attachment" in download.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(download.get_data(as_text=True))))
    assert sorted(r["amount"] for r in rows) == ["12.34", "5.00"]
    assert {r["customer_number"] for r in rows} == {own.number}


def test_the_dashboard_shows_the_partners_own_commission_totals(client, db):
    mine, theirs = _partner(), _partner()
    own, other = make_customer(partner_id=mine.id), make_customer(partner_id=theirs.id)
    _entry(db, mine, own, "1200.00", "pending")
    _entry(db, mine, own, "34.50", "pending")
    _entry(db, mine, own, "7.25", "paid")
    _entry(db, theirs, other, "999.99", "paid")
    login(client, _partner_user(mine))
    page = client.get("/partner/").get_data(as_text=True)
    assert "<strong>1,234.50</strong><span>commission pending" in page
    assert "<strong>7.25</strong><span>commission paid" in page
    assert "999.99" not in page


def test_csv_cells_cannot_become_formulas(client, db):
    partner = _partner()
    customer = make_customer(partner_id=partner.id, name="=HYPERLINK(\"http://x\")")
    _entry(db, partner, customer)
    login(client, _partner_user(partner))
    body = client.get("/partner/commissions.csv").get_data(as_text=True)
    assert "'=HYPERLINK" in body


# --- staff: partner settings (admin) -------------------------------------------------------

def _settings(partner, **changes):
    data = {"status": partner.status, "license_quota": str(partner.license_quota),
            "commission_model": partner.commission_model, "commission_rate": "10",
            "commission_tiers": "", "plan_id": str(partner.plan_id or ""),
            "license_template_id": str(partner.license_template_id or ""),
            "contact_email": partner.contact_email, "billing_email": "",
            "subdomain": partner.subdomain or "", "brand_name": partner.brand_name or "",
            "logo_url": "", "primary_color": partner.primary_color or "",
            "secondary_color": "", "support_email": partner.support_email or "",
            "custom_domain": ""}
    data.update(changes)
    return data


def test_admin_edits_pool_commission_and_status_with_audit(client, db):
    partner = _partner(license_quota=10, licenses_used=4)
    login(client, make_user(role="admin"))
    url = f"/staff/partners/{partner.id}/settings"
    assert client.get(url).status_code == 200
    response = client.post_form(url, _settings(
        partner, license_quota="20", status="suspended", commission_model="tiered",
        commission_tiers="0: 10\n5: 15%", brand_name="New Brand"))
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    partner = db.session.get(Partner, partner.id)
    assert (partner.license_quota, partner.status, partner.brand_name) == (20, "suspended",
                                                                           "New Brand")
    assert partner.commission_tiers == [{"min_customers": 0, "rate": "10"},
                                        {"min_customers": 5, "rate": "15"}]
    event = db.session.query(AuditEvent).filter_by(action="partner.settings_changed").one()
    assert event.details["license_quota"] == [10, 20]
    assert event.details["status"] == ["active", "suspended"]
    resize = db.session.query(LicensePoolEvent).filter_by(kind="quota_change").one()
    assert resize.delta == 10


def test_pool_cannot_shrink_below_what_is_used(client, db):
    partner = _partner(license_quota=10, licenses_used=6)
    login(client, make_user(role="admin"))
    response = client.post_form(f"/staff/partners/{partner.id}/settings",
                                _settings(partner, license_quota="5", primary_color="blue"),
                                headers={"HX-Request": "true"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "6 licenses are in use" in html and 'id="err-primary_color"' in html
    db.session.expire_all()
    assert db.session.get(Partner, partner.id).license_quota == 10
    # Nothing changed, so nothing but the sign-in is in the audit log.
    assert db.session.query(AuditEvent).filter(AuditEvent.action != "login").count() == 0


def test_partner_settings_are_for_admins_only(client):
    partner = _partner()
    for role in ("finance", "sales", "ops"):
        login(client, make_user(role=role))
        assert client.get(f"/staff/partners/{partner.id}/settings").status_code == 403
    login(client, _partner_user(partner))
    assert client.get(f"/staff/partners/{partner.id}/settings").status_code == 403


# --- staff: commissions (finance) ----------------------------------------------------------

def test_finance_approves_and_records_payouts(client, db):
    partner = _partner()
    customer = make_customer(partner_id=partner.id)
    first, second = _entry(db, partner, customer, "10.00"), _entry(db, partner, customer, "7.00")
    login(client, make_user(role="finance"))
    page = client.get("/staff/commissions")
    assert page.status_code == 200 and 'id="balance-pending">17.00<' in page.get_data(
        as_text=True)
    assert client.post_form("/staff/commissions/approve",
                            {"entry_id": [first.id, second.id]}).status_code == 303
    missing = client.post_form("/staff/commissions/payout",
                               {"entry_id": [first.id], "payout_reference": ""})
    assert missing.status_code == 422 and "payout reference" in missing.get_data(as_text=True)
    client.post_form("/staff/commissions/payout",
                     {"entry_id": [first.id], "payout_reference": "BANK-42"})
    db.session.expire_all()
    assert db.session.get(CommissionEntry, first.id).status == "paid"
    assert db.session.get(CommissionEntry, second.id).status == "approved"
    assert db.session.query(AuditEvent).filter_by(action="commissions.paid").count() == 1
    assert client.post_form("/staff/commissions/approve", {}).status_code == 422


def test_commissions_are_for_finance_and_admin(client, db):
    for role in ("sales", "ops", "support"):
        login(client, make_user(role=role))
        assert client.get("/staff/commissions").status_code == 403
        assert client.post_form("/staff/commissions/approve", {}).status_code == 403
    login(client, make_user(role="admin"))
    assert client.get("/staff/commissions?status=all&partner_id=999999").status_code == 200
    # An id no row can have (>= 2^31) is refused before the view (app/portals/hardening.py).
    assert client.get("/staff/commissions?status=all&partner_id=99999999999").status_code == 400


def test_a_partner_that_is_not_set_up_is_told_so_before_anything_starts(client, db):
    partner = _partner(plan_id=None)
    login(client, _partner_user(partner))
    response = client.get("/partner/customers/new")
    assert response.status_code == 409 and "plan price" in response.get_data(as_text=True)
    assert client.post_form("/partner/customers/new", {
        "name": "Ada", "email": "ada@example.test",
        "requested_licenses": "1"}).status_code == 409


def test_odd_page_numbers_are_not_errors(client):
    partner = _partner()
    login(client, _partner_user(partner))
    for url in ("/partner/pool?page=999999", "/partner/commissions?page=-3",
                "/partner/commissions?page=abc"):
        assert client.get(url).status_code == 200, url
    # Past 2^31 a page number is bad input (400), refused in one place for every list.
    assert client.get("/partner/pool?page=99999999999999999999").status_code == 400
    login(client, make_user(role="finance"))
    assert client.get("/staff/commissions?page=999999&status=zzz").status_code == 200
