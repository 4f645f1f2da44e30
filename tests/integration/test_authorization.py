"""Every route checks on the server who may use it. The sweep covers every route registered,
so pages added later are checked too."""
import re

import pytest

from app.models import Invoice, utcnow
from tests.factories import (PASSWORD, make_customer, make_partner, make_subscription,
                             make_technician, make_user)

PORTALS = {"/staff": "staff", "/portal": "customer", "/partner": "partner"}
PUBLIC = {"auth.customer_login", "auth.partner_login", "auth.staff_login",
          "auth.accept_invitation", "auth.customer_forgot", "auth.partner_forgot",
          "auth.staff_forgot"}


def portal_routes(app):
    for rule in app.url_map.iter_rules():
        prefix = next((p for p in PORTALS if rule.rule.startswith(p + "/")), None)
        if prefix is None or rule.endpoint in PUBLIC:
            continue
        url = re.sub(r"<(?:[a-z]+:)?[a-z_]+>", "1", rule.rule)
        method = "GET" if "GET" in rule.methods else "POST"
        yield PORTALS[prefix], rule.endpoint, url, method


def request(client, method, url):
    if method == "GET":
        return client.get(url)
    return client.post_form(url, {})


def test_anonymous_visitors_are_sent_to_the_portals_login(app, client):
    for portal, endpoint, url, method in portal_routes(app):
        response = request(client, method, url)
        assert response.status_code == 302, (endpoint, response.status_code)
        assert "/login" in response.headers["Location"], endpoint


@pytest.mark.parametrize("portal", ["customer", "partner", "staff"])
def test_users_of_another_portal_are_refused(app, client, portal):
    partner = make_partner()
    customer = make_customer()
    user = make_user(portal=portal, role="admin" if portal == "staff" else None,
                     customer_id=customer.id if portal == "customer" else None,
                     partner_id=partner.id if portal == "partner" else None)
    assert client.login(user.email, PASSWORD, portal).status_code == 302
    for route_portal, endpoint, url, method in portal_routes(app):
        if route_portal == portal:
            continue
        response = request(client, method, url)
        assert response.status_code == 403, (portal, endpoint, response.status_code)


def test_a_login_of_one_portal_is_refused_by_the_others(client):
    customer = make_customer()
    user = make_user(portal="customer", customer_id=customer.id)
    assert client.login(user.email, PASSWORD, "staff").status_code == 401
    assert client.login(user.email, PASSWORD, "partner").status_code == 401
    assert client.login(user.email, PASSWORD, "customer").status_code == 302


def test_staff_roles_are_checked(client):
    technician = make_technician()
    client.login(technician.email, PASSWORD, "staff")
    for url in ("/staff/leads", "/staff/runs", "/staff/partners/1/settings", "/staff/outbox",
                "/staff/dispatch", "/staff/services"):
        assert client.get(url).status_code == 403, url
    assert client.get("/staff/jobs").status_code == 200


def test_a_customer_cannot_read_another_customers_records(db, client):
    mine, theirs = make_customer(), make_customer()
    their_subscription = make_subscription(customer=theirs)
    invoice = Invoice(number="INV-X", customer_id=theirs.id, issued_at=utcnow(), total=10)
    db.session.add(invoice)
    db.session.commit()
    user = make_user(portal="customer", customer_id=mine.id)
    client.login(user.email, PASSWORD, "customer")
    assert client.get(f"/portal/invoices/{invoice.id}").status_code == 404
    assert client.get(f"/portal/subscriptions/{their_subscription.id}").status_code == 404
    assert client.get(f"/portal/subscriptions/{their_subscription.id}/renew").status_code == 404
    assert b"INV-X" not in client.get("/portal/invoices").data


def test_a_partner_sees_only_its_own_sub_customers(client):
    mine, other = make_partner(), make_partner()
    own = make_customer(partner_id=mine.id, name="Own Sub")
    foreign = make_customer(partner_id=other.id, name="Foreign Sub")
    direct = make_customer(name="Direct Customer")
    user = make_user(portal="partner", partner_id=mine.id)
    client.login(user.email, PASSWORD, "partner")
    listing = client.get("/partner/customers").data
    assert b"Own Sub" in listing and b"Foreign Sub" not in listing
    assert b"Direct Customer" not in listing
    assert client.get(f"/partner/customers/{own.id}").status_code == 200
    assert client.get(f"/partner/customers/{foreign.id}").status_code == 404
    assert client.get(f"/partner/customers/{direct.id}").status_code == 404


def test_logins_are_throttled(app, client):
    user = make_user()
    app.config["LOGIN_MAX_ATTEMPTS"] = 3
    try:
        for _ in range(3):
            assert client.login(user.email, "wrong", "staff").status_code == 401
        assert client.login(user.email, PASSWORD, "staff").status_code == 429
    finally:
        app.config["LOGIN_MAX_ATTEMPTS"] = 1000


def test_posts_without_a_csrf_token_are_refused(client):
    user = make_user()
    client.login(user.email, PASSWORD, "staff")
    response = client.http.post("/logout", data={})
    assert response.status_code == 400


def test_passwords_are_hashed_and_cookies_protected(db, client):
    user = make_user()
    assert PASSWORD not in user.password_hash and user.password_hash.startswith("$argon2")
    response = client.login(user.email, PASSWORD, "staff")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_logout(client):
    user = make_user()
    client.login(user.email, PASSWORD, "staff")
    assert client.get("/staff/").status_code == 200
    client.post_form("/logout")
    assert client.get("/staff/").status_code == 302


def test_bad_input_never_gives_a_500(client):
    user = make_user()
    client.login(user.email, PASSWORD, "staff")
    for url, data in (("/staff/leads/999/convert", {"plan_id": "x"}),
                      ("/staff/quotes/999/accept", {}),
                      ("/staff/runs/999/signal", {"signal": "x", "payload": "{"}),
                      ("/staff/customers/999/deploy", {"bandwidth_plan": "\x00"})):
        assert 400 <= client.post_form(url, data).status_code < 500, url
    for url in ("/staff/customers?page=abc", "/staff/leads?status=x&q=" + "x" * 500,
                "/staff/dispatch?week=not-a-date", "/staff/runs?customer=abc"):
        assert client.get(url).status_code == 200, url
    # A NUL byte is refused before any view sees it (tests/integration/test_fuzz.py).
    assert client.get("/staff/leads?status=%00").status_code == 400
