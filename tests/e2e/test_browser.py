"""The portals in a real browser (Playwright driving Debian's Chromium), against the app on a
real port and real RQ workers: each wizard from login to the finished run, watched live."""
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.models import (Appointment, IpAddress, IpPool, ServiceInstance, StepRun, Team,
                        Tenant)
from tests.conftest import wait_until
from tests.factories import (PASSWORD, make_customer, make_lead, make_license_template,
                             make_partner, make_plan, make_quote, make_site_survey,
                             make_subscription, make_technician, make_user)

pytestmark = pytest.mark.browser
LIVE = 60_000  # ms: a run goes through real workers


def login(page, portal, email):
    path = {"staff": "/staff/login", "customer": "/portal/login", "partner": "/partner/login"}
    page.goto(path[portal])
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("header.topbar")).to_be_visible()


def test_each_portal_signs_in_to_its_dashboard(page, db):
    staff = make_user()
    customer = make_customer()
    customer_user = make_user(portal="customer", customer_id=customer.id)
    partner = make_partner()
    partner_user = make_user(portal="partner", partner_id=partner.id)
    for portal, user, heading in (("staff", staff, "Good day"),
                                  ("customer", customer_user, "Welcome"),
                                  ("partner", partner_user, partner.company)):
        page.context.clear_cookies()
        login(page, portal, user.email)
        expect(page.locator("h1")).to_contain_text(heading)


def test_staff_converts_a_lead_and_watches_the_run_finish(page, db, workers):
    admin = make_user()
    lead = make_lead(name="Juniper Yoga")
    plan, template = make_plan(name="Manager Pro"), make_license_template(name="Standard")
    login(page, "staff", admin.email)
    page.goto(f"/staff/leads/{lead.id}")
    page.click("text=Convert lead")
    page.click("#convert-form button[type=submit]")  # nothing chosen: field errors, no run
    expect(page.locator(".field-error").first).to_contain_text("Choose")
    page.select_option("select[name=plan_id]", str(plan.id))
    page.select_option("select[name=license_template_id]", str(template.id))
    page.click("#convert-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/staff/runs/\d+"))
    # The page updates itself (SSE) until the run has succeeded: no reload here.
    expect(page.locator("#run-live .badge").first).to_have_text("succeeded", timeout=LIVE)
    expect(page.locator(".timeline li.succeeded")).to_have_count(6)
    tenant = db.session.execute(select(Tenant)).scalar_one()
    page.goto(f"/t/{tenant.slug}")
    expect(page.locator("h1")).to_have_text("Juniper Yoga")


def test_customer_accepts_a_quote_and_pays(page, db, workers):
    make_user(role="ops")
    db.session.add(Team(name="operations", roles=["ops"]))
    db.session.commit()
    customer = make_customer()
    user = make_user(portal="customer", customer_id=customer.id)
    quote = make_quote(customer=customer)
    login(page, "customer", user.email)
    page.goto(f"/portal/quotes/{quote.id}")
    page.click("text=Accept quote")
    page.fill("input[name=card_number]", "4242 4242 4242 4241")  # fails the Luhn check
    page.fill("input[name=exp_month]", "12")
    page.fill("input[name=exp_year]", "2031")
    page.fill("input[name=cvc]", "123")
    page.click("#accept-form button[type=submit]")
    expect(page.locator(".field-error").first).to_contain_text("card number")
    page.fill("input[name=card_number]", "4242 4242 4242 4242")
    page.fill("input[name=cvc]", "123")
    page.click("#accept-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/portal/runs/\d+"))
    expect(page.locator(".run-headline")).to_have_text("All done", timeout=LIVE)


def test_staff_records_an_acceptance(page, db, workers):
    make_user(role="ops")
    db.session.add(Team(name="operations", roles=["ops"]))
    db.session.commit()
    admin = make_user()
    quote = make_quote()
    login(page, "staff", admin.email)
    page.goto(f"/staff/quotes/{quote.id}")
    page.click("text=Record acceptance")
    page.fill("input[name=accepted_by]", "Pat Customer")
    page.click("#accept-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/staff/runs/\d+"))
    expect(page.locator("#run-live .badge").first).to_have_text("succeeded", timeout=LIVE)


