"""Accounts in a real browser: password reset from the email, enrolling in and signing in
with TOTP, sign out everywhere, the audit page. The Content-Security-Policy is on: the pages
must work under it (no violation reported by Chromium)."""
import os
import re
import time
from urllib.parse import urlsplit

import pyotp
import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD, make_customer, make_user
from tests.integration.test_accounts import body_text

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("LASTMILE_SCREENSHOTS")  # a directory: save screenshots of the pages




@pytest.fixture()
def csp_violations(page):
    seen = []
    page.on("console", lambda message: "Content Security Policy" in message.text
            and seen.append(message.text))
    yield seen
    assert seen == []


def shot(page, name):
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def sign_in(page, path, email, password=PASSWORD):
    page.goto(path)
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_password_reset_from_the_email(page, db, smtp, csp_violations):
    user = make_user(portal="customer", customer_id=make_customer().id)
    page.goto("/portal/login")
    page.click("text=Forgot your password?")
    page.fill("input[name=email]", user.email)
    shot(page, "forgot_password")
    page.click("button[type=submit]")
    expect(page.locator("#reset-sent")).to_contain_text("on its way")
    [message] = smtp.messages
    link = re.search(r"http\S+/reset-password/\S+", body_text(message)).group(0)
    page.goto(urlsplit(link).path)
    page.fill("input[name=password]", "my new long password")
    page.fill("input[name=confirm]", "my new long password")
    shot(page, "reset_password")
    page.click("button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("password is changed")
    sign_in(page, "/portal/login", user.email, "my new long password")
    expect(page.locator("header.topbar")).to_be_visible()


def test_enrolling_and_signing_in_with_totp(app, page, db, csp_violations):
    app.config["TWO_FACTOR_REQUIRED_ROLES"] = ("admin", "finance")
    try:
        finance = make_user(role="finance")
        sign_in(page, "/staff/login", finance.email)
        expect(page).to_have_url(re.compile(r"/login/two-factor/enrol$"))
        expect(page.locator(".totp-qr svg")).to_be_visible()
        shot(page, "totp_enrol")
        secret = page.locator("#totp-secret").inner_text()
        page.fill("input[name=code]", pyotp.TOTP(secret).now())
        page.click("button[type=submit]")
        expect(page.locator("#recovery-codes li")).to_have_count(10)
        shot(page, "recovery_codes")
        page.click("text=I have saved them")
        expect(page.locator("header.topbar")).to_be_visible()
        page.click("header.topbar button:has-text('Sign out')")

        sign_in(page, "/staff/login", finance.email)
        expect(page).to_have_url(re.compile(r"/login/two-factor$"))
        shot(page, "totp_sign_in")
        # A fresh code: the enrolment's code may not be used twice.
        page.fill("input[name=code]", pyotp.TOTP(secret).at(time.time() + 30))
        page.click("button[type=submit]")
        expect(page.locator("header.topbar")).to_be_visible()
    finally:
        app.config["TWO_FACTOR_REQUIRED_ROLES"] = ()


def test_sign_out_everywhere(browser, live_server, page, db, csp_violations):
    user = make_user(role="support")
    other = browser.new_context(base_url=live_server).new_page()
    sign_in(other, "/staff/login", user.email)
    expect(other.locator("header.topbar")).to_be_visible()
    sign_in(page, "/staff/login", user.email)
    page.click("header.topbar a[title='Your account']")
    expect(page.locator("#sessions tbody tr")).to_have_count(2)
    shot(page, "account")
    page.once("dialog", lambda dialog: dialog.accept())  # data-confirm asks first
    page.click("#sign-out-everywhere")
    expect(page).to_have_url(re.compile(r"/staff/login"))
    other.goto("/staff/")
    expect(other).to_have_url(re.compile(r"/staff/login"))
    other.context.close()


def test_the_audit_page(page, db, csp_violations):
    admin = make_user(role="admin", email="boss@example.test")
    ops = make_user(role="ops", email="ops.worker@example.test")
    sign_in(page, "/staff/login", ops.email)
    page.click("header.topbar button:has-text('Sign out')")
    sign_in(page, "/staff/login", admin.email)
    page.click("nav a:has-text('Audit')")
    expect(page.locator("#audit-table")).to_contain_text("ops.worker@example.test")
    page.select_option("select[name=user]", label="ops.worker@example.test")
    page.select_option("select[name=action]", "logout")
    page.click(".audit-filters button[type=submit]")
    expect(page.locator("#audit-table tbody tr")).to_have_count(1)
    expect(page.locator("#audit-table")).to_contain_text("logout")
    shot(page, "audit")
