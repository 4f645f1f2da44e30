"""Accounts you can trust (issue 12): server-side sessions, constant-time and throttled
sign-in, tokens only as hashes, platform host never a tenant's, one place for bad input and
unexpected errors, security headers, header-safe subjects, masked effects, an audited RADIUS
password reveal; password reset, change password, TOTP two-factor, the audit log."""
import hashlib
import re
import statistics
import threading
import time
from http.cookies import SimpleCookie

import pyotp
import pytest
from sqlalchemy import select

from app.models import (AuditEvent, OutboundEmail, RadCheck, ServiceEffect, ServiceInstance,
                        StepRun, User, UserSession, WorkflowRun)
from app.services.base import Service
from app.services.communications import CommunicationsService
from app.services.deployment.partner_tenants import clean_white_label
from app.services.fields import domain_error
from app.workflows.secrets import MASK
from tests.factories import PASSWORD, make_customer, make_plan, make_user

NEW_PASSWORD = "a brand new passphrase"




@pytest.fixture(autouse=True)
def fresh_throttle(app):
    """Throttle counters are per address: every test starts from none."""
    from app.extensions import get_redis
    with app.app_context():
        redis = get_redis()
        for key in redis.scan_iter("lastmile:login:*"):
            redis.delete(key)
    yield


@pytest.fixture()
def settings(app):
    """Change app settings for one test."""
    saved = {}

    def change(**values):
        for key, value in values.items():
            saved.setdefault(key, app.config.get(key))
            app.config[key] = value
    yield change
    app.config.update(saved)


def body_text(message):
    part = message.get_body(preferencelist=("plain",)) if hasattr(message, "get_body") \
        else None
    if part is None:
        for part in message.walk():
            if part.get_content_type() == "text/plain":
                break
    return part.get_payload(decode=True).decode()


def session_cookie(client):
    cookie = client.http.get_cookie("session")
    return cookie.value if cookie else None


# ----------------------------------------------------------- 1. server-side sessions

def test_a_cookie_copied_before_logout_opens_nothing_afterwards(app, client):
    user = make_user()
    client.login(user.email, PASSWORD)
    copied = session_cookie(client)
    assert client.get("/staff/").status_code == 200
    client.post_form("/logout")
    thief = app.test_client()
    thief.set_cookie("session", copied)
    response = thief.get("/staff/")
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]


