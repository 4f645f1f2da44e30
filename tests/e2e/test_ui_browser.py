"""Issue 14 in a real browser: every portal's main pages at 1280×800 and 390×844, checked
with axe-core (served from /static/vendor, pinned in package.json; `make assets` copies it)
for serious and critical violations; the phone menu folds; lists fit the phone's width.
Screenshots go to $SCREENSHOT_DIR (default: a temporary folder)."""
import os
import re
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from app.models import Appointment, Ticket
from tests.e2e.test_browser import login
from tests.factories import (make_customer, make_internet_service, make_invoice, make_lead,
                             make_license_template,
                             make_partner, make_plan, make_quote, make_site_survey,
                             make_subscription, make_technician, make_user)

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="lastmile-shots-"))
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}

AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.slice(0, 3)
      .map(n => n.target.join(" ")).join(" | ")}`);
}"""


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def axe_violations(page):
    if not (ROOT / "app/static/vendor/axe.min.js").exists():
        pytest.fail("axe-core is missing: run `make assets`")
    page.add_script_tag(url="/static/vendor/axe.min.js")
    return page.evaluate(AXE)


def check_pages(page, prefix, paths):
    """Each page at both sizes: no serious/critical axe finding, nothing wider than the
    screen (a table scrolls inside its own box), a screenshot."""
    problems = []
    for size, viewport in VIEWPORTS.items():
        page.set_viewport_size(viewport)
        for path in paths:
            response = page.goto(path)
            assert response.status == 200, f"{path}: {response.status}"
            page.wait_for_load_state("networkidle")
            problems += [f"{path} @{size}: {v}" for v in axe_violations(page)]
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            if overflow > 1:
                problems.append(f"{path} @{size}: the page is {overflow}px wider than the screen")
            name = path.strip("/").replace("/", "_").replace("?", "_").replace("=", "-") or "home"
            shot(page, f"{prefix}-{name}-{size}")
    assert not problems, "\n".join(problems)


@pytest.fixture()
def world(db):
    """A small but complete world: each list has rows, each dashboard something to show."""
    customer = make_customer(name="Harbour Café", service_area="north")
    user = make_user(portal="customer", customer_id=customer.id, name="Ana Costa")
    internet = make_plan(kind="internet", name="Fibre 100")
    subscription = make_subscription(customer=customer, plan=make_plan(name="Manager Pro"))
    service = make_internet_service(customer=customer, plan=internet)
    make_invoice(customer=customer, total="59.00", due_days_ago=10)
    make_quote(customer=customer)
    make_lead(name="Juniper Yoga", company="Juniper Yoga Ltd")
    waiting = make_customer(name="Willow Street Studio", service_area="north")
    make_site_survey(waiting)
    tech = make_technician(name="Tess North", email="tech.north@example.test")
    db.session.add(Appointment(technician_id=tech.id, customer_id=customer.id,
                               address="12 Quay Road", starts_at=datetime.utcnow()
                               + timedelta(days=1), ends_at=datetime.utcnow()
                               + timedelta(days=1, hours=2)))
    db.session.add(Ticket(number="T-9001", title="Wi-Fi drops in the evening", type="support",
                          customer_id=customer.id, status="open", priority="high"))
    db.session.commit()
    partner = make_partner(company="Northwind IT", license_quota=10,
                           license_template_id=make_license_template().id,
                           plan_id=make_plan(name="Manager Pro (partner)").id)
    partner_user = make_user(portal="partner", partner_id=partner.id, name="Nia Partner")
    make_customer(name="Northwind Client", partner_id=partner.id)
    return dict(customer=customer, user=user, tech=tech, partner_user=partner_user,
                service=service, subscription=subscription)


STAFF_PAGES = {
    "admin": ["/staff/", "/staff/leads", "/staff/customers", "/staff/quotes", "/staff/runs",
              "/staff/tickets", "/staff/services", "/staff/invoices", "/staff/plans",
              "/staff/outbox", "/staff/partners", "/staff/site-surveys", "/staff/renewals",
              "/staff/audit", "/staff/payments", "/staff/commissions",
              "/staff/notifications"],
    "dispatcher": ["/staff/", "/staff/dispatch"],
    "technician": ["/staff/", "/staff/jobs"],
    "finance": ["/staff/"], "support": ["/staff/"], "sales": ["/staff/"], "ops": ["/staff/"],
}


@pytest.mark.parametrize("role", list(STAFF_PAGES))
def test_staff_pages_are_accessible_at_both_sizes(page, world, role):
    user = world["tech"] if role == "technician" else make_user(role=role)
    login(page, "staff", user.email)
    paths = STAFF_PAGES[role] + ([f"/staff/customers/{world['customer'].id}",
                                  f"/staff/services/{world['service'].id}"]
                                 if role == "admin" else [])
    check_pages(page, f"staff-{role}", paths)


def test_customer_pages_are_accessible_at_both_sizes(page, world):
    login(page, "customer", world["user"].email)
    check_pages(page, "customer", ["/portal/", "/portal/subscriptions", "/portal/invoices",
                                   "/portal/quotes", "/portal/licenses", "/portal/internet",
                                   "/portal/tickets", "/portal/tickets/new",
                                   f"/portal/subscriptions/{world['subscription'].id}"])


def test_partner_pages_are_accessible_at_both_sizes(page, world):
    login(page, "partner", world["partner_user"].email)
    check_pages(page, "partner", ["/partner/", "/partner/customers", "/partner/licenses",
                                  "/partner/pool", "/partner/commissions",
                                  "/partner/customers/new"])


def test_phone_menu_folds_and_opens(page, world):
    page.set_viewport_size(VIEWPORTS["phone"])
    login(page, "staff", make_user(role="admin").email)
    nav = page.locator("#main-nav")
    expect(nav).to_be_hidden()
    page.click("button.nav-toggle")
    expect(nav).to_be_visible()
    expect(page.locator("button.nav-toggle")).to_have_attribute("aria-expanded", "true")
    shot(page, "staff-menu-open-phone")
    page.set_viewport_size(VIEWPORTS["desktop"])
    page.reload()
    expect(nav).to_be_visible()
    # One line of navigation on a desktop, even for an admin's many entries.
    assert page.evaluate("document.querySelector('#main-nav ul').getBoundingClientRect()"
                         ".height") < 50


def test_forbidden_page_leads_back(page, world):
    login(page, "staff", make_user(role="dispatcher").email)
    response = page.goto("/staff/leads")
    assert response.status == 403
    assert not axe_violations(page)
    shot(page, "staff-403-desktop")
    page.click("text=Back to your dashboard")
    expect(page.locator("h1")).to_contain_text("Good day")


LIVE = 60_000


def test_a_fibre_conversion_shows_its_result_first_and_back_lands_on_the_run(page, db, workers):
    """Items 2 and 7: no license template for a Fibre plan; the run page leads with what it
    made (the customer, linked); the back button lands on the run; the customer's page lists
    it. Both sizes, checked with axe-core."""
    from tests.factories import make_plan as plan_factory
    lead = make_lead(name="Quay Fibre Café")
    fibre = plan_factory(kind="internet", name="Fibre 300")
    make_license_template(name="Manager Standard")
    login(page, "staff", make_user(role="sales").email)
    page.goto(f"/staff/leads/{lead.id}/convert")
    page.select_option("select[name=plan_id]", str(fibre.id))
    page.click("#convert-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/staff/runs/\d+"))
    run_url = page.url
    expect(page.locator("#run-live .badge").first).to_have_text("succeeded", timeout=LIVE)
    expect(page.locator("#run-result")).to_contain_text("Quay Fibre Café")
    expect(page.locator(".timeline li.skipped")).to_have_count(2)  # license and tenant
    assert not page.locator("#run-live pre").count()  # raw JSON is for admins
    for size, viewport in VIEWPORTS.items():
        page.set_viewport_size(viewport)
        assert not axe_violations(page), size
        shot(page, f"staff-run-result-{size}")
    page.go_back()  # to the wizard's address: it shows the run that converted the lead
    expect(page).to_have_url(run_url)
    page.click("#run-result a:has-text('Quay Fibre Café')")
    expect(page.locator("#customer-runs")).to_contain_text("Lead to customer onboarding")
    for size, viewport in VIEWPORTS.items():
        page.set_viewport_size(viewport)
        shot(page, f"staff-new-customer-{size}")


def test_w5_story_is_finishable_and_says_what_happens(page, db, workers, browser, live_server):
    """Item 6: after the technician completes the job the run waits for ops' Mark CPE
    configured; the technician is told so; the service page turns active without a reload.
    Item 5: a requested Saturday is not silently moved: the run page and the customer say so."""
    from app.models import IpAddress, IpPool, ServiceInstance, StepRun
    from sqlalchemy import select
    from tests.conftest import wait_until
    make_plan(kind="internet", code="fibre-w5", name="Fibre W5")
    customer = make_customer(service_area="north", name="Willow Street Studio")
    customer_user = make_user(portal="customer", customer_id=customer.id)
    make_site_survey(customer)
    tech = make_technician(areas=("north",), name="Tess North")
    from app.models import TechnicianProfile
    profile = db.session.execute(select(TechnicianProfile)).scalar_one()
    profile.work_days = [0, 1, 2, 3, 4]
    pool = IpPool(name="w5", prefix="100.64.78.0/29", gateway="100.64.78.1", service_area="north")
    db.session.add(pool)
    db.session.flush()
    db.session.add(IpAddress(pool_id=pool.id, address="100.64.78.2"))
    db.session.commit()
    saturday = date.today() + timedelta(days=1)
    while saturday.weekday() != 5:
        saturday += timedelta(days=1)
    login(page, "staff", make_user(role="ops").email)
    page.goto(f"/staff/customers/{customer.id}/deploy")
    page.select_option("select[name=bandwidth_plan]", "fibre-w5")
    page.fill("input[name=scheduled_date]", f"{saturday.isoformat()}T09:00")
    page.click("#deploy-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/staff/runs/\d+"))
    expect(page.locator("#run-live .badge").first).to_have_text("waiting", timeout=LIVE)
    expect(page.locator("#run-result")).to_contain_text("does not work on Saturdays")
    shot(page, "staff-w5-run-waiting-desktop")

    # The customer sees the booked time and why it is not the one asked for.
    customer_page = browser.new_context(base_url=live_server)
    portal = customer_page.new_page()
    login(portal, "customer", customer_user.email)
    expect(portal.locator("#installation-booking")).to_contain_text("does not work on Saturdays")
    portal.set_viewport_size(VIEWPORTS["phone"])
    shot(portal, "customer-installation-booked-phone")
    customer_page.close()

    phone = browser.new_context(base_url=live_server, viewport=VIEWPORTS["phone"])
    field = phone.new_page()
    login(field, "staff", tech.email)
    field.goto("/staff/jobs")
    field.fill("input[name=cpe_serial]", "CPE-77")
    field.click("text=Complete job")
    expect(field.locator("[role=alert]")).to_contain_text("not today")
    shot(field, "staff-technician-confirm-early-phone")
    field.check("input[name=confirm_early]")
    field.click("text=Complete job")
    expect(field.locator(".flash")).to_contain_text("operations configure the CPE by hand")
    shot(field, "staff-technician-completed-phone")
    phone.close()

    def operator_wait():
        db.session.expire_all()
        return db.session.execute(select(StepRun.status).filter_by(
            name="await_cpe_configuration")).scalar() == "waiting"
    wait_until(operator_wait, timeout=60, message="the run to wait for the operator")
    service = db.session.execute(select(ServiceInstance)).scalar_one()
    page.goto(f"/staff/services/{service.id}")
    assert not axe_violations(page)
    shot(page, "staff-service-cpe-desktop")
    page.click("text=Mark CPE configured")
    expect(page.locator(".flash")).to_contain_text("switched on")
    # No reload: the page refreshes its state until the service is on.
    expect(page.locator("#service-state .badge").first).to_have_text("active", timeout=LIVE)
    for size, viewport in VIEWPORTS.items():
        page.set_viewport_size(viewport)
        shot(page, f"staff-service-active-{size}")


def test_dispatcher_calendar_at_both_sizes_after_a_move(page, world):
    """Item 5 in the browser: the calendar opens on the week of the next job, lists what is
    unbooked, and after a move shows the week the job went to."""
    login(page, "staff", make_user(role="dispatcher").email)
    page.goto("/staff/dispatch")
    expect(page.locator("#unbooked-jobs")).to_contain_text("Willow Street Studio")
    page.click("summary:has-text('Harbour Café')")
    target = datetime.utcnow() + timedelta(days=15)
    page.fill("input[name=starts_at]", target.strftime("%Y-%m-%dT10:00"))
    page.click("details[open] button:has-text('Move')")
    expect(page.locator(".flash").first).to_contain_text("Appointment moved")
    monday = (target.date() - timedelta(days=target.weekday())).isoformat()
    assert f"week={monday}" in page.url
    expect(page.locator("table.calendar")).to_contain_text("Harbour Café")
    for size, viewport in VIEWPORTS.items():
        page.set_viewport_size(viewport)
        assert not axe_violations(page), size
        shot(page, f"staff-dispatch-after-move-{size}")
