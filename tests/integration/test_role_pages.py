"""Issue 14: what each user sees. Dashboards per role link only to pages the role may open;
the 403 page leads back; values read in words (no True/None/raw timestamps)."""
import re
from datetime import datetime, timedelta

import pytest

from app.models import Appointment, Ticket
from tests.factories import (PASSWORD, make_customer, make_invoice, make_site_survey,
                             make_technician, make_user)

ROLES = ("admin", "sales", "ops", "dispatcher", "technician", "finance", "support")
HEADINGS = {"technician": "Your next jobs", "dispatcher": "Dispatch", "finance": "Money",
            "support": "Support queue", "sales": "Sales", "ops": "Runs needing attention"}


def _staff(client, role):
    user = make_technician() if role == "technician" else make_user(role=role)
    client.login(user.email, PASSWORD)
    return user


def _links(html):
    return sorted(set(re.findall(r'href="(/staff[^"#]*)', html)))


@pytest.mark.parametrize("role", ROLES)
def test_each_role_dashboard_links_only_to_pages_it_may_open(client, db, role):
    customer = make_customer(service_area="north")
    make_site_survey(customer)
    make_invoice(customer=customer)
    _staff(client, role)
    response = client.get("/staff/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    if role in HEADINGS:
        assert HEADINGS[role] in html
    for link in _links(html):
        answer = client.get(link)
        assert answer.status_code == 200, f"{role}: {link} answered {answer.status_code}"


def test_technician_sees_next_jobs_not_money(client, db):
    tech = _staff(client, "technician")
    customer = make_customer(name="Willow Street Studio")
    db.session.add(Appointment(technician_id=tech.id, customer_id=customer.id, address="1 Willow St",
                               starts_at=datetime.utcnow() + timedelta(hours=3),
                               ends_at=datetime.utcnow() + timedelta(hours=5)))
    db.session.commit()
    html = client.get("/staff/").get_data(as_text=True)
    assert "Willow Street Studio" in html and "1 Willow St" in html
    assert "recurring revenue" not in html and "open leads" not in html


def test_dispatcher_sees_the_installations_to_book(client, db):
    customer = make_customer(name="Harbour Bakery", service_area="north")
    make_site_survey(customer)
    db.session.add(Ticket(number="T-UNASSIGNED", title="Install dish", type="installation",
                          customer_id=customer.id, status="open"))
    db.session.commit()
    _staff(client, "dispatcher")
    html = client.get("/staff/").get_data(as_text=True)
    assert "Harbour Bakery" in html and "T-UNASSIGNED" in html
    assert "recurring revenue" not in html


def test_finance_sees_open_and_overdue_money(client, db):
    make_invoice(total="120.00", due_days_ago=10)
    make_invoice(total="30.00", due_days_ago=-5)
    _staff(client, "finance")
    html = client.get("/staff/").get_data(as_text=True)
    assert "150.00" in html and "120.00" in html and "overdue" in html


def test_forbidden_page_offers_the_way_back(client, db):
    _staff(client, "dispatcher")
    response = client.get("/staff/leads")
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert 'href="/staff/"' in html and "Back to your dashboard" in html
    assert 'href="/staff/dispatch"' in html
    assert 'href="/staff/leads"' not in html


def test_customer_page_reads_in_words(client, db):
    from tests.factories import make_subscription
    customer = make_customer()
    make_subscription(customer=customer)
    _staff(client, "admin")
    html = client.get(f"/staff/customers/{customer.id}").get_data(as_text=True)
    assert not re.search(r">\s*(True|False|None)\s*<", html)
    assert not re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", html)


def test_the_run_monitor_refreshes_itself_and_names_the_customer(client, db):
    from app.workflows import engine
    customer = make_customer(name="Harbour Café")
    from tests.factories import make_subscription
    subscription = make_subscription(customer=customer)
    engine.start_run("customer_renewal_process", {
        "customer_id": customer.id, "subscription_id": subscription.id, "renewal_term": 12},
        customer_id=customer.id, started_from="customer")
    _staff(client, "ops")
    page = client.get("/staff/runs").get_data(as_text=True)
    assert 'id="list" hx-get="" hx-trigger="every 5s' in page
    assert "<th>Customer</th>" in page and "Harbour Café" in page
    assert "Subscription renewal" in page
    rows = client.get("/staff/runs", headers={"HX-Request": "true", "HX-Target": "list"})
    assert "Harbour Café" in rows.get_data(as_text=True) and "<html" not in rows.get_data(
        as_text=True)


def test_a_renewed_subscription_shows_what_the_customer_pays_now(client, db):
    from datetime import date

    from app.models import SubscriptionRenewal
    from tests.factories import make_plan, make_quote, make_subscription
    customer = make_customer()
    plan = make_plan(name="Manager Pro", price="79.00")
    subscription = make_subscription(customer=customer, plan=plan)
    quote = make_quote(customer=customer, plan=plan, status="accepted", kind="renewal")
    quote.total = quote.total.__class__("853.20")
    db.session.add(SubscriptionRenewal(subscription_id=subscription.id, quote_id=quote.id,
                                       term_months=12, previous_end=date(2026, 12, 1),
                                       new_end=date(2027, 12, 1), renewed_at=datetime.utcnow()))
    db.session.commit()
    user = make_user(portal="customer", customer_id=customer.id)
    client.login(user.email, PASSWORD, portal="customer")
    html = client.get(f"/portal/subscriptions/{subscription.id}").get_data(as_text=True)
    assert "853.20 USD for 12 months" in html and "79.00 USD / monthly" not in html
    assert "Renewed until 01 Dec 2027" in html
