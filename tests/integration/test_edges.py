"""The rules every workflow keeps at its edges (SPEC §7), through real workers and, for double
submits, real concurrent HTTP requests against the app on a real port. Each test asserts the
end state in the database."""
import os
import re
import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta

import pytest
import redis as redis_lib
import requests
from sqlalchemy import func, select

from app.errors import DomainError, ValidationError
from app.models import (Appointment, Customer, DeploymentSchedule, Invoice, IpAddress, IpPool,
                        Order,
                        OutboundEmail, Payment, PaymentMethod, Quote, RadCheck, RunEvent,
                        ServiceInstance, StepRun, Subscription, SubscriptionRenewal, Team,
                        Tenant, WorkflowRun)
from app.workflows import engine
from app.workflows.registry import get_service
from tests.conftest import REDIS_URL, start_worker, stop_worker, wait_until
from tests.factories import (PASSWORD, make_customer, make_license_template, make_partner,
                             make_plan, make_quote, make_site_survey, make_subscription,
                             make_technician, make_user)

FINAL = ("succeeded", "failed", "compensated", "cancelled", "expired", "declined")


def finish(db, run_id, *statuses, timeout=60):
    statuses = statuses or FINAL

    def done():
        db.session.expire_all()
        found = db.session.get(WorkflowRun, run_id)
        return found if found.status in statuses else None
    return wait_until(done, timeout=timeout, message=f"run {run_id} to reach {statuses}")


def count(db, model, *where):
    db.session.expire_all()
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar()


def card(customer, number="4242424242424242"):
    return get_service("billing").save_payment_method(customer.id, number, 12, 2031, "123")


def waiting_renewal(db, days=10):
    customer = make_customer()
    subscription = make_subscription(customer=customer,
                                     period_end=date.today() + timedelta(days=days))
    run = engine.start_run("customer_renewal_process", {
        "customer_id": customer.id, "subscription_id": subscription.id, "renewal_term": 1},
        started_from="customer", customer_id=customer.id)
    finish(db, run.id, "waiting")
    return customer, subscription, run


def ops_team(db):
    make_user(role="ops")
    db.session.add(Team(name="operations", roles=["ops", "admin"]))
    db.session.commit()


# ---------------------------------------------------------------- paid means captured

def test_an_unknown_payment_outcome_is_never_counted_as_paid(db, workers):
    """The network-error card never answers: the run fails after its retries, with no
    extension, no accepted quote and no paid invoice."""
    customer, subscription, run = waiting_renewal(db)
    end_before = subscription.current_period_end
    method = card(customer, "4000000000000119")
    assert engine.signal_run(run.id, "quote_accepted", {"payment_method_id": method.id})
    failed = finish(db, run.id, timeout=90)
    assert failed.status in ("failed", "compensated")
    pay = db.session.execute(select(StepRun).filter_by(run_id=run.id,
                                                       name="process_payment")).scalar_one()
    assert pay.attempts == pay.max_attempts and pay.status == "failed"
    assert db.session.get(Subscription, subscription.id).current_period_end == end_before
    assert count(db, SubscriptionRenewal) == 0
    assert count(db, Payment, Payment.status == "succeeded") == 0
    assert count(db, Invoice, Invoice.status == "paid") == 0
    assert db.session.execute(select(Quote.status).filter_by(workflow_run_id=run.id)
                              ).scalar() != "accepted"


def test_a_lost_reply_is_resolved_by_asking_the_gateway(db, workers):
    """The gateway captured the money but its answer never came: the retry asks the gateway by
    the same key and settles the payment; nothing is charged twice."""
    ops_team(db)
    customer = make_customer()
    quote = make_quote(customer=customer)
    run = engine.start_run("quote_accepted_to_order", {
        "quote_id": quote.id, "accepted_by": customer.email, "payment_type": "prepaid",
        "payment_method": f"pm:{card(customer, '4000000000000259').id}"})
    assert finish(db, run.id).status == "succeeded", finish(db, run.id).error
    pay = db.session.execute(select(StepRun).filter_by(run_id=run.id,
                                                       name="process_payment")).scalar_one()
    assert pay.attempts == 2
    payment = db.session.execute(select(Payment)).scalar_one()
    assert payment.status == "succeeded" and payment.invoice.status == "paid"
    charges = list(redis_lib.Redis.from_url(REDIS_URL).scan_iter("lastmile:sandbox:charge:*"))
    assert len(charges) == 1
    assert count(db, OutboundEmail, OutboundEmail.template == "order_confirmation") == 1


