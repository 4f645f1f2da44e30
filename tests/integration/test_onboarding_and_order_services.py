"""The W1 and W2 service methods alone: success, each error, idempotent replay, compensation."""
import json
import threading
from datetime import datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from app.errors import DomainError, NotFound, TransientError, ValidationError
from app.models import (Customer, License, Notification, Order, Payment, Subscription,
                        Team, Tenant, Ticket, User)
from app.workflows.registry import get_service
from tests.factories import (make_customer, make_lead, make_license_template, make_plan,
                             make_quote, make_user)


def count(db, model, *where):
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar()


def test_create_from_lead(db):
    customers = get_service("customer")
    lead = make_lead(status="qualified")
    first = customers.create_from_lead(lead.id, idempotency_key="run1:create_customer")
    assert customers.create_from_lead(lead.id, idempotency_key="run1:create_customer") == first
    assert count(db, Customer) == 1
    user = db.session.execute(select(User).filter_by(customer_id=first["customer_id"])
                              ).scalar_one()
    assert user.portal == "customer" and user.password_hash is None  # invited by email
    with pytest.raises(DomainError, match="already converted"):
        customers.create_from_lead(lead.id, idempotency_key="run2:create_customer")
    with pytest.raises(DomainError, match="only a qualified lead"):
        customers.create_from_lead(make_lead(status="new").id)
    with pytest.raises(NotFound):
        customers.create_from_lead(999)


def test_subscriptions_follow_the_plan_and_cancel(db):
    billing = get_service("billing")
    customer = make_customer()
    trial = billing.create_subscription(customer.id, make_plan(trial_days=14).id,
                                        idempotency_key="k1")
    assert trial["status"] == "trialing"
    annual = billing.create_subscription(customer.id, make_plan(billing_cycle="annual").id)
    end = datetime.fromisoformat(annual["current_period_end"]).date()
    assert (end - datetime.utcnow().date()).days in (365, 366)
    assert billing.create_subscription(customer.id, make_plan(trial_days=14).id,
                                       idempotency_key="k1") == trial
    billing.cancel_subscription(trial["subscription_id"])
    assert db.session.get(Subscription, trial["subscription_id"]).status == "canceled"
    with pytest.raises(NotFound):
        billing.create_subscription(customer.id, 999)


def test_licenses_issue_and_revoke(db):
    licenses = get_service("license")
    customer, template = make_customer(), make_license_template(duration_days=30)
    issued = licenses.issue_license(customer.id, template.id, idempotency_key="k")
    # A replay returns the stored effect, masked like run history (the token is in License).
    replay = licenses.issue_license(customer.id, template.id, idempotency_key="k")
    assert replay == {**issued, "token": "••••••"}
    assert count(db, License) == 1
    assert issued["license_key"].startswith("LMST-") and issued["expires_at"]
    licenses.revoke_license(issued["license_id"])
    assert db.session.get(License, issued["license_id"]).status == "revoked"
    with pytest.raises(NotFound):
        licenses.issue_license(customer.id, 999)


def test_local_tenants_provision_and_deprovision(db, client):
    deployment = get_service("deployment")
    customer = make_customer(name="Juniper Yoga")
    key = get_service("license").issue_license(customer.id, make_license_template().id)
    tenant = deployment.provision_tenant(customer.id, key["license_key"], "shared",
                                         idempotency_key="k")
    assert deployment.provision_tenant(customer.id, key["license_key"], "shared",
                                       idempotency_key="k") == tenant
    slug = db.session.get(Tenant, tenant["tenant_id"]).slug
    assert client.get(f"/t/{slug}").status_code == 200
    with pytest.raises(DomainError, match="does not belong"):
        deployment.provision_tenant(customer.id, "LMST-NOPE", "shared")
    deployment.deprovision_tenant(tenant["tenant_id"])
    assert client.get(f"/t/{slug}").status_code == 404


def test_tickets(db):
    ticketing = get_service("ticketing")
    customer = make_customer()
    first = ticketing.create_ticket("Onboard", "x", customer.id, "high", "customer_success",
                                    "onboarding", idempotency_key="k")
    assert ticketing.create_ticket("Onboard", "x", customer.id, "high", "customer_success",
                                   "onboarding", idempotency_key="k") == first
    ticket = db.session.get(Ticket, first["ticket_id"])
    assert ticket.sla_due_at - ticket.created_at <= timedelta(hours=24, minutes=1)
    with pytest.raises(ValidationError):
        ticketing.create_ticket("x", "x", customer.id, "whenever", "ops")