def test_customer_renews_from_login_to_the_new_end_date(page, db, workers):
    customer = make_customer()
    user = make_user(portal="customer", customer_id=customer.id)
    plan = make_plan(name="Manager Pro", price=Decimal("30.00"), term_discounts={"12": 10})
    end = date.today() + timedelta(days=10)
    subscription = make_subscription(customer=customer, plan=plan, period_end=end)
    login(page, "customer", user.email)
    page.goto(f"/portal/subscriptions/{subscription.id}")
    page.click("a[role=button]:text-is('Renew')")
    expect(page.locator("text=324.00")).to_be_visible()  # 12 months, 10 % off
    page.check("input[name=renewal_term][value='12']")
    page.click("#renew-form button[type=submit]")
    expect(page.locator("#renewal-accept")).to_be_visible(timeout=LIVE)
    page.fill("input[name=card_number]", "4000 0000 0000 0002")  # declined
    page.fill("input[name=exp_month]", "12")
    page.fill("input[name=exp_year]", "2031")
    page.fill("input[name=cvc]", "123")
    page.click("#accept-and-pay")
    expect(page.locator("#run-progress .error-message")).to_contain_text("declined",
                                                                         timeout=LIVE)
    page.check("input[name=payment_method][value=new]")
    page.fill("input[name=card_number]", "4242 4242 4242 4242")
    page.fill("input[name=exp_month]", "12")
    page.fill("input[name=exp_year]", "2031")
    page.fill("input[name=cvc]", "123")
    page.click("#accept-and-pay")
    new_end = end.replace(year=end.year + 1)
    expect(page.locator(".run-headline")).to_have_text("All done", timeout=LIVE)
    expect(page.locator("#period-end")).to_have_text(new_end.strftime("%d %b %Y"))


def test_partner_provisions_a_customer_and_opens_the_branded_tenant(page, db, workers):
    partner = make_partner(license_quota=5, license_template_id=make_license_template().id,
                           plan_id=make_plan().id, brand_name="Northwind Cloud")
    user = make_user(portal="partner", partner_id=partner.id)
    login(page, "partner", user.email)
    page.goto("/partner/customers/new")
    page.fill("input[name=name]", "Fern Dental")
    page.fill("input[name=email]", "it@fern.example")
    page.fill("input[name=requested_licenses]", "2")
    page.click("#new-customer-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/partner/runs/\d+"))
    expect(page.locator(".run-headline")).to_have_text("All done", timeout=LIVE)
    tenant = db.session.execute(select(Tenant)).scalar_one()
    page.goto(f"/t/{tenant.slug}")
    expect(page.locator("header")).to_contain_text("Northwind Cloud")
    assert "Lastmile" not in page.content()


def test_dispatcher_schedules_and_technician_completes_the_job(page, db, workers, browser,
                                                              live_server):
    make_plan(kind="internet", code="fibre-e2e", name="Fibre E2E")
    customer = make_customer(service_area="north", name="Willow Studio")
    make_site_survey(customer)
    technician = make_technician(areas=("north",))
    other = make_technician(areas=("north",))
    pool = IpPool(name="e2e", prefix="100.64.77.0/29", gateway="100.64.77.1",
                  service_area="north")
    db.session.add(pool)
    db.session.flush()
    db.session.add_all([IpAddress(pool_id=pool.id, address=f"100.64.77.{n}") for n in (2, 3)])
    db.session.commit()
    ops = make_user()
    login(page, "staff", ops.email)
    page.goto(f"/staff/customers/{customer.id}")
    page.click("text=Deploy service")
    page.select_option("select[name=bandwidth_plan]", "fibre-e2e")
    page.select_option("select[name=technician_id]", str(technician.id))
    page.click("#deploy-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/staff/runs/\d+"))
    expect(page.locator("#run-live .badge").first).to_have_text("waiting", timeout=LIVE)
    run_url = page.url
    job = db.session.execute(select(Appointment)).scalar_one()
    # The dispatcher moves the job to the other technician the same day.
    page.goto(f"/staff/dispatch?week={job.starts_at.date().isoformat()}")
    page.click("summary:has-text('Willow Studio')")
    page.select_option("select[name=technician_id]", str(other.id))
    page.click("details[open] button:has-text('Move')")
    expect(page.locator(".flash")).to_contain_text("moved")
    phone = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844})
    field = phone.new_page()
    login(field, "staff", other.email)
    field.goto("/staff/jobs")
    field.click("text=On my way")
    field.fill("input[name=cpe_serial]", "CPE-42")
    field.click("text=Complete job")
    # The job is booked for tomorrow: the technician confirms doing it today (issue 14).
    field.check("input[name=confirm_early]")
    field.click("text=Complete job")
    expect(field.locator(".flash")).to_contain_text("completed")
    field.screenshot(path="/tmp/shot_jobs_phone.png")
    phone.close()
    # No GenieACS here: ops configures the CPE by hand and says so on the service page.
    service = db.session.execute(select(ServiceInstance)).scalar_one()

    def operator_wait():
        db.session.expire_all()
        return db.session.execute(select(StepRun.status).filter_by(
            name="await_cpe_configuration")).scalar() == "waiting"
    wait_until(operator_wait, timeout=60, message="the run to wait for the operator")
    page.goto(f"/staff/services/{service.id}")
    page.click("text=Mark CPE configured")
    expect(page.locator(".flash")).to_contain_text("switched on")
    page.goto(run_url)
    expect(page.locator("#run-live .badge").first).to_have_text("succeeded", timeout=LIVE)