def test_manual_prepaid_waits_visibly_for_the_transfer(db, workers, client):
    ops_team(db)
    customer = make_customer()
    quote = make_quote(customer=customer)
    run = engine.start_run("quote_accepted_to_order", {
        "quote_id": quote.id, "accepted_by": "sales", "payment_type": "prepaid",
        "payment_method": "manual"})
    finish(db, run.id, "waiting")
    order = db.session.execute(select(Order)).scalar_one()
    invoice = db.session.execute(select(Invoice)).scalar_one()
    assert order.status == "awaiting_payment" and invoice.status == "open"
    assert count(db, OutboundEmail, OutboundEmail.template == "order_confirmation") == 0
    # Nobody can say "paid" before the money is recorded, nor for another invoice.
    with pytest.raises(ValidationError):
        engine.signal_run(run.id, "payment_received", {"invoice_id": invoice.id})
    with pytest.raises(ValidationError):
        engine.signal_run(run.id, "payment_received", {})
    client.login(make_user(role="finance").email, PASSWORD)
    answer = client.post_form(f"/staff/invoices/{invoice.id}/transfer",
                              {"reference": "BANK-REF-77"})
    assert answer.status_code in (302, 303)
    assert finish(db, run.id).status == "succeeded", finish(db, run.id).error
    db.session.expire_all()
    assert db.session.get(Invoice, invoice.id).status == "paid"
    assert db.session.get(Order, order.id).status == "approved"
    assert count(db, OutboundEmail, OutboundEmail.template == "order_confirmation") == 1


# ---------------------------------------------------------------- signals

def test_a_staff_signal_cannot_skip_the_payment(db, workers, client):
    customer, subscription, run = waiting_renewal(db)
    end_before = subscription.current_period_end
    stranger_card = card(make_customer())
    with pytest.raises(ValidationError) as refused:
        engine.signal_run(run.id, "quote_accepted", {})
    assert "payment_method_id" in refused.value.details
    with pytest.raises(ValidationError):
        engine.signal_run(run.id, "quote_accepted", {"payment_method_id": stranger_card.id})
    admin = make_user(role="admin")
    client.login(admin.email, PASSWORD)
    page = client.get(f"/staff/runs/{run.id}").get_data(as_text=True)
    assert 'name="field_payment_method_id"' in page and 'name="confirm"' in page
    # Unconfirmed, then the prefilled form as it was: neither moves the run.
    client.post_form(f"/staff/runs/{run.id}/signal", {"signal": "quote_accepted"})
    answer = client.post_form(f"/staff/runs/{run.id}/signal",
                              {"signal": "quote_accepted", "confirm": "yes"},
                              follow_redirects=True)
    assert "Not sent" in answer.get_data(as_text=True)
    assert finish(db, run.id, "waiting").status == "waiting"
    quote = db.session.execute(select(Quote).filter_by(workflow_run_id=run.id)).scalar_one()
    assert quote.status == "sent"
    assert db.session.get(Subscription, subscription.id).current_period_end == end_before
    # With the customer's own card it goes on, charges for real, and says who sent it.
    own = card(customer)
    client.post_form(f"/staff/runs/{run.id}/signal", {
        "signal": "quote_accepted", "confirm": "yes", "field_payment_method_id": str(own.id)})
    assert finish(db, run.id).status == "succeeded"
    assert count(db, Payment, Payment.status == "succeeded") == 1
    received = db.session.execute(select(RunEvent).filter_by(
        run_id=run.id, kind="signal.received")).scalar_one()
    assert admin.name in received.message and received.data["by_user_id"] == admin.id


# ---------------------------------------------------------------- cancel takes promises back

def test_cancelling_a_renewal_withdraws_its_quote(db, workers, client):
    customer, subscription, run = waiting_renewal(db)
    end_before = subscription.current_period_end
    assert engine.cancel_run(run.id)
    assert finish(db, run.id).status == "cancelled"
    quote = db.session.execute(select(Quote).filter_by(workflow_run_id=run.id)).scalar_one()
    assert quote.status == "withdrawn"
    with pytest.raises(DomainError):
        get_service("crm").accept_quote(quote.id, "sales")
    client.login(make_user(role="sales").email, PASSWORD)
    answer = client.post_form(f"/staff/quotes/{quote.id}/accept", {
        "accepted_by": "x", "payment_type": "postpaid", "priority": "normal"})
    assert answer.status_code == 422
    assert count(db, WorkflowRun, WorkflowRun.workflow == "quote_accepted_to_order") == 0
    assert count(db, Order) == 0
    assert db.session.get(Subscription, subscription.id).current_period_end == end_before


def test_a_live_renewal_quote_is_accepted_only_through_its_run(db, workers):
    customer, subscription, run = waiting_renewal(db)
    quote = db.session.execute(select(Quote).filter_by(workflow_run_id=run.id)).scalar_one()
    order_run = engine.start_run("quote_accepted_to_order", {
        "quote_id": quote.id, "accepted_by": "sales", "payment_type": "postpaid"})
    assert "renewal" in finish(db, order_run.id).error
    assert count(db, Order) == 0 and count(db, DeploymentSchedule) == 0
    assert db.session.get(Quote, quote.id).status == "sent"


