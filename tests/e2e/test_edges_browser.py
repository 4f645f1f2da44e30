"""Off the happy path, in a real browser: a declined card then a good one (renewal and quote),
the partner wizard submitted with its own prefilled defaults, the commission CSV download."""
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.models import CommissionEntry, Order, Quote, Team
from app.seed import _logo
from app.workflows.registry import get_service
from tests.e2e.test_browser import LIVE, login
from tests.factories import (make_customer, make_license_template, make_partner, make_plan,
                             make_quote, make_subscription, make_user)

pytestmark = pytest.mark.browser


def fill_card(page, number):
    page.fill("input[name=card_number]", number)
    page.fill("input[name=exp_month]", "12")
    page.fill("input[name=exp_year]", "2031")
    page.fill("input[name=cvc]", "123")


def test_renewal_declined_card_then_a_saved_good_one(page, db, workers):
    customer = make_customer()
    user = make_user(portal="customer", customer_id=customer.id)
    saved = get_service("billing").save_payment_method(customer.id, "4242424242424242", 12,
                                                       2031, "123")
    end = date.today() + timedelta(days=10)
    subscription = make_subscription(customer=customer, plan=make_plan(price=Decimal("30")),
                                     period_end=end)
    login(page, "customer", user.email)
    page.goto(f"/portal/subscriptions/{subscription.id}/renew")
    page.check("input[name=renewal_term][value='1']")
    page.click("#renew-form button[type=submit]")
    expect(page.locator("#renewal-accept")).to_be_visible(timeout=LIVE)
    # The saved card is pre-selected; a card typed in is the one charged all the same.
    expect(page.locator(f"input[name=payment_method][value='pm:{saved.id}']")).to_be_checked()
    fill_card(page, "4000 0000 0000 0002")
    page.click("#accept-and-pay")
    expect(page.locator("#run-progress .error-message")).to_contain_text("declined",
                                                                         timeout=LIVE)
    # The declined card is not offered; the good saved one is, and is pre-selected.
    expect(page.locator("input[name=payment_method]")).to_have_count(2)  # saved + new
    expect(page.locator("#renewal-accept")).not_to_contain_text("ending 0002")
    expect(page.locator(f"input[name=payment_method][value='pm:{saved.id}']")).to_be_checked()
    page.click("#accept-and-pay")
    expect(page.locator(".run-headline")).to_have_text("All done", timeout=LIVE)
    expect(page.locator("#run-progress .error-message")).to_have_count(0)
    expect(page.locator("#period-end")).to_have_text(
        end.replace(month=end.month % 12 + 1, year=end.year + (end.month == 12))
        .strftime("%d %b %Y"))


def test_quote_declined_card_then_accepted_again(page, db, workers):
    make_user(role="ops")
    db.session.add(Team(name="operations", roles=["ops"]))
    db.session.commit()
    customer = make_customer()
    user = make_user(portal="customer", customer_id=customer.id)
    quote = make_quote(customer=customer)
    login(page, "customer", user.email)
    page.goto(f"/portal/quotes/{quote.id}/accept")
    fill_card(page, "")
    page.click("#accept-form button[type=submit]")
    expect(page.locator(".field-error").first).to_contain_text("card number")
    fill_card(page, "4000 0000 0000 9995")
    page.click("#accept-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/portal/runs/\d+"))
    expect(page.locator(".run-headline")).to_contain_text("nothing was left half-done",
                                                          timeout=LIVE)
    expect(page.locator("#run-progress .error-message")).to_contain_text("insufficient funds")
    page.click("text=Try again with another card")
    expect(page.locator("input[name=payment_method][value=new]")).to_be_checked()
    fill_card(page, "4242 4242 4242 4242")
    page.click("#accept-form button[type=submit]")
    expect(page.locator(".run-headline")).to_have_text("All done", timeout=LIVE)
    db.session.expire_all()
    assert db.session.get(Quote, quote.id).status == "accepted"
    assert db.session.execute(select(Order.status)).scalar_one() == "approved"


def test_partner_wizard_submits_with_its_own_defaults(page, db, workers):
    logo = _logo("NW", "#1f6feb")
    assert len(logo) > 255  # as the seeded partners' logos are
    partner = make_partner(license_quota=5, license_template_id=make_license_template().id,
                           plan_id=make_plan().id, brand_name="Northwind Cloud", logo_url=logo,
                           primary_color="#1f6feb", secondary_color="#f5f8ff",
                           support_email="help@northwind.example")
    login(page, "partner", make_user(portal="partner", partner_id=partner.id).email)
    page.goto("/partner/customers/new")
    page.fill("input[name=name]", "Fern Dental")
    page.fill("input[name=email]", "it@fern.example")
    page.click("#new-customer-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/partner/runs/\d+"))
    expect(page.locator(".run-headline")).to_have_text("All done", timeout=LIVE)


def test_commission_csv_downloads(page, db):
    partner = make_partner()
    customer = make_customer(partner_id=partner.id, name="Fern Dental")
    db.session.add(CommissionEntry(partner_id=partner.id, customer_id=customer.id,
                                   type="new_customer", base_amount=Decimal("300"),
                                   rate=Decimal("10"), amount=Decimal("30.00"),
                                   currency="USD", status="pending"))
    db.session.commit()
    login(page, "partner", make_user(portal="partner", partner_id=partner.id).email)
    page.goto("/partner/commissions")
    with page.expect_download() as download:
        page.click("text=Download CSV")
    body = open(download.value.path()).read()
    assert body.splitlines()[0].startswith("entry,date,customer_number")
    assert "Fern Dental" in body and "30.00" in body