def test_accept_quote_rules(db):
    crm = get_service("crm")
    quote = make_quote()
    accepted = crm.accept_quote(quote.id, "pat", idempotency_key="k")
    assert accepted["status"] == "accepted"
    assert crm.accept_quote(quote.id, "pat", idempotency_key="k") == accepted
    with pytest.raises(DomainError, match="already accepted"):
        crm.accept_quote(quote.id, "pat")
    with pytest.raises(DomainError, match="not been sent"):
        crm.accept_quote(make_quote(status="draft").id, "pat")
    with pytest.raises(DomainError, match="expired"):
        crm.accept_quote(make_quote(valid_until=datetime.utcnow() - timedelta(hours=1)).id, "x")


def test_one_order_per_quote(db):
    sales = get_service("sales")
    quote = make_quote(status="accepted")
    order = sales.create_order_from_quote(quote.id, "prepaid", idempotency_key="k")
    assert sales.create_order_from_quote(quote.id, "prepaid", idempotency_key="k") == order
    with pytest.raises(DomainError, match="already became order"):
        sales.create_order_from_quote(quote.id, "prepaid", idempotency_key="other")
    assert count(db, Order) == 1
    assert Decimal(order["total"]) == Decimal(quote.total)
    with pytest.raises(DomainError, match="not been accepted"):
        sales.create_order_from_quote(make_quote().id, "prepaid")


def _order(db):
    quote = make_quote(status="accepted")
    return get_service("sales").create_order_from_quote(quote.id, "prepaid"), quote


def test_payments_charge_once_refund_and_refuse_strangers_cards(db):
    billing = get_service("billing")
    order, quote = _order(db)
    card = billing.save_payment_method(order["customer_id"], "4242 4242 4242 4242", 1, 2031,
                                       "123")
    assert card.last4 == "4242" and "4242424242424242" not in card.gateway_token
    paid = billing.process_payment(order["order_id"], order["total"], f"pm:{card.id}",
                                   idempotency_key="k")
    assert billing.process_payment(order["order_id"], order["total"], f"pm:{card.id}",
                                   idempotency_key="k") == paid
    assert count(db, Payment) == 1
    billing.refund_payment(paid["payment_id"])
    assert db.session.get(Payment, paid["payment_id"]).status == "refunded"
    stranger = billing.save_payment_method(make_customer().id, "4242424242424242", 1, 2031,
                                           "123")
    other, _ = _order(db)
    with pytest.raises(ValidationError):
        billing.process_payment(other["order_id"], other["total"], f"pm:{stranger.id}")
    with pytest.raises(ValidationError):
        billing.save_payment_method(order["customer_id"], "4242 4242 4242 4241", 1, 2031, "1")


def test_manual_payment_leaves_the_invoice_open_and_network_errors_retry(db):
    billing = get_service("billing")
    order, _ = _order(db)
    pending = billing.process_payment(order["order_id"], order["total"], "manual")
    assert pending["status"] == "pending"
    other, _ = _order(db)
    card = billing.save_payment_method(other["customer_id"], "4000000000000119", 1, 2031, "123")
    with pytest.raises(TransientError):
        billing.process_payment(other["order_id"], other["total"], f"pm:{card.id}",
                                idempotency_key="net")


class Hook(BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        Hook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_notify_team_in_app_email_and_webhook(db):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        db.session.add(Team(name="operations", roles=["ops"],
                            webhook_url=f"http://127.0.0.1:{server.server_port}/hook"))
        db.session.commit()
        ops = [make_user(role="ops"), make_user(role="ops")]
        make_user(role="sales")
        notifications = get_service("notifications")
        result = notifications.notify_team("operations", "all", "New order", "O-1 is ready",
                                           {"order_id": 1}, idempotency_key="k")
        assert result == {"notified": 2}
        assert notifications.notify_team("operations", "all", "New order", "O-1 is ready",
                                         {"order_id": 1}, idempotency_key="k") == result
        assert count(db, Notification) == 2
        assert {n.user_id for n in db.session.execute(select(Notification)).scalars()} == \
            {u.id for u in ops}
        assert Hook.received[0]["subject"] == "New order"
    finally:
        server.shutdown()
    with pytest.raises(DomainError, match="no team called"):
        notifications.notify_team("nobody", "all", "x", "y", {})
    db.session.add(Team(name="empty", roles=["finance"]))
    db.session.commit()
    with pytest.raises(DomainError, match="Nobody is in the empty team"):
        notifications.notify_team("empty", "in_app", "x", "y", {})
