"""Issue 14, items 2, 3 and 7: a converted lead's run page shows what it produced, linked; the
new customer's page lists the run; a Fibre (internet-only) customer gets no license or
tenant; the form posted again lands on the run; customers read friendly run titles."""
import re

from sqlalchemy import func, select

from app.models import License, OutboundEmail, StepRun, Tenant, WorkflowRun
from tests.conftest import wait_until
from tests.factories import (PASSWORD, make_lead, make_license_template, make_plan, make_user)


def _finished(db, run_id):
    def done():
        db.session.expire_all()
        run = db.session.get(WorkflowRun, run_id)
        return run if run.status in ("succeeded", "failed", "compensated") else None
    return wait_until(done, timeout=60, message=f"run {run_id} to finish")


def _convert(client, lead, **fields):
    form = client.get(f"/staff/leads/{lead.id}/convert").get_data(as_text=True)
    token = re.search(r'name="submission_token" value="([^"]+)"', form).group(1)
    data = {"deployment_type": "shared", "submission_token": token, **fields}
    return client.post_form(f"/staff/leads/{lead.id}/convert", data), data


def test_a_fibre_lead_converts_without_license_or_tenant(client, db, workers):
    lead = make_lead(name="Quay Fibre Café")
    fibre = make_plan(kind="internet", name="Fibre 100")
    make_license_template()
    client.login(make_user(role="sales").email, PASSWORD)
    response, data = _convert(client, lead, plan_id=fibre.id, license_template_id="")
    run_url = response.headers["Location"]
    run_id = int(run_url.rstrip("/").split("/")[-1])
    run = _finished(db, run_id)
    assert run.status == "succeeded", run.error
    statuses = dict(db.session.execute(select(StepRun.name, StepRun.status)
                                       .where(StepRun.run_id == run_id)).all())
    assert statuses["issue_license"] == "skipped" and statuses["provision_tenant"] == "skipped"
    assert db.session.execute(select(func.count(License.id))).scalar() == 0
    assert db.session.execute(select(func.count(Tenant.id))).scalar() == 0
    email = db.session.execute(select(OutboundEmail).filter_by(template="customer_welcome")
                               ).scalar_one()
    assert "Lastmile Manager" not in email.text_body and "license key" not in email.text_body

    # The back button: the same form posted again lands on the run, not on an error.
    again = client.post_form(f"/staff/leads/{lead.id}/convert", data)
    assert again.status_code in (302, 303) and again.headers["Location"].endswith(run_url[-12:])
    # ... and the form's own address (back to the GET) shows the run too, not an error.
    back = client.get(f"/staff/leads/{lead.id}/convert")
    assert back.status_code == 303 and back.headers["Location"].endswith(f"/staff/runs/{run_id}")

    # Result first: the customer and the ticket, linked; no raw JSON for sales.
    page = client.get(run_url).get_data(as_text=True)
    assert "What this run produced" in page
    customer_id = run.steps[0].result["customer_id"]
    assert f'href="/staff/customers/{customer_id}"' in page
    assert re.search(r'href="/staff/tickets/\d+"', page)
    assert "customer.create_from_lead" not in page and "<pre>" not in page

    # The new customer's page lists the run that created it.
    customer_page = client.get(f"/staff/customers/{customer_id}").get_data(as_text=True)
    assert f'href="/staff/runs/{run_id}"' in customer_page
    assert "Lead to customer onboarding" in customer_page


def test_a_software_plan_still_needs_a_license_template(client, db):
    lead = make_lead()
    software = make_plan(kind="software")
    client.login(make_user(role="sales").email, PASSWORD)
    response, _ = _convert(client, lead, plan_id=software.id, license_template_id="")
    assert response.status_code == 422
    assert "Choose a license template" in response.get_data(as_text=True)


def test_admins_see_the_raw_json(client, db, workers):
    lead = make_lead()
    plan, template = make_plan(), make_license_template()
    client.login(make_user(role="admin").email, PASSWORD)
    response, _ = _convert(client, lead, plan_id=plan.id, license_template_id=template.id)
    run_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    assert _finished(db, run_id).status == "succeeded"
    page = client.get(f"/staff/runs/{run_id}").get_data(as_text=True)
    assert "<pre>" in page and "license.issue_license" in page
    assert "Tenant" in page and "License" in page
