"""Issue 14 in a real browser: every portal's main pages at 1280×800 and 390×844, checked
with axe-core (served from /static/vendor, pinned in package.json; `make assets` copies it)
for serious and critical violations; the phone menu folds; lists fit the phone's width.
Screenshots go to $SCREENSHOT_DIR (default: a temporary folder)."""
import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from app.models import Appointment, Ticket
from tests.e2e.test_browser import login
from tests.factories import (make_customer, make_internet_service, make_invoice, make_lead,
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
    make_subscription(customer=customer, plan=make_plan(name="Manager Pro"))
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
    partner = make_partner(company="Northwind IT", license_quota=10)
    partner_user = make_user(portal="partner", partner_id=partner.id, name="Nia Partner")
    make_customer(name="Northwind Client", partner_id=partner.id)
    return dict(customer=customer, user=user, tech=tech, partner_user=partner_user,
                service=service)


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
                                   "/portal/tickets", "/portal/tickets/new"])


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