# ---------------------------------------------------------------- one click, one effect

class Browser:
    """A signed-in HTTP session against the live server, as a browser tab would hold."""

    def __init__(self, base, portal, email):
        self.base, self.http = base, requests.Session()
        path = {"staff": "/staff/login", "customer": "/portal/login",
                "partner": "/partner/login"}[portal]
        self.token = self._token(self.http.get(base + path).text)
        signed_in = self.http.post(base + path, data={
            "email": email, "password": PASSWORD, "csrf_token": self.token})
        assert signed_in.ok
        self.token = self._token(signed_in.text) or self.token

    @staticmethod
    def _token(html):
        found = re.search(r'name="csrf-token" content="([^"]+)"', html)
        return found.group(1) if found else None

    def form(self, path):
        """The form page's own submission token, as a browser has it once the page is shown."""
        html = self.http.get(self.base + path).text
        found = re.search(r'name="submission_token" value="([^"]+)"', html)
        return found.group(1) if found else None

    def post(self, path, data):
        return self.http.post(self.base + path, data={**data, "csrf_token": self.token},
                              allow_redirects=False)


def parallel(count_, submit):
    with ThreadPoolExecutor(max_workers=count_) as pool:
        return list(pool.map(lambda _: submit(), range(count_)))


def run_ids(responses):
    return {int(re.search(r"/runs/(\d+)", r.headers["Location"]).group(1)) for r in responses}


def test_twenty_parallel_deploy_posts_make_one_installation(db, workers, live_server):
    customer = make_customer(service_area="north")
    make_site_survey(customer)
    make_plan(code="fibre-100", kind="internet")
    make_technician(areas=("north",))
    pool = IpPool(name="north", prefix="10.9.0.0/28", gateway="10.9.0.1", service_area="north")
    db.session.add(pool)
    db.session.flush()
    db.session.add_all(IpAddress(pool_id=pool.id, address=f"10.9.0.{n}") for n in range(2, 14))
    db.session.commit()
    browser = Browser(live_server, "staff", make_user(role="ops").email)
    path = f"/staff/customers/{customer.id}/deploy"
    form = {"bandwidth_plan": "fibre-100", "service_location": customer.service_address,
            "submission_token": browser.form(path)}
    # Twenty posts of the same form, and three from other tabs (other tokens) at once.
    answers = parallel(20, lambda: browser.post(path, form)) + parallel(
        3, lambda: browser.post(path, {**form, "submission_token": browser.form(path)}))
    assert {a.status_code for a in answers} == {303}
    assert len(run_ids(answers)) == 1
    run_id = run_ids(answers).pop()
    finish(db, run_id, "waiting", timeout=60)
    assert count(db, WorkflowRun) == 1
    assert count(db, ServiceInstance) == 1 and count(db, Appointment) == 1
    assert count(db, RadCheck, RadCheck.attribute == "Cleartext-Password") == 1


def test_two_identical_partner_posts_make_one_customer(db, workers, live_server):
    partner = make_partner(license_quota=10, plan_id=make_plan().id,
                           license_template_id=make_license_template().id)
    browser = Browser(live_server, "partner",
                      make_user(portal="partner", partner_id=partner.id).email)
    token = browser.form("/partner/customers/new")
    form = {"name": "Twin Bakery", "email": "owner@twin.example", "phone": "+1 555 0100",
            "company": "Twin Bakery", "service_address": "1 Twin Road",
            "requested_licenses": "1", "brand_name": "Northwind", "primary_color": "#123456",
            "secondary_color": "#abcdef", "submission_token": token}
    answers = parallel(2, lambda: browser.post("/partner/customers/new", form))
    assert len(run_ids(answers)) == 1, [a.status_code for a in answers]
    # The back button: the same form again, after the run finished.
    run_id = run_ids(answers).pop()
    assert finish(db, run_id).status == "succeeded", finish(db, run_id).error
    again = browser.post("/partner/customers/new", form)
    assert run_ids([again]) == {run_id}
    assert count(db, Customer, Customer.email == "owner@twin.example") == 1


def test_two_parallel_renew_posts_make_one_renewal(db, workers, live_server):
    customer = make_customer()
    subscription = make_subscription(customer=customer,
                                     period_end=date.today() + timedelta(days=10))
    user = make_user(portal="customer", customer_id=customer.id)
    tabs = [Browser(live_server, "customer", user.email) for _ in range(2)]
    path = f"/portal/subscriptions/{subscription.id}/renew"
    forms = [{"renewal_term": "12", "submission_token": tab.form(path)} for tab in tabs]
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda pair: pair[0].post(path, pair[1]), zip(tabs, forms)))
    assert len(run_ids(answers)) == 1
    run = finish(db, run_ids(answers).pop(), "waiting")
    assert run.status == "waiting"
    assert count(db, WorkflowRun) == 1 and count(db, Quote) == 1


