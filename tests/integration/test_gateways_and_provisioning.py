"""Stripe (against a stand-in of its API), the webhook tenant provisioner (against a stand-in
of its contract), and a deployment scheduled for later that really runs at its time."""
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.errors import DomainError, TransientError
from app.models import DeploymentSchedule, Order, Payment, PaymentMethod, Tenant
from app.workflows.registry import get_service
from tests.conftest import wait_until
from tests.factories import make_customer, make_quote
from tests.fakes import serve
from tests.fakes.provisioner import FakeProvisioner
from tests.fakes.stripe import FakeStripe


@pytest.fixture()
def stripe(app):
    fake = FakeStripe()
    with serve(fake) as url:
        app.config.update(STRIPE_API_KEY=fake.api_key, STRIPE_API_BASE=url)
        yield fake
    app.config.update(STRIPE_API_KEY=None, STRIPE_API_BASE="https://api.stripe.com")


def _invoice_and_card(db, token):
    customer = make_customer()
    card = PaymentMethod(customer_id=customer.id, gateway="stripe", gateway_token=token,
                         brand="visa", last4="4242")
    db.session.add(card)
    db.session.commit()
    billing = get_service("billing")
    invoice = billing.new_invoice(customer.id, "USD", [("Fibre 300", 1, Decimal("59.00"))])
    db.session.commit()
    return billing, invoice, card


def test_stripe_charges_once_per_idempotency_key(db, stripe):
    billing, invoice, card = _invoice_and_card(db, "pm_card_visa")
    first = billing.charge_invoice(invoice, card.id, "run9:process_payment")
    assert first.status == "succeeded" and first.gateway_reference.startswith("pi_")
    assert invoice.status == "paid"
    method, path, body = stripe.calls[0]
    assert (method, path) == ("POST", "/v1/payment_intents")
    assert body["amount"] == "5900" and body["currency"] == "usd" and body["confirm"] == "true"
    # The same key again (a retried step) neither charges nor records a second payment.
    assert billing.charge_invoice(invoice, card.id, "run9:process_payment").id == first.id
    assert len(stripe.calls) == 1


def test_stripe_replays_a_lost_answer_from_its_idempotency_key(db, stripe):
    billing, invoice, card = _invoice_and_card(db, "pm_card_visa")
    from app.integrations.payments import stripe_gateway
    from flask import current_app
    one = stripe_gateway.charge(current_app.config, "pm_card_visa", Decimal("10"), "USD",
                                "same-key", "x")
    two = stripe_gateway.charge(current_app.config, "pm_card_visa", Decimal("10"), "USD",
                                "same-key", "x")
    assert one == two and len(stripe.calls) == 1


def test_a_stripe_decline_fails_with_stripes_reason(db, stripe):
    billing, invoice, card = _invoice_and_card(db, "pm_card_chargeDeclinedInsufficientFunds")
    with pytest.raises(DomainError, match="insufficient funds"):
        billing.charge_invoice(invoice, card.id, "run10:process_payment")
    payment = db.session.execute(select(Payment)).scalar_one()
    assert payment.status == "failed" and invoice.status == "open"


def test_a_stripe_payment_is_refunded_as_compensation(db, stripe):
    billing, invoice, card = _invoice_and_card(db, "pm_card_visa")
    payment = billing.charge_invoice(invoice, card.id, "run11:process_payment")
    assert billing.refund_payment(payment.id)["status"] == "refunded"
    assert stripe.calls[-1][1] == "/v1/refunds"
    assert db.session.get(Payment, payment.id).invoice.status == "void"


@pytest.fixture()
def provisioner(app):
    def start(**options):
        fake = FakeProvisioner(**options)
        context = serve(fake)
        url = context.__enter__()
        app.config.update(PROVISIONING_BACKEND="webhook", PROVISIONING_WEBHOOK_URL=url,
                          PROVISIONING_WEBHOOK_TOKEN=fake.token)
        started.append(context)
        return fake
    started = []
    yield start
    for context in started:
        context.__exit__(None, None, None)
    app.config.update(PROVISIONING_BACKEND="local", PROVISIONING_WEBHOOK_URL=None)


def test_the_webhook_provisioner_is_followed_until_ready(db, provisioner):
    fake = provisioner(polls_until_ready=2)
    customer = make_customer()
    deployment = get_service("deployment")
    with pytest.raises(TransientError, match="still being provisioned"):
        deployment.provision_tenant(customer.id, None, "shared", idempotency_key="run1:prov")
    result = deployment.provision_tenant(customer.id, None, "shared",
                                         idempotency_key="run1:prov")  # the engine's retry
    assert result["status"] == "active" and result["tenant_url"].endswith(".tenants.example")
    assert len(fake.tenants) == 1  # the retry followed the same tenant, it did not make another
    deployment.deprovision_tenant(result["tenant_id"])
    assert fake.tenants == {}


def test_a_failed_provisioning_is_a_clear_error(db, provisioner):
    provisioner(polls_until_ready=1, fail=True)
    with pytest.raises(DomainError, match="no capacity in region"):
        get_service("deployment").provision_tenant(make_customer().id, None, "shared",
                                                   idempotency_key="run2:prov")


def test_a_scheduled_deployment_runs_at_its_time(db, workers):
    customer = make_customer()
    quote = make_quote(customer=customer, status="accepted")
    order = Order(number="O-900001", quote_id=quote.id, customer_id=customer.id, total=10)
    db.session.add(order)
    db.session.commit()
    when = datetime.utcnow() + timedelta(seconds=3)
    result = get_service("deployment").schedule_deployment(order.id, customer.id, "high",
                                                           when.isoformat())
    schedule_id = result["schedule_id"]
    assert db.session.get(DeploymentSchedule, schedule_id).status == "scheduled"

    def done():
        db.session.expire_all()
        schedule = db.session.get(DeploymentSchedule, schedule_id)
        return schedule if schedule.status == "completed" else None
    schedule = wait_until(done, timeout=40, message="the scheduled deployment")
    tenant = db.session.get(Tenant, schedule.tenant_id)
    assert tenant.customer_id == customer.id and tenant.status == "active"
    assert db.session.get(Order, order.id).status == "active"
    assert tenant.created_at >= when - timedelta(seconds=1)  # not before its time


def test_a_deployment_date_in_the_past_is_refused(db):
    customer = make_customer()
    quote = make_quote(customer=customer, status="accepted")
    order = Order(number="O-900002", quote_id=quote.id, customer_id=customer.id, total=10)
    db.session.add(order)
    db.session.commit()
    with pytest.raises(DomainError, match="future"):
        get_service("deployment").schedule_deployment(
            order.id, customer.id, "normal", (datetime.utcnow() - timedelta(days=1)).isoformat())
