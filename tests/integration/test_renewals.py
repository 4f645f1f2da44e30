"""Renewals (W4): the rules, the prices, the calendar, the durable wait, the daily sweep."""
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import redis as redis_lib
from sqlalchemy import func, select

from app.errors import DomainError
from app.models import Payment, Quote, StepRun, Subscription, WorkflowRun
from app.services.billing.subscriptions import add_months
from app.services.crm.renewal_quotes import renewal_price
from app.workflows import engine
from app.workflows.registry import get_service
from tests.conftest import REDIS_URL, start_worker, stop_worker, wait_until
from tests.factories import PASSWORD, make_customer, make_plan, make_subscription, make_user


def finish(db, run_id, *statuses, timeout=60):
    def done():
        db.session.expire_all()
        run = db.session.get(WorkflowRun, run_id)
        return run if run.status in statuses else None
    return wait_until(done, timeout=timeout, message=f"run {run_id} in {statuses}")


@pytest.mark.parametrize("start, months, end", [
    (date(2027, 1, 31), 1, date(2027, 2, 28)),
    (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year
    (date(2027, 3, 31), 3, date(2027, 6, 30)),
    (date(2027, 8, 31), 6, date(2028, 2, 29)),
    (date(2027, 12, 15), 12, date(2028, 12, 15)),
])
def test_calendar_months(start, months, end):
    assert add_months(start, months) == end


def test_extension_counts_from_the_period_end_and_is_applied_once(db):
    subscription = make_subscription(period_end=date(2027, 1, 31))
    billing = get_service("billing")
    result = billing.extend_subscription(subscription.id, 1, None, idempotency_key="run1:ext")
    assert result == {"previous_end": "2027-01-31", "new_end": "2027-02-28"}
    assert billing.extend_subscription(subscription.id, 1, None,
                                       idempotency_key="run1:ext") == result  # replay
    assert db.session.get(Subscription, subscription.id).current_period_end == date(2027, 2, 28)


def test_a_renewal_quote_is_never_applied_twice(db):
    customer = make_customer()
    subscription = make_subscription(customer=customer)
    quote = get_service("crm").create_renewal_quote(customer.id, subscription.id, 12)
    billing = get_service("billing")
    billing.extend_subscription(subscription.id, 12, quote["quote_id"])
    with pytest.raises(DomainError, match="already been applied"):
        billing.extend_subscription(subscription.id, 12, quote["quote_id"])


def test_prices_and_term_discounts(db):
    monthly = make_subscription(plan=make_plan(price=Decimal("30.00"),
                                               term_discounts={"12": 10, "24": 15}))
    assert renewal_price(monthly, 1)[-1] == Decimal("30.00")
    assert renewal_price(monthly, 12)[-1] == Decimal("324.00")
    assert renewal_price(monthly, 24)[-1] == Decimal("612.00")
    annual = make_subscription(plan=make_plan(price=Decimal("790.00"), billing_cycle="annual",
                                              term_discounts={}))
    assert renewal_price(annual, 12)[-1] == Decimal("790.00")
    assert renewal_price(annual, 1)[-1] == Decimal("65.83")
    custom = make_subscription(plan=make_plan(price=Decimal("50")), custom_price=Decimal("40"))
    assert renewal_price(custom, 3)[-1] == Decimal("120.00")


def test_each_eligibility_rule_has_its_reason(db):
    billing = get_service("billing")
    customer = make_customer()

    def reasons(subscription, customer_id=customer.id):
        with pytest.raises(DomainError) as refused:
            billing.check_renewal_eligibility(customer_id, subscription.id)
        return refused.value.message

    assert "does not belong" in reasons(make_subscription(), customer.id)
    canceled = make_subscription(customer=customer, status="canceled")
    assert "canceled" in reasons(canceled)
    far = make_subscription(customer=customer, period_end=date.today() + timedelta(days=90))
    assert "Renewal opens 30 days" in reasons(far)
    renewed = make_subscription(customer=customer)
    billing.extend_subscription(renewed.id, 1)
    renewed.current_period_end = renewed.renewals[0].previous_end  # pretend it is back
    db.session.commit()
    assert "already been renewed" in reasons(renewed)
    ok = make_subscription(customer=customer)
    assert billing.check_renewal_eligibility(customer.id, ok.id)["eligible"] is True


def _start(db, days=10):
    customer = make_customer()
    subscription = make_subscription(customer=customer, period_end=date.today() +
                                     timedelta(days=days))
    run = engine.start_run("customer_renewal_process", {
        "customer_id": customer.id, "subscription_id": subscription.id, "renewal_term": 1},
        started_from="customer", customer_id=customer.id)
    return customer, subscription, run


def test_a_second_renewal_while_one_waits_is_the_same_run(db, workers):
    customer, subscription, run = _start(db)
    finish(db, run.id, "waiting")
    second = engine.start_run("customer_renewal_process", {
        "customer_id": customer.id, "subscription_id": subscription.id, "renewal_term": 3})
    assert second.id == run.id and second.existing
    assert db.session.execute(select(func.count(WorkflowRun.id))).scalar() == 1


def test_the_quote_expires_and_the_run_ends_expired(db, workers):
    customer, subscription, run = _start(db)
    finish(db, run.id, "waiting")
    wait = db.session.execute(select(StepRun).filter_by(run_id=run.id,
                                                        name="await_acceptance")).scalar_one()
    quote = db.session.execute(select(Quote).filter_by(workflow_run_id=run.id)).scalar_one()
    past = datetime.utcnow() - timedelta(seconds=1)
    wait.wait_deadline, quote.valid_until = past, past
    db.session.commit()
    from app.extensions import get_queue
    get_queue().enqueue("jobs.steps.wait_timeout", wait.id)
    assert finish(db, run.id, "expired").status == "expired"
    db.session.expire_all()
    assert db.session.get(Quote, quote.id).status == "expired"
    assert not engine.signal_run(run.id, "quote_accepted", {"payment_method_id": 1})


def test_the_renew_page_links_to_the_renewal_under_way(db, workers, client):
    """Back on Renew while a renewal waits: the page says so and links to it."""
    customer, subscription, run = _start(db)
    finish(db, run.id, "waiting")
    client.login(make_user(portal="customer", customer_id=customer.id).email, PASSWORD,
                 "customer")
    page = client.get(f"/portal/subscriptions/{subscription.id}/renew")
    assert page.status_code == 409
    assert "A renewal is already in progress." in page.text
    assert f'href="/portal/runs/{run.id}"' in page.text


def test_double_click_on_accept_and_pay_charges_once(db, workers, client):
    customer, subscription, run = _start(db)
    user = make_user(portal="customer", customer_id=customer.id)
    finish(db, run.id, "waiting")
    client.login(user.email, PASSWORD, "customer")
    card = {"payment_method": "new", "card_number": "4242424242424242", "exp_month": "12",
            "exp_year": "2031", "cvc": "123"}
    first = client.post_form(f"/portal/renewals/{run.id}/accept", card)
    second = client.post_form(f"/portal/renewals/{run.id}/accept", card)
    assert first.status_code == 303 and second.status_code == 303
    assert finish(db, run.id, "succeeded").status == "succeeded"
    assert db.session.execute(select(func.count(Payment.id))).scalar() == 1
    expired = client.post_form(f"/portal/renewals/{run.id}/accept", card)
    assert expired.status_code == 303  # refused with a message, nothing charged
    assert db.session.execute(select(func.count(Payment.id))).scalar() == 1


def test_the_wait_survives_a_restart_of_workers_and_redis(db, workers):
    customer, subscription, run = _start(db)
    finish(db, run.id, "waiting")
    for process in workers:
        stop_worker(process)
    workers.clear()
    redis_lib.Redis.from_url(REDIS_URL).flushdb()  # everything Redis knew is gone
    workers.extend(start_worker() for _ in range(2))
    card = get_service("billing").save_payment_method(customer.id, "4242424242424242", 12,
                                                      2031, "123")
    assert engine.signal_run(run.id, "quote_accepted", {"payment_method_id": card.id})
    assert finish(db, run.id, "succeeded").status == "succeeded"


def test_the_daily_sweep_starts_each_renewal_once(db, workers):
    from jobs.renewals import renewal_sweep
    due = make_subscription(period_end=date.today() + timedelta(days=5), auto_renew=True)
    make_subscription(period_end=date.today() + timedelta(days=5), auto_renew=False)
    make_subscription(period_end=date.today() + timedelta(days=200), auto_renew=True)
    first, second = renewal_sweep(), renewal_sweep()
    # The workers run the sweep too (as they start, and again after the last test's FLUSHALL):
    # theirs may come first. Either way, one run.
    runs = db.session.execute(select(WorkflowRun.id).where(
        WorkflowRun.workflow == "customer_renewal_process")).scalars().all()
    assert len(runs) == 1 and first in ([], runs) and second == []
    run = db.session.get(WorkflowRun, runs[0])
    assert run.inputs["subscription_id"] == due.id and run.started_from == "scheduler"
    finish(db, run.id, "waiting")
    engine.signal_run(run.id, "quote_declined", {})
    finish(db, run.id, "declined")
    assert renewal_sweep() == []  # declined this period: not asked again