def test_twenty_parallel_accept_and_pay_with_a_new_card_save_one_card(db, workers,
                                                                         live_server):
    customer, subscription, run = waiting_renewal(db)
    user = make_user(portal="customer", customer_id=customer.id)
    browser = Browser(live_server, "customer", user.email)
    form = {"payment_method": "new", "card_number": "4242 4242 4242 4242", "exp_month": "12",
            "exp_year": "2031", "cvc": "123"}
    path = f"/portal/renewals/{run.id}/accept"  # ids, not ORM objects, into the threads
    answers = parallel(20, lambda: browser.post(path, form))
    assert all(a.status_code in (204, 302, 303) for a in answers), \
        {a.status_code for a in answers}
    assert finish(db, run.id).status == "succeeded"
    assert count(db, PaymentMethod) == 1
    assert count(db, Payment, Payment.status == "succeeded") == 1
    assert count(db, SubscriptionRenewal) == 1


# ---------------------------------------------------------------- timers in the database

def _flushall():
    redis_lib.Redis.from_url(REDIS_URL).flushall()


def test_a_scheduled_deployment_runs_after_redis_lost_its_data(db, workers):
    ops_team(db)
    customer = make_customer()
    quote = make_quote(customer=customer)
    run = engine.start_run("quote_accepted_to_order", {
        "quote_id": quote.id, "accepted_by": "x", "payment_type": "postpaid",
        "scheduled_date": (datetime.utcnow() + timedelta(seconds=4)).isoformat()})
    assert finish(db, run.id).status == "succeeded", finish(db, run.id).error
    _flushall()

    def deployed():
        db.session.expire_all()
        return db.session.execute(select(DeploymentSchedule.status)).scalar() == "completed"
    wait_until(deployed, timeout=60, message="the scheduled deployment to run")
    assert count(db, Tenant, Tenant.customer_id == customer.id, Tenant.status == "active") == 1
    assert db.session.execute(select(Order.status)).scalar() == "active"


def test_a_queued_run_finishes_within_a_minute_of_a_flushall(db, workers):
    """Both workers busy, a third run queued behind them; Redis loses everything, then the
    workers fall idle with no other traffic: the reaper, armed by their own tickers, finds
    the queued step whose job is gone."""
    busy = [engine.start_run("test_slow", {"seconds": 6}) for _ in range(2)]
    wait_until(lambda: count(db, StepRun, StepRun.status == "running") == 2, timeout=20,
               message="both workers to be busy")
    queued = engine.start_run("test_success", {"greeting": "hello"})
    assert db.session.execute(select(StepRun.status).filter_by(
        run_id=queued.id, name="first")).scalar() == "queued"
    _flushall()
    flushed_at = datetime.utcnow()
    finished = finish(db, queued.id, timeout=60)
    assert finished.status == "succeeded"
    assert (finished.finished_at - flushed_at).total_seconds() < 60
    for run in busy:
        assert finish(db, run.id).status == "succeeded"


def test_a_step_whose_worker_died_with_its_scheduler_is_taken_up(app, db, monkeypatch):
    """Two workers of this test's own; the one running the step is killed together with its
    scheduler process (a machine dying). The survivor takes the step up within a minute, and
    its effect happens once."""
    queue = f"lastmile-test-dying-{os.getpid()}"
    monkeypatch.setitem(app.config, "RQ_QUEUE", queue)
    env = {**os.environ, "RQ_QUEUE": queue}
    workers = [start_worker(queue, name=f"dying-{os.getpid()}-{n}", env=env)
               for n in range(2)]
    try:
        run = engine.start_run("test_slow", {"seconds": 8})
        owner = wait_until(lambda: db.session.execute(select(StepRun.lease_owner).filter_by(
            run_id=run.id, status="running")).scalar() or db.session.expire_all(),
            timeout=20, message="the step to start")
        pid = int(owner.rsplit(":", 1)[1])
        os.killpg(pid, signal.SIGKILL)  # the worker and its scheduler process
        killed_at = datetime.utcnow()
        finished = finish(db, run.id, timeout=90)
        assert finished.status == "succeeded"
        step = db.session.execute(select(StepRun).filter_by(run_id=run.id)).scalar_one()
        assert step.attempts == 2
        requeued = db.session.execute(select(RunEvent.created_at).filter_by(
            run_id=run.id, kind="step.requeued")).scalar_one()
        assert (requeued - killed_at).total_seconds() < 60
        from tests.engine_plugin import count_effects
        assert count_effects(db.session, "slow") == 1
    finally:
        for worker in workers:
            stop_worker(worker)
