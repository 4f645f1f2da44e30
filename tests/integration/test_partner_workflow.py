"""Workflow 3 end to end through real RQ workers: a partner user provisions a customer from the
wizard and gets a tenant under its own brand; failures undo everything; N+10 simultaneous
provisionings against a pool of N allocate exactly N."""
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.models import (CommissionEntry, Customer, License, LicensePoolEvent, OutboundEmail,
                        Partner, Tenant, WorkflowRun)
from app.workflows import engine
from tests.conftest import wait_until
from tests.factories import (make_customer, make_license_template, make_partner, make_plan,
                             make_user)
from tests.integration.test_partner_pages import login

FINAL = ("succeeded", "failed", "compensated", "cancelled")
LOGO = "https://cdn.skyline.example/logo.png"


def finish(db, run_id, timeout=90):
    def done():
        db.session.expire_all()
        run = db.session.get(WorkflowRun, run_id)
        return run if run.status in FINAL else None
    return wait_until(done, timeout=timeout, message=f"run {run_id} to finish")


def count(db, model, *where):
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar()


def _partner(**fields):
    fields.setdefault("plan_id", make_plan(price=Decimal("25.00")).id)
    fields.setdefault("license_template_id", make_license_template().id)
    fields.setdefault("brand_name", "Skyline Cloud")
    fields.setdefault("logo_url", LOGO)
    fields.setdefault("primary_color", "#0a7e5c")
    fields.setdefault("secondary_color", "#f0f7f4")
    fields.setdefault("support_email", "help@skyline.example")
    fields.setdefault("commission_model", "percent")
    fields.setdefault("commission_rate", Decimal("10"))
    return make_partner(**fields)


def test_wizard_provisions_a_customer_with_a_branded_tenant(client, db, workers):
    partner = _partner(license_quota=10)
    login(client, make_user(portal="partner", partner_id=partner.id))
    response = client.post_form("/partner/customers/new", {
        "name": "Fern Dental", "email": "it@fern.example", "company": "Fern Dental Ltd",
        "requested_licenses": "3", "brand_name": "Skyline Cloud", "logo_url": LOGO,
        "primary_color": "#0A7E5C", "secondary_color": "#f0f7f4",
        "support_email": "help@skyline.example", "custom_domain": "portal.fern.example"},
        headers={"HX-Request": "true"})
    assert response.status_code == 204, response.get_data(as_text=True)
    run_url = response.headers["HX-Redirect"]
    run_id = int(run_url.rstrip("/").split("/")[-1])
    assert run_url == f"/partner/runs/{run_id}"
    run = finish(db, run_id)
    assert run.status == "succeeded", run.error
    assert (run.partner_id, run.started_from) == (partner.id, "partner")
    assert client.get(run_url).status_code == 200

    customer = db.session.execute(select(Customer).filter_by(email="it@fern.example")
                                  ).scalar_one()
    assert (customer.partner_id, customer.status) == (partner.id, "active")
    licenses = db.session.execute(select(License).filter_by(customer_id=customer.id)
                                  ).scalars().all()
    assert len(licenses) == 3 and {lic.issued_via for lic in licenses} == {"partner"}
    assert db.session.get(Partner, partner.id).licenses_used == 3
    entry = db.session.execute(select(CommissionEntry).filter_by(customer_id=customer.id)
                               ).scalar_one()
    assert (entry.amount, entry.status) == (Decimal("90.00"), "pending")  # 3x25x12 x 10 %
    email = db.session.execute(select(OutboundEmail).filter_by(
        template="partner_customer_provisioned")).scalar_one()
    assert email.to_address == partner.contact_email and "Fern Dental" in email.text_body

    tenant = db.session.execute(select(Tenant).filter_by(customer_id=customer.id)).scalar_one()
    assert (tenant.partner_id, tenant.status, tenant.custom_domain) == (
        partner.id, "active", "portal.fern.example")
    for page in (client.get(f"/t/{tenant.slug}"),
                 client.get("/", headers={"Host": "portal.fern.example"})):
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        for shown in ("Skyline Cloud", LOGO, "#0a7e5c", "#f0f7f4", "help@skyline.example",
                      "Fern Dental"):
            assert shown in html, shown
        assert "lastmile" not in html.lower()

    # The partner's own pages show the new customer, its pool use and its commission.
    detail = client.get(f"/partner/customers/{customer.id}").get_data(as_text=True)
    assert "Skyline Cloud" in detail and licenses[0].license_key in detail
    assert "Fern Dental" in client.get("/partner/pool").get_data(as_text=True)
    assert "90.00" in client.get("/partner/commissions").get_data(as_text=True)


