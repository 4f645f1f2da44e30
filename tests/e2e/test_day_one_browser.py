"""Day-one operations in a real browser: finance records a transfer and refunds; a customer
pays an open invoice, opens a ticket and reads the reply; My internet draws the month's
usage; a suspended customer sees why, pays, and gets the service back (real workers, the NAS
stand-in). Screenshots go to $SCREENSHOT_DIR (default: a temporary folder)."""
import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.models import RadAcct, ServiceInstance, Ticket
from app.workflows.registry import get_service
from tests.conftest import wait_until
from tests.e2e.test_browser import login
from tests.factories import (make_customer, make_internet_service, make_invoice, make_user)
from tests.integration.test_dunning import make_due, nas, online, start, step_status  # noqa: F401

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="lastmile-shots-"))
LIVE = 60_000


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_finance_records_a_transfer_and_refunds_a_card_payment(page, db):
    customer = make_customer(name="Harbour Café")
    invoice = make_invoice(customer, total="59.00", due_days_ago=12)
    card_invoice = make_invoice(customer, total="25.00", due_days_ago=-3)
    card = get_service("billing").save_payment_method(customer.id, "4242424242424242", 12,
                                                      2031, "123")
    get_service("billing").charge_invoice(card_invoice, card.id, "browser-charge")
    user = make_user(role="finance")
    login(page, "staff", user.email)
    page.goto("/staff/invoices?due=overdue")
    expect(page.locator("#list")).to_contain_text(invoice.number)
    shot(page, "finance-invoices")
    page.click(f"text={invoice.number}")
    page.fill("input[name=reference]", "BANK-2026-0042")
    page.click("text=Record transfer")
    expect(page.locator("h1 .badge")).to_have_text("paid")
    expect(page.locator("#payments")).to_contain_text("transfer:BANK-2026-0042")
    shot(page, "finance-invoice-paid")

    page.goto(f"/staff/invoices/{card_invoice.id}")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#payments button:has-text('Refund')")
    expect(page.locator("#payments")).to_contain_text("refunded")
    expect(page.locator("h1 .badge")).to_have_text("void")
    page.goto("/staff/payments?status=refunded")
    expect(page.locator("#list")).to_contain_text("Harbour Café")


def test_a_customer_pays_an_invoice_opens_a_ticket_and_reads_the_reply(page, db):
    customer = make_customer(name="Willow Street Studio")
    invoice = make_invoice(customer, total="49.00", due_days_ago=2)
    user = make_user(portal="customer", customer_id=customer.id, name="Ana Customer")
    login(page, "customer", user.email)
    page.goto(f"/portal/invoices/{invoice.id}")
    shot(page, "customer-invoice-open")
    page.fill("input[name=card_number]", "4242 4242 4242 4242")
    page.fill("input[name=exp_month]", "12")
    page.fill("input[name=exp_year]", "2031")
    page.fill("input[name=cvc]", "123")
    page.click("button:has-text('Pay 49.00 USD')")
    expect(page.locator("h1 .badge")).to_have_text("paid")
    expect(page.locator(".flash")).to_contain_text("Thank you")
    shot(page, "customer-invoice-paid")

    page.goto("/portal/tickets")
    page.click("text=Open a ticket")
    page.fill("input[name=subject]", "Wi-Fi drops in the evening")
    page.select_option("select[name=category]", "support")
    page.fill("textarea[name=message]", "Every evening around 8pm the Wi-Fi drops for a minute.")
    page.click("button:has-text('Open ticket')")
    expect(page.locator("h1")).to_contain_text("Wi-Fi drops in the evening")
    ticket = db.session.execute(select(Ticket)).scalar_one()
    agent = make_user(role="support", name="Sam from Support")
    get_service("ticketing").reply(ticket.id, agent, "Thanks Ana, we changed your Wi-Fi "
                                   "channel; tell us if it happens again.", from_staff=True)
    page.reload()
    expect(page.locator(".ticket-message.from-staff")).to_contain_text("changed your Wi-Fi")
    shot(page, "customer-ticket-reply")


def test_my_internet_shows_the_usage_chart(page, db):
    customer = make_customer()
    service = make_internet_service(customer, ip_address="100.64.95.9")
    now = datetime.utcnow()
    for day in range(now.day):  # one session a day this month, a little more each day
        when = now.replace(day=day + 1, hour=12, minute=0)
        db.session.add(RadAcct(acctsessionid=f"d{day}", acctuniqueid=f"d{day}",
                               username=service.pppoe_username, nasipaddress="10.0.0.1",
                               acctstarttime=when - timedelta(hours=3), acctstoptime=when,
                               acctinputoctets=(day % 4 + 1) * 300 * 2**20,
                               acctoutputoctets=(day % 7 + 2) * 2**30))
    db.session.add(RadAcct(acctsessionid="now", acctuniqueid="now",
                           username=service.pppoe_username, nasipaddress="10.0.0.1",
                           acctstarttime=now - timedelta(minutes=30), acctupdatetime=now,
                           acctinputoctets=0, acctoutputoctets=0,
                           framedipaddress="100.64.95.9"))
    db.session.commit()
    user = make_user(portal="customer", customer_id=customer.id)
    login(page, "customer", user.email)
    page.click("nav >> text=My internet")
    expect(page.locator(".internet-panel")).to_contain_text("online")
    expect(page.locator(".usage-chart rect.bar-down")).to_have_count(
        len(get_service("radius").usage_by_day(service.pppoe_username, now.date().replace(
            day=1), (now.date().replace(day=28) + timedelta(days=4)).replace(day=1))))
    shot(page, "my-internet")


def test_a_suspended_customer_sees_why_and_pays_to_restore(page, db, workers, nas):
    customer = make_customer(name="Juniper Yoga")
    service = make_internet_service(customer, ip_address="100.64.96.3")
    invoice = make_invoice(customer, total="39.00", due_days_ago=15)
    online(db, nas, service)
    run_id = start(db)
    wait_until(lambda: step_status(db, run_id, "await_payment") == "waiting", timeout=60)
    make_due(db, run_id)
    wait_until(lambda: step_status(db, run_id, "await_payment_again") == "waiting", timeout=60)
    make_due(db, run_id)
    wait_until(lambda: step_status(db, run_id, "await_payment_while_suspended") == "waiting",
               timeout=60, message="the suspension")
    user = make_user(portal="customer", customer_id=customer.id)
    login(page, "customer", user.email)
    page.goto("/portal/internet")
    expect(page.locator(".notice-error")).to_contain_text("suspended")
    expect(page.locator(".notice-error")).to_contain_text(invoice.number)
    shot(page, "suspended-my-internet")
    page.click("text=Pay now to restore full speed")
    expect(page.locator(".notice-error")).to_contain_text("suspended")
    page.fill("input[name=card_number]", "4242424242424242")
    page.fill("input[name=exp_month]", "12")
    page.fill("input[name=exp_year]", "2031")
    page.fill("input[name=cvc]", "123")
    page.click("button:has-text('Pay 39.00 USD')")
    expect(page.locator("h1 .badge")).to_have_text("paid")

    wait_until(lambda: step_status(db, run_id, "restore_service") == "succeeded",
               timeout=60, message="the service restored")
    db.session.expire_all()
    assert db.session.get(ServiceInstance, service.id).status == "active"
    page.goto("/portal/internet")
    expect(page.locator(".internet-panel h3 .badge")).to_have_text("active")
    expect(page.locator(".notice-error")).to_have_count(0)
    shot(page, "restored-my-internet")