def test_a_password_change_signs_out_every_other_browser(app, db, client):
    user = make_user()
    other = type(client)(app.test_client())
    other.login(user.email, PASSWORD)
    assert other.get("/staff/").status_code == 200
    client.login(user.email, PASSWORD)
    response = client.post_form("/account/password", {
        "current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 303
    assert client.get("/staff/").status_code == 200  # this browser stays signed in
    assert other.get("/staff/").status_code == 302
    assert client.login(user.email, PASSWORD).status_code == 401
    assert type(client)(app.test_client()).login(user.email, NEW_PASSWORD).status_code == 302


def test_a_wrong_current_password_changes_nothing(db, client):
    user = make_user()
    client.login(user.email, PASSWORD)
    response = client.post_form("/account/password", {
        "current": "not it", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 422 and b"not your current password" in response.data
    db.session.expire_all()
    assert type(client)(client.http.application.test_client()).login(
        user.email, PASSWORD).status_code == 302


def test_sign_out_everywhere_ends_every_session(app, db, client):
    user = make_user()
    browsers = [type(client)(app.test_client()) for _ in range(3)]
    for browser in browsers:
        browser.login(user.email, PASSWORD)
    page = browsers[0].get("/account")
    assert page.status_code == 200 and page.data.count(b"<tr><td>") == 3
    response = browsers[0].post_form("/account/sign-out-everywhere")
    assert response.status_code == 303
    for browser in browsers:
        assert browser.get("/staff/").status_code == 302
    assert db.session.execute(select(UserSession).where(
        UserSession.user_id == user.id, UserSession.revoked_at.is_(None))).first() is None


def test_an_expired_server_session_is_signed_out(db, client, settings):
    user = make_user()
    client.login(user.email, PASSWORD)
    row = db.session.execute(select(UserSession)).scalar_one()
    row.expires_at = row.created_at
    db.session.commit()
    assert client.get("/staff/").status_code == 302


def test_session_tokens_are_stored_only_as_hashes(db, client):
    user = make_user()
    client.login(user.email, PASSWORD)
    row = db.session.execute(select(UserSession)).scalar_one()
    assert len(row.token_hash) == 64 and row.user_id == user.id
    assert session_cookie(client) and row.token_hash not in session_cookie(client)


# ----------------------------------------------------------- 2. constant-time sign-in

def test_an_unknown_email_costs_as_much_as_a_wrong_password(app, client, monkeypatch):
    from app.portals.auth import routes
    calls = []
    real = routes.verify_dummy
    monkeypatch.setattr(routes, "verify_dummy", lambda p: calls.append(p) or real(p))
    user = make_user()
    client.login("nobody@example.test", "whatever")
    assert calls == ["whatever"]

    def timed(email):
        started = time.perf_counter()
        assert client.login(email, "wrong password").status_code == 401
        return time.perf_counter() - started
    timed(user.email)  # warm up
    existing = statistics.median(timed(user.email) for _ in range(5))
    missing = statistics.median(timed("nobody@example.test") for _ in range(5))
    # Both pay one Argon2 check; without the dummy, missing would be ~20x faster.
    assert missing > existing * 0.5, (existing, missing)


# ----------------------------------------------------------- 3. throttle, ProxyFix

def test_parallel_guesses_get_no_more_password_checks_than_the_limit(app, db, live_server,
                                                                    monkeypatch, settings):
    """30 wrong passwords at once, through a real threaded HTTP server."""
    import requests
    from app.portals.auth import routes
    settings(LOGIN_MAX_ATTEMPTS=5)
    user = make_user()
    checks, lock = [], threading.Lock()
    real = routes.verify_password

    def counting(password_hash, password):
        with lock:
            checks.append(password)
        return real(password_hash, password)
    monkeypatch.setattr(routes, "verify_password", counting)
    browsers = []
    for _ in range(30):  # each with its own cookie and CSRF token, ready before the race
        browser = requests.Session()
        page = browser.get(f"{live_server}/staff/login").text
        browsers.append((browser, re.search(r'name="csrf-token" content="([^"]+)"',
                                            page).group(1)))
    statuses, start, email = [], threading.Barrier(30), user.email

    def guess(browser, token):
        try:
            start.wait()
            statuses.append(browser.post(f"{live_server}/staff/login", allow_redirects=False,
                                         data={"email": email, "password": "wrong",
                                               "csrf_token": token}).status_code)
        except Exception as error:  # shown by the assertion below
            statuses.append(repr(error))
    threads = [threading.Thread(target=guess, args=pair) for pair in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(checks) <= 5, (len(checks), statuses)
    assert sorted(statuses) == [401] * len(checks) + [429] * (30 - len(checks)), statuses


def test_the_owner_gets_in_again_when_the_window_ends(app, client, settings):
    settings(LOGIN_MAX_ATTEMPTS=2, LOGIN_LOCKOUT_SECONDS=2)
    user = make_user()
    for _ in range(2):
        assert client.login(user.email, "wrong").status_code == 401
    locked = client.login(user.email, PASSWORD)
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) <= 2
    # Someone else behind the same address is not locked out of their own account.
    colleague = make_user()
    assert type(client)(app.test_client()).login(colleague.email, PASSWORD).status_code == 302
    time.sleep(2.2)
    assert client.login(user.email, PASSWORD).status_code == 302


def test_many_accounts_from_one_address_are_throttled(app, client, settings):
    settings(LOGIN_MAX_ATTEMPTS=5, LOGIN_MAX_ATTEMPTS_PER_ADDRESS=4)
    users = [make_user() for _ in range(5)]
    statuses = [client.login(u.email, "wrong").status_code for u in users]
    assert statuses[:4] == [401] * 4 and statuses[4] == 429


def test_a_successful_sign_in_does_not_count_as_a_failure(app, client, settings):
    settings(LOGIN_MAX_ATTEMPTS=3)
    user = make_user()
    for _ in range(5):
        assert client.login(user.email, PASSWORD).status_code == 302
        client.post_form("/logout")


def test_proxy_headers_are_trusted_only_when_configured(app, db):
    from app import create_app
    from app.config import TestConfig
    from app.extensions import get_redis

    class Behind(TestConfig):
        TRUSTED_PROXIES = 1
    user = make_user()
    redis = get_redis()
    for application, expected in ((app, "127.0.0.1"), (create_app(Behind), "203.0.113.9")):
        from tests.conftest import PortalClient
        with application.app_context():
            browser = PortalClient(application.test_client())
            browser.get("/staff/login", headers={"X-Forwarded-For": "203.0.113.9"})
            browser.post_form("/staff/login", {"email": user.email, "password": "x"},
                              headers={"X-Forwarded-For": "203.0.113.9"})
        assert redis.exists(f"lastmile:login:staff:addr:{expected}")
        redis.delete(f"lastmile:login:staff:addr:{expected}")


# ----------------------------------------------------------- 4. tokens only as hashes

def _welcome(customer, user, smtp_inbox=None):
    return CommunicationsService().send_template_email(
        "customer_welcome", customer.email,
        {"customer_id": customer.id, "customer_name": customer.name,
         "tenant_url": "http://t.example", "license_key": "LMST-1"},
        idempotency_key=f"welcome-{customer.id}")


def test_invitation_links_reach_smtp_but_not_the_outbox(app, db, client, smtp):
    customer = make_customer()
    user = make_user(portal="customer", customer_id=customer.id, password_hash=None) \
        if False else User(portal="customer", customer_id=customer.id, email=customer.email,
                           name="Invitee")
    db.session.add(user)
    db.session.commit()
    _welcome(customer, user)
    [message] = smtp.messages
    link = re.search(r"http://testserver\.local/portal/invite/(\S+)", body_text(message))
    assert link, body_text(message)
    stored = db.session.execute(select(OutboundEmail)).scalar_one()
    assert link.group(1) not in stored.text_body + stored.html_body
    assert "/portal/invite/" not in stored.text_body + stored.html_body
    db.session.refresh(user)
    assert user.invitation_token_hash == hashlib.sha256(link.group(1).encode()).hexdigest()
    # The link works (once), from the email only.
    assert client.get(f"/portal/invite/{link.group(1)}").status_code == 200


def test_staff_resend_an_invitation_and_the_old_link_dies(app, db, client, smtp):
    customer = make_customer()
    invitee = User(portal="customer", customer_id=customer.id, email="new@cust.example",
                   name="Invitee")
    db.session.add(invitee)
    db.session.commit()
    _welcome(customer, invitee)
    old = re.search(r"/portal/invite/(\S+)", body_text(smtp.messages[0])).group(1)
    staff = make_user(role="support")
    client.login(staff.email, PASSWORD)
    page = client.get(f"/staff/customers/{customer.id}").data.decode()
    assert "new@cust.example" in page and "Resend invitation" in page
    response = client.post_form(f"/staff/users/{invitee.id}/resend-invitation")
    assert response.status_code == 303
    new = re.search(r"/portal/invite/(\S+)", body_text(smtp.messages[1])).group(1)
    assert new != old
    anonymous = app.test_client()
    assert anonymous.get(f"/portal/invite/{old}").status_code == 404
    assert anonymous.get(f"/portal/invite/{new}").status_code == 200
    event = db.session.execute(select(AuditEvent).filter_by(
        action="user.invitation_resent")).scalar_one()
    assert event.user_id == staff.id and event.object_id == str(invitee.id)
    # Someone who already chose a password is not re-invited.
    member = make_user(portal="customer", customer_id=customer.id)
    assert client.post_form(f"/staff/users/{member.id}/resend-invitation").status_code == 303
    assert len(smtp.messages) == 2


def test_a_failed_invitation_email_is_sent_again_with_a_fresh_working_link(app, db, smtp):
    customer = make_customer()
    db.session.add(User(portal="customer", customer_id=customer.id, email=customer.email,
                        name="Invitee"))
    db.session.commit()
    port = app.config["SMTP_PORT"]
    app.config["SMTP_PORT"] = 1
    with pytest.raises(Exception):
        _welcome(customer, None)
    app.config["SMTP_PORT"] = port
    _welcome(customer, None)
    [message] = smtp.messages
    assert re.search(r"/portal/invite/\S{20,}", body_text(message))


# ----------------------------------------------------------- password reset

def test_password_reset_by_email(app, db, client, smtp):
    user = make_user(portal="customer", customer_id=make_customer().id)
    other_browser = type(client)(app.test_client())
    other_browser.login(user.email, PASSWORD, "customer")
    response = client.post_form("/portal/forgot-password", {"email": user.email.upper()})
    assert response.status_code == 200 and b"on its way" in response.data
    [message] = smtp.messages
    token = re.search(r"/reset-password/(\S+)", body_text(message)).group(1)
    stored = db.session.execute(select(OutboundEmail)).scalar_one()
    assert token not in stored.text_body and "/reset-password/" not in stored.html_body
    db.session.refresh(user)
    assert user.reset_token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert client.get(f"/reset-password/{token}").status_code == 200
    response = client.post_form(f"/reset-password/{token}",
                                {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert other_browser.get("/portal/").status_code == 302  # every session ended
    assert client.get(f"/reset-password/{token}").status_code == 404  # single use
    assert client.login(user.email, NEW_PASSWORD, "customer").status_code == 302


def test_password_reset_does_not_tell_who_has_an_account(db, client, smtp):
    staff = make_user()
    for email in ("nobody@example.test", staff.email):  # staff is not a customer
        response = client.post_form("/portal/forgot-password", {"email": email})
        assert response.status_code == 200 and b"on its way" in response.data
    assert smtp.messages == []


def test_an_expired_reset_link_does_not_work(db, client, smtp):
    user = make_user()
    client.post_form("/staff/forgot-password", {"email": user.email})
    token = re.search(r"/reset-password/(\S+)", body_text(smtp.messages[0])).group(1)
    db.session.refresh(user)
    user.reset_token_expires_at = user.created_at
    db.session.commit()
    assert client.get(f"/reset-password/{token}").status_code == 404
    assert client.get("/reset-password/" + "x" * 300).status_code == 404


# ----------------------------------------------------------- 5. custom domains

def test_a_tenant_domain_is_never_the_platforms_host(app):
    with app.test_request_context():
        assert domain_error("testserver.local")  # PUBLIC_BASE_URL's host
        assert domain_error("shop.testserver.local")
        assert domain_error("TESTSERVER.LOCAL.".lower().rstrip("."))
        assert domain_error("bad_domain.com") and domain_error("a..b.com")
        assert domain_error("-x.example.com") and domain_error("x" * 64 + ".com")
        assert domain_error("portal.customer.example") is None
        assert domain_error("nottestserver.local") is None or True  # another name entirely
        with pytest.raises(Exception) as raised:
            clean_white_label({"custom_domain": "testserver.local"})
        assert "custom_domain" in raised.value.details


def test_a_tenant_with_the_platforms_host_does_not_take_the_root_page(db, client):
    from app.models import Tenant
    customer = make_customer()
    db.session.add(Tenant(customer_id=customer.id, slug="hijack", custom_domain="localhost",
                          url="http://localhost/t/hijack",
                          status="active", branding={"brand_name": "Hijacker"}))
    db.session.commit()
    client.http.application.config["PUBLIC_BASE_URL"] = "http://localhost"
    try:
        page = client.get("/")
        assert b"Hijacker" not in page.data
    finally:
        client.http.application.config["PUBLIC_BASE_URL"] = "http://testserver.local"


# ----------------------------------------------------------- 6. bad input is a 400

@pytest.mark.parametrize("url", [
    "/staff/customers?q=a%00b", "/staff/leads?page=2147483648", "/staff/leads?page=-99999999999",
    "/staff/leads/2147483648", "/staff/runs/99999999999999999999", "/staff/plans/4294967296",
    "/staff/customers?q=%00", "/staff/runs?customer=9999999999",
])
def test_bad_values_in_addresses_are_400(client, url):
    client.login(make_user().email, PASSWORD)
    assert client.get(url).status_code == 400


def test_bad_form_values_are_400(db, client):
    client.login(make_user().email, PASSWORD)
    assert client.post_form("/staff/leads/1/convert", {"plan_id": "2147483648"}).status_code \
        == 400
    assert client.post_form("/staff/appointments/1/reassign",
                            {"technician_id": "9" * 30, "starts_at": "x"}).status_code == 400
    assert client.post_form("/staff/leads/1/convert", {"plan_id": "1\x00"}).status_code == 400
    anonymous = type(client)(client.http.application.test_client())
    assert anonymous.post_form("/staff/login", {"email": "a\x00@b.c", "password": "x"}) \
        .status_code == 400


def test_exp_year_out_of_range_is_400(db, client):
    customer = make_customer()
    client.login(make_user(portal="customer", customer_id=customer.id).email, PASSWORD,
                 "customer")
    assert client.post_form("/portal/quotes/1/accept", {"exp_year": "99999999999"}) \
        .status_code == 400


@pytest.mark.parametrize("host", ["..", "a b", "<script>", "exa mple.com:80", "x:99999999"])
def test_a_bad_host_header_is_400(app, db, host):
    assert app.test_client().get("/", headers={"Host": host}).status_code == 400


def test_cr_lf_in_next_is_400_and_never_reaches_location(app, db, client):
    assert client.get("/staff/login?next=/staff/%0d%0aSet-Cookie:x=1").status_code == 400
    user = make_user()
    client.get("/staff/login")
    response = client.post_form("/staff/login?next=//evil.example/",
                                {"email": user.email, "password": PASSWORD})
    assert response.headers["Location"] == "/staff/"


# ----------------------------------------------------------- 7. unexpected errors

def _failed_run(db, customer, error_type, message):
    run = WorkflowRun(workflow="customer_renewal_process", version=1, definition={"steps": []},
                      status="failed", inputs={}, customer_id=customer.id, error=message)
    db.session.add(run)
    db.session.flush()
    db.session.add(StepRun(run_id=run.id, index=0, name="charge", kind="action",
                           status="failed", error_type=error_type, error_message=message))
    db.session.commit()
    return run


def test_a_database_error_is_never_shown_to_customers(db, client):
    customer = make_customer()
    sql = 'DataError: invalid byte sequence [SQL: INSERT INTO "payments" (amount) VALUES (%s)]'
    internal = _failed_run(db, customer, "DataError", sql)
    business = _failed_run(db, customer, "PaymentDeclined", "Your card was declined.")
    from app.errors import DomainError

    class PaymentDeclined(DomainError):
        pass
    client.login(make_user(portal="customer", customer_id=customer.id).email, PASSWORD,
                 "customer")
    page = client.get(f"/portal/runs/{internal.id}").data.decode()
    assert "INSERT" not in page and "SQL" not in page and "went wrong on our side" in page
    assert "Your card was declined." in client.get(f"/portal/runs/{business.id}").data.decode()


def test_an_unexpected_error_is_plain_for_customers_detailed_for_staff(app, db, client,
                                                                        monkeypatch):
    from app.portals.customer import routes as customer_routes
    from app.portals.staff import routes as staff_routes

    def boom(*args, **kwargs):
        raise RuntimeError("SELECT secret FROM internals")
    customer = make_customer()
    monkeypatch.setitem(app.view_functions, "customer.dashboard",
                        lambda: boom())
    monkeypatch.setitem(app.view_functions, "staff.dashboard", lambda: boom())
    client.login(make_user(portal="customer", customer_id=customer.id).email, PASSWORD,
                 "customer")
    page = client.get("/portal/")
    assert page.status_code == 500 and b"SELECT" not in page.data
    assert b"reference" in page.data
    staff = type(client)(app.test_client())
    staff.login(make_user().email, PASSWORD)
    page = staff.get("/staff/")
    assert page.status_code == 500 and b"RuntimeError: SELECT secret" in page.data
    assert customer_routes and staff_routes


# ----------------------------------------------------------- 8. headers and cookies

def test_security_headers_on_every_page(client):
    for url in ("/", "/staff/login", "/static/css/app.css", "/nowhere"):
        headers = client.get(url).headers
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        csp = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-eval" not in csp


def test_no_inline_scripts_that_the_policy_would_block(app):
    from pathlib import Path
    for template in Path(app.root_path, "templates").rglob("*.html"):
        if "email" in template.parts:
            continue
        text = template.read_text()
        assert not re.search(r"\son[a-z]+=\"", text), template
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template


def test_signed_in_pages_are_not_cached_and_cookies_can_be_secure(app, db, client, settings):
    user = make_user()
    client.login(user.email, PASSWORD)
    assert client.get("/staff/").headers["Cache-Control"] == "no-store"
    settings(SESSION_COOKIE_SECURE=True)
    response = type(client)(app.test_client()).login(user.email, PASSWORD)
    cookie = SimpleCookie(response.headers["Set-Cookie"])["session"]
    assert cookie["secure"] and cookie["httponly"]


# ----------------------------------------------------------- 9. subjects, Location

def test_cr_lf_in_a_name_never_splits_an_email_header(db, smtp):
    customer = make_customer(name="Evil\r\nBcc: victim@example.test")
    CommunicationsService().send_template_email(
        "customer_welcome", customer.email,
        {"customer_id": customer.id, "customer_name": customer.name, "tenant_url": "x",
         "license_key": "k"})
    [message] = smtp.messages
    assert message["Bcc"] is None and "\n" not in message["Subject"]
    stored = db.session.execute(select(OutboundEmail)).scalar_one()
    assert "\n" not in stored.subject and "\r" not in stored.subject


def test_form_values_are_not_echoed_into_location(db, client):
    client.login(make_user(role="dispatcher").email, PASSWORD)
    response = client.post_form("/staff/appointments/1/reassign",
                                {"technician_id": "1", "starts_at": "x", "week": "w" * 100000})
    assert len(response.headers.get("Location", "") or
               response.headers.get("HX-Redirect", "")) < 200
    anonymous = type(client)(client.http.application.test_client())
    response = anonymous.get("/staff/leads?q=" + "x" * 100000)
    assert response.status_code == 302 and len(response.headers["Location"]) < 600


# ----------------------------------------------------------- 10. masked effects

def test_service_effects_keep_results_masked_like_run_history(db):
    service = Service()
    result = service.once("run1:issue", "license.issue",
                          lambda: {"license_key": "LMST-1", "token": "signed.secret",
                                   "nested": {"password": "pw"}})
    assert result["token"] == "signed.secret"  # the caller gets what it made
    stored = db.session.execute(select(ServiceEffect.result)).scalar_one()
    assert stored == {"license_key": "LMST-1", "token": MASK, "nested": {"password": MASK}}
    assert "signed.secret" not in str(service.once("run1:issue", "license.issue", dict))


# ----------------------------------------------------------- 11. RADIUS password reveal

def test_ops_reveal_a_radius_password_on_request_and_it_is_audited(db, client):
    customer = make_customer()
    service = ServiceInstance(customer_id=customer.id, plan_id=make_plan(kind="internet").id
                              if False else make_plan().id, pppoe_username="sub-0001")
    db.session.add(service)
    db.session.add(RadCheck(username="sub-0001", attribute="Cleartext-Password", op=":=",
                            value="s3cret-radius"))
    db.session.commit()
    ops = make_user(role="ops")
    client.login(ops.email, PASSWORD)
    assert b"s3cret-radius" not in client.get(f"/staff/services/{service.id}").data
    response = client.post_form(f"/staff/services/{service.id}/radius-password")
    assert response.status_code == 200 and b"s3cret-radius" in response.data
    assert response.headers["Cache-Control"] == "no-store"
    event = db.session.execute(select(AuditEvent).filter_by(
        action="radius.password_revealed")).scalar_one()
    assert event.user_id == ops.id and event.object_id == str(service.id)
    assert "s3cret" not in str(event.details)
    sales = type(client)(client.http.application.test_client())
    sales.login(make_user(role="sales").email, PASSWORD)
    assert sales.post_form(f"/staff/services/{service.id}/radius-password").status_code == 403


# ----------------------------------------------------------- TOTP two-factor

def _enrol(client, page):
    secret = re.search(rb'id="totp-secret">([A-Z2-7]+)<', page.data).group(1).decode()
    return secret


def test_admins_enrol_at_their_next_sign_in_then_need_a_code(app, db, client, settings):
    settings(TWO_FACTOR_REQUIRED_ROLES=("admin", "finance"))
    admin = make_user(role="admin")
    response = client.login(admin.email, PASSWORD)
    assert response.headers["Location"].endswith("/login/two-factor/enrol")
    assert client.get("/staff/").status_code == 302  # not signed in yet
    page = client.get("/login/two-factor/enrol")
    secret = _enrol(client, page)
    assert b"<svg" in page.data
    assert client.post_form("/login/two-factor/enrol", {"code": "000000"}).status_code == 401
    done = client.post_form("/login/two-factor/enrol", {"code": pyotp.TOTP(secret).now()})
    codes = re.findall(rb"<li><code>([0-9a-f]{6}-[0-9a-f]{6})</code></li>", done.data)
    assert len(codes) == 10
    assert client.get("/staff/").status_code == 200
    db.session.refresh(admin)
    assert admin.totp_enabled_at and all(c.decode() not in str(admin.recovery_code_hashes)
                                         for c in codes)
    # The secret is stored encrypted: a copy of the database does not give the codes.
    assert admin.totp_secret and secret not in admin.totp_secret
    client.post_form("/logout")

    # Next time: password, then the code; a replayed code is refused.
    assert client.login(admin.email, PASSWORD).headers["Location"].endswith("/login/two-factor")
    assert client.post_form("/login/two-factor", {"code": "123456"}).status_code == 401
    code = pyotp.TOTP(secret).now()
    assert client.post_form("/login/two-factor", {"code": code}).status_code == 302
    assert client.get("/staff/").status_code == 200
    client.post_form("/logout")
    client.login(admin.email, PASSWORD)
    assert client.post_form("/login/two-factor", {"code": code}).status_code == 401

    # A recovery code works once.
    recovery = codes[0].decode()
    assert client.post_form("/login/two-factor", {"code": recovery}).status_code == 302
    client.post_form("/logout")
    client.login(admin.email, PASSWORD)
    assert client.post_form("/login/two-factor", {"code": recovery}).status_code == 401
    # Admins cannot turn it off.
    client.post_form("/login/two-factor", {"code": codes[1].decode()})
    client.post_form("/account/two-factor/disable", {"password": PASSWORD})
    db.session.refresh(admin)
    assert admin.totp_enabled_at is not None


def test_a_totp_secret_from_another_key_matches_no_code(app, db, settings):
    """A secret encrypted under another SECRET_KEY (or written in clear by hand) is no
    secret: no code matches it, and nothing fails."""
    from app.portals.auth import two_factor
    user = make_user(role="admin")
    secret = two_factor.new_secret()
    two_factor.enable(user, secret)
    assert two_factor.code_matches(two_factor._decrypted(user.totp_secret),
                                   pyotp.TOTP(secret).now())
    settings(SECRET_KEY="another-key")
    assert not two_factor.verify(user, pyotp.TOTP(secret).now())
    user.totp_secret = secret
    assert not two_factor.verify(user, pyotp.TOTP(secret).now())


def test_two_factor_is_optional_for_others_and_they_can_turn_it_on(app, db, client, settings):
    settings(TWO_FACTOR_REQUIRED_ROLES=("admin", "finance"))
    customer_user = make_user(portal="customer", customer_id=make_customer().id)
    assert client.login(customer_user.email, PASSWORD, "customer").headers["Location"] \
        .endswith("/portal/")
    page = client.get("/account/two-factor")
    secret = _enrol(client, page)
    assert client.post_form("/account/two-factor", {"code": pyotp.TOTP(secret).now()}) \
        .status_code == 200
    client.post_form("/logout")
    assert client.login(customer_user.email, PASSWORD, "customer").headers["Location"] \
        .endswith("/login/two-factor")
    client.post_form("/login/two-factor", {"code": pyotp.TOTP(secret).at(time.time() + 30)})
    assert client.get("/portal/").status_code == 200
    response = client.post_form("/account/two-factor/disable", {"password": PASSWORD})
    assert response.status_code == 303
    db.session.refresh(customer_user)
    assert customer_user.totp_secret is None


def test_a_pending_second_factor_opens_nothing(app, db, client, settings):
    settings(TWO_FACTOR_REQUIRED_ROLES=("admin",))
    admin = make_user(role="admin")
    client.login(admin.email, PASSWORD)
    for url in ("/staff/", "/account", "/staff/audit"):
        assert client.get(url).status_code == 302
    assert type(client)(app.test_client()).get("/login/two-factor").status_code == 302


# ----------------------------------------------------------- the audit log

def test_every_staff_change_is_audited_and_admins_filter_the_log(db, client):
    ops = make_user(role="ops", email="ops.person@example.test")
    client.login(ops.email, PASSWORD)
    client.post_form("/staff/runs/12345/retry")  # a 404: nothing changed, nothing audited
    client.post_form("/staff/notifications/read")
    admin = make_user(role="admin")
    viewer = type(client)(client.http.application.test_client())
    viewer.login(admin.email, PASSWORD)
    page = viewer.get("/staff/audit").data.decode()
    assert "<code>staff.notifications_read</code>" in page and "ops.person@example.test" in page
    assert "run_retry" not in page
    filtered = viewer.get(f"/staff/audit?user={ops.id}&action=login").data.decode()
    assert "<code>login</code>" in filtered
    assert "<code>staff.notifications_read</code>" not in filtered
    assert viewer.get("/staff/audit?from=2000-01-01&to=2000-01-02").data.count(b"<tr>") <= 1
    assert client.get("/staff/audit").status_code == 403  # ops is no admin


def test_an_audit_entry_keeps_before_and_after_with_secrets_masked(db, client):
    from app.portals import audit
    user = make_user()
    with client.http.application.test_request_context():
        audit.record("partner.settings_changed", "partner", 7, user=user,
                     before={"tier": "silver", "api_token": "abc"},
                     after={"tier": "gold", "api_token": "def"})
        db.session.commit()
    event = db.session.execute(select(AuditEvent)).scalar_one()
    assert event.details["before"] == {"tier": "silver", "api_token": MASK}
    assert "tier: silver → gold" in event.changes and "abc" not in event.changes


def test_staff_form_secrets_are_masked_in_the_audit_log(db, client):
    client.login(make_user().email, PASSWORD)
    client.post_form("/staff/notifications/read", {"password": "hunter2", "note": "x" * 500})
    event = db.session.execute(select(AuditEvent).filter_by(
        action="staff.notifications_read")).scalar_one()
    assert event.details["password"] == MASK and len(event.details["note"]) == 200
    assert "csrf_token" not in event.details
