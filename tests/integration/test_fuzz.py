"""Every route in the URL map, fed what an attacker sends (NUL bytes, integers past 2^31,
huge strings, bad Host headers), as a visitor and as a signed-in user of each portal: no
answer is a 5xx. Routes added later are covered without editing this file."""
import re

import pytest

from tests.conftest import PortalClient
from tests.factories import PASSWORD, make_customer, make_partner, make_user

HUGE_INT = str(2 ** 31)
HUGER_INT = str(2 ** 64)
HUGE_TEXT = "x" * 100_000
# Fields the portals' forms read; each gets every bad value in turn.
FIELDS = ("q", "page", "email", "password", "name", "plan_id", "technician_id", "exp_year",
          "exp_month", "card_number", "cvc", "custom_domain", "brand_name", "reference",
          "payout_reference", "license_quota", "commission_rate", "signal", "payload",
          "starts_at", "scheduled_date", "service_location", "quantity", "token", "code",
          "status", "week", "customer", "subscription_id", "quote_id", "lead_id", "entry_ids",
          "payment_method", "seats", "term_months", "next", "subdomain", "contact_email")
BAD_VALUES = ("\x00", "a\x00b", HUGE_INT, "-" + HUGER_INT, HUGE_TEXT, "\r\nX-Injected: 1",
              "../../etc/passwd", "{{7*7}}", "")
PATH_VALUES = {"int": (HUGE_INT, HUGER_INT, "0"), "default": ("%00", "a" * 5000, "..%2f")}


def _urls(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith("stream"):
            continue  # static files; live streams hold the connection for a minute
        converters = dict(re.findall(r"<(?:([a-z]+)(?:\([^)]*\))?:)?([a-z_]+)>", rule.rule))
        variants = PATH_VALUES["int"] if "int" in converters.keys() else \
            PATH_VALUES["default"] if converters else ("",)
        for value in variants:
            url = re.sub(r"<(?:([a-z]+)(?:\([^)]*\))?:)?[a-z_]+>",
                         lambda m: value if m.group(1) != "int" or value.isdigit() else "1",
                         rule.rule)
            yield rule, url


def _browsers(app):
    customer, partner = make_customer(), make_partner()
    users = {"visitor": None,
             "admin": make_user(role="admin"),
             "customer": make_user(portal="customer", customer_id=customer.id),
             "partner": make_user(portal="partner", partner_id=partner.id)}
    for name, user in users.items():
        browser = PortalClient(app.test_client())
        if user is not None:
            assert browser.login(user.email, PASSWORD, user.portal).status_code == 302
        yield name, browser


def _check(response, who, method, url, note=""):
    assert response.status_code < 500, (who, method, url[:200], note, response.status_code,
                                        response.data[:300])


def test_no_route_answers_bad_input_with_a_5xx(app, db):
    count = 0
    for who, browser in _browsers(app):
        for rule, url in _urls(app):
            if "GET" in rule.methods:
                for value in BAD_VALUES:
                    query = "&".join(f"{name}={value.encode().hex() if False else value}"
                                     for name in ("q", "page", "status", "customer", "next"))
                    _check(browser.get(url + "?" + query.replace("\x00", "%00")
                                       .replace("\r", "%0d").replace("\n", "%0a")),
                           who, "GET", url, value[:20])
                    count += 1
            if "POST" in rule.methods:
                for value in BAD_VALUES:
                    form = {name: value for name in FIELDS}
                    _check(browser.post_form(url, form), who, "POST", url, repr(value[:20]))
                    count += 1
    assert count > 1000


@pytest.mark.parametrize("host", ["..", "", "a b", "exa\x00mple.com", "<x>", "[::1", "x" * 300,
                                  "ex.com:99999999", "ex.com:abc"])
def test_bad_host_headers_are_refused_on_every_route(app, db, host):
    client = app.test_client()
    for rule, url in _urls(app):
        method = "get" if "GET" in rule.methods else "post"
        response = getattr(client, method)(url, headers={"Host": host})
        assert response.status_code < 500, (url, host, response.status_code)
