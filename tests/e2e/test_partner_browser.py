"""A partner user in a real browser: the New customer wizard (inline errors, then a run watched
live), the sub-customer's page, and the tenant's page under the partner's brand."""
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.models import Customer, Tenant
from tests.factories import (PASSWORD, make_license_template, make_partner, make_plan,
                             make_user)

pytestmark = pytest.mark.browser
LIVE = 60_000  # ms: the run goes through real workers
LOGO = ("data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHdp"
        "ZHRoPSI0MCIgaGVpZ2h0PSI0MCI+PGNpcmNsZSBjeD0iMjAiIGN5PSIyMCIgcj0iMTgiIGZpbGw9IiNmZmYi"
        "Lz48L3N2Zz4=")


def test_partner_wizard_with_inline_errors_then_the_branded_tenant(page, db, workers):
    partner = make_partner(license_quota=4, license_template_id=make_license_template().id,
                           plan_id=make_plan(price=Decimal("30")).id, brand_name="Harbor Cloud",
                           logo_url=LOGO, primary_color="#1d4ed8", secondary_color="#eff6ff",
                           support_email="care@harbor.example")
    user = make_user(portal="partner", partner_id=partner.id)
    page.goto("/partner/login")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.click("header.topbar >> text=New customer")
    expect(page.locator("input[name=brand_name]")).to_have_value("Harbor Cloud")

    # Bad input: the form comes back in place with each field's message; nothing starts.
    page.fill("input[name=name]", "Cove Bakery")
    page.fill("input[name=email]", "not-an-email")
    page.fill("input[name=requested_licenses]", "9")
    page.fill("input[name=primary_color]", "blue")
    page.click("#new-customer-form button[type=submit]")
    expect(page.locator("#err-email")).to_contain_text("valid email")
    expect(page.locator("#err-requested_licenses")).to_contain_text("only 4 licenses left")
    expect(page.locator("#err-primary_color")).to_contain_text("#1a2b3c")
    expect(page).to_have_url(re.compile(r"/partner/customers/new$"))

    page.fill("input[name=email]", "hello@cove.example")
    page.fill("input[name=requested_licenses]", "2")
    page.fill("input[name=primary_color]", "#0f766e")
    page.click("#new-customer-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/partner/runs/\d+"))
    expect(page.locator(".run-headline")).to_have_text("All done", timeout=LIVE)

    customer = db.session.execute(select(Customer).filter_by(email="hello@cove.example")
                                  ).scalar_one()
    page.goto(f"/partner/customers/{customer.id}")
    expect(page.locator("#customer-white-label")).to_contain_text("#0f766e")
    tenant = db.session.execute(select(Tenant)).scalar_one()
    # The link points at PUBLIC_BASE_URL (a name that does not resolve in tests): open the
    # same path on the test server.
    expect(page.locator("#customer-white-label a")).to_have_attribute("href", tenant.url)
    page.goto(f"/t/{tenant.slug}")
    expect(page.locator("header")).to_contain_text("Harbor Cloud")
    expect(page.locator("header img")).to_have_attribute("src", LOGO)
    expect(page.locator("main")).to_contain_text("care@harbor.example")
    background = page.eval_on_selector("header", "el => getComputedStyle(el).backgroundColor")
    assert background == "rgb(15, 118, 110)"  # #0f766e
    assert "lastmile" not in page.content().lower()
    page.screenshot(path="/tmp/h6_tenant.png")