def test_a_failing_step_undoes_customer_and_licenses(db, workers):
    partner = _partner(license_quota=5)
    owner = make_customer(partner_id=partner.id)
    db.session.add(Tenant(slug="taken", url="http://x/t/taken", customer_id=owner.id,
                          custom_domain="taken.example", status="active"))
    db.session.commit()
    # The wizard checks the domain too; a run started directly meets it at the tenant step.
    run = engine.start_run("partner_customer_provisioning", {
        "partner_id": partner.id, "requested_licenses": 2,
        "customer_data": {"name": "Late Comer", "email": "late@example.test"},
        "white_label_config": {"custom_domain": "taken.example"}},
        started_from="partner", partner_id=partner.id)
    run = finish(db, run.id)
    assert run.status == "compensated" and "already used" in run.error
    customer = db.session.execute(select(Customer).filter_by(email="late@example.test")
                                  ).scalar_one()
    assert customer.status == "churned" and customer.archived_at is not None
    assert {lic.status for lic in db.session.execute(
        select(License).filter_by(customer_id=customer.id)).scalars()} == {"revoked"}
    assert db.session.get(Partner, partner.id).licenses_used == 0
    assert count(db, CommissionEntry) == 0
    kinds = db.session.execute(select(LicensePoolEvent.kind).order_by(LicensePoolEvent.id)
                               ).scalars().all()
    assert kinds == ["allocate", "return"]


def test_another_partners_run_is_not_found(client, db):
    mine, theirs = _partner(), _partner()
    run = WorkflowRun(workflow="partner_customer_provisioning", version=1, definition={},
                      status="running", inputs={}, partner_id=theirs.id,
                      started_from="partner")
    db.session.add(run)
    db.session.commit()
    login(client, make_user(portal="partner", partner_id=mine.id))
    assert client.get(f"/partner/runs/{run.id}").status_code == 404


@pytest.mark.postgres_only
def test_simultaneous_provisionings_never_over_allocate_the_pool(db, workers):
    pool = 5
    partner = _partner(license_quota=pool)
    run_ids = [engine.start_run("partner_customer_provisioning", {
        "partner_id": partner.id, "requested_licenses": 1,
        "customer_data": {"name": f"Rush {i}", "email": f"rush{i}@example.test"}},
        started_from="partner", partner_id=partner.id).id for i in range(pool + 10)]
    runs = [finish(db, run_id, timeout=240) for run_id in run_ids]
    succeeded = [r for r in runs if r.status == "succeeded"]
    refused = [r for r in runs if r.status != "succeeded"]
    assert len(succeeded) == pool, [(r.status, r.error) for r in runs]
    for run in refused:
        assert run.status in ("failed", "compensated")
        assert "Not enough licenses in your pool" in run.error, run.error
    db.session.expire_all()
    assert db.session.get(Partner, partner.id).licenses_used == pool
    active = Customer.partner_id == partner.id, Customer.archived_at.is_(None)
    assert count(db, Customer, *active, Customer.status == "active") == pool
    assert count(db, License, License.partner_id == partner.id,
                 License.status == "active") == pool
    assert count(db, Tenant, Tenant.partner_id == partner.id,
                 Tenant.status != "deprovisioned") == pool
    assert count(db, CommissionEntry, CommissionEntry.partner_id == partner.id,
                 CommissionEntry.status != "void") == pool
