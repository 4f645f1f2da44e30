"""W6 `overdue_invoice_to_suspension` through real workers: reminders, durable waits whose
timers are database rows, suspension in the RADIUS tables with a Disconnect-Request to a NAS
stand-in (UDP, RFC 5176), restoration on payment, compensation on cancel, and restarts of
workers and Redis during each wait."""
import random
from datetime import datetime, timedelta

import pytest
import redis as redis_lib
from sqlalchemy import func, select

from app.errors import ValidationError
from app.models import (DunningCase, Nas, OutboundEmail, RadAcct, RadGroupReply,
                        RadUserGroup, ServiceInstance, StepRun, WorkflowRun)
from app.workflows import dunning_signals, engine
from app.workflows.registry import get_service
from jobs.dunning import advance_dunning, start_dunning
from tests.conftest import REDIS_URL, start_worker, stop_worker, wait_until
from tests.factories import make_customer, make_internet_service, make_invoice
from tests.fakes.nas import FakeNas

SECRET = "nas-coa-secret"


def finish(db, run_id, *statuses, timeout=60):
    def done():
        db.session.expire_all()
        run = db.session.get(WorkflowRun, run_id)
        return run if run.status in statuses else None
    return wait_until(done, timeout=timeout, message=f"run {run_id} to reach {statuses}")


def step_status(db, run_id, name):
    db.session.expire_all()
    return db.session.execute(select(StepRun.status).filter_by(run_id=run_id, name=name)
                              ).scalar()


@pytest.fixture()
def nas(db):
    """The NAS stand-in on a loopback address of its own (port 3799, as configured by
    default), with its `nas` row (FreeRADIUS's client table) holding the shared secret."""
    for _ in range(20):
        address = f"127.{random.randint(1, 250)}.{random.randint(1, 250)}.{random.randint(2, 250)}"
        try:
            fake = FakeNas(address, SECRET).start()
            break
        except OSError:
            continue
    db.session.add(Nas(nasname=address, shortname="bras-1", type="other", secret=SECRET))
    db.session.commit()
    yield fake
    fake.stop()


def online(db, nas, service, session_id="sess-1"):
    """The subscriber's router is connected: an open radacct row (as FreeRADIUS writes on
    Accounting Start) and the session on the NAS."""
    db.session.add(RadAcct(acctsessionid=session_id, acctuniqueid=f"u-{session_id}",
                           username=service.pppoe_username, nasipaddress=nas.address,
                           acctstarttime=datetime.utcnow(), framedipaddress=service.ip_address,
                           acctinputoctets=0, acctoutputoctets=0))
    db.session.commit()
    nas.open_session(service.pppoe_username, session_id)


def offline(db, service):
    """The NAS ended the session and sent Accounting Stop."""
    db.session.expire_all()
    for row in db.session.execute(select(RadAcct).filter_by(
            username=service.pppoe_username, acctstoptime=None)).scalars():
        row.acctstoptime = datetime.utcnow()
    db.session.commit()


def group_of(db, service):
    db.session.expire_all()
    return db.session.execute(select(RadUserGroup.groupname).filter_by(
        username=service.pppoe_username)).scalar()


def make_due(db, run_id):
    """The reminder period is over (as if the days had passed), and the minute sweep ran."""
    db.session.expire_all()
    case = db.session.execute(select(DunningCase).filter_by(workflow_run_id=run_id)
                              ).scalar_one()
    case.next_due_at = datetime.utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert run_id in advance_dunning()["advanced"]


def overdue_customer(db, nas):
    customer = make_customer()
    service = make_internet_service(customer)
    invoice = make_invoice(customer, due_days_ago=10)
    online(db, nas, service)
    return customer, service, invoice


def start(db):
    """The daily sweep's run for the one overdue invoice. The workers' own ticker may have
    swept first (it runs at once after a Redis restart): whoever started it, there is one."""
    return started_run(db, start_dunning)


def started_run(db, sweep):
    sweep()

    def run_id():
        db.session.expire_all()
        return db.session.execute(select(DunningCase.workflow_run_id)).scalar_one_or_none()
    found = wait_until(run_id, timeout=30, message="the dunning run")
    assert db.session.execute(select(func.count(WorkflowRun.id)).filter_by(
        workflow="overdue_invoice_to_suspension")).scalar() == 1
    return found


def restart_workers_and_redis(workers):
    for process in workers:
        stop_worker(process)
    workers.clear()
    redis_lib.Redis.from_url(REDIS_URL).flushdb()  # every job and key Redis held is gone
    workers.extend(start_worker() for _ in range(2))


def pay(db, invoice, reference="BANK-1"):
    get_service("billing").record_bank_transfer(invoice.id, reference)
    return dunning_signals.invoice_paid(invoice.id)


def reminders(db):
    db.session.expire_all()
    return db.session.execute(select(func.count(OutboundEmail.id)).filter_by(
        template="invoice_reminder")).scalar()


def test_the_sweep_starts_one_run_per_overdue_invoice_and_skips_paused_customers(db, workers,
                                                                                 nas):
    customer, service, invoice = overdue_customer(db, nas)
    make_invoice(customer, due_days_ago=2)  # overdue, but not for long enough yet
    make_invoice(customer, due_days_ago=30, status="paid")
    paused = make_customer()
    make_invoice(paused, due_days_ago=30)
    get_service("dunning").pause(paused.id, "Disputed charge, call on Monday")
    run_id = start(db)
    assert start_dunning() == []  # once per invoice
    run = finish(db, run_id, "waiting")
    assert run.inputs == {"invoice_id": invoice.id, "customer_id": customer.id}
    assert run.started_from == "scheduler" and reminders(db) == 1
    # the same invoice by hand is the same run (one live run per subject)
    again = engine.start_run("overdue_invoice_to_suspension",
                             {"invoice_id": invoice.id, "customer_id": customer.id})
    assert again.id == run_id and again.existing
    # an early "go on" is refused: the customer keeps the time the reminder gave
    with pytest.raises(ValidationError, match="has until"):
        engine.signal_run(run_id, "dunning_due", {})


def test_paid_before_the_first_reminder_ends_without_a_reminder_or_suspension(db, workers, nas):
    customer, service, invoice = overdue_customer(db, nas)
    get_service("billing").record_bank_transfer(invoice.id, "EARLY-1")
    run = engine.start_run("overdue_invoice_to_suspension",
                           {"invoice_id": invoice.id, "customer_id": customer.id})
    assert finish(db, run.id, "succeeded", "failed").status == "succeeded"
    assert reminders(db) == 0
    assert step_status(db, run.id, "await_payment") == "skipped"
    assert step_status(db, run.id, "await_payment_while_suspended") == "skipped"
    assert group_of(db, service) == service.plan.bandwidth_profile.radius_group
    assert nas.requests == []


def test_paid_during_the_first_wait_ends_the_run_and_a_second_signal_is_a_no_op(db, workers,
                                                                               nas):
    customer, service, invoice = overdue_customer(db, nas)
    run_id = start(db)
    finish(db, run_id, "waiting")
    assert pay(db, invoice) is True
    assert finish(db, run_id, "succeeded").status == "succeeded"
    assert dunning_signals.invoice_paid(invoice.id) is False  # the double signal
    assert engine.signal_run(run_id, "invoice_paid", {"invoice_id": invoice.id}) is False
    db.session.expire_all()
    case = db.session.execute(select(DunningCase)).scalar_one()
    assert case.stage == "paid" and reminders(db) == 1
    assert group_of(db, service) != "suspended" and nas.requests == []


def test_never_paid_is_suspended_then_paid_and_restored_across_restarts(db, workers, nas):
    customer, service, invoice = overdue_customer(db, nas)
    normal = group_of(db, service)
    run_id = start(db)
    finish(db, run_id, "waiting")

    restart_workers_and_redis(workers)  # during the first wait
    make_due(db, run_id)
    wait_until(lambda: step_status(db, run_id, "await_payment_again") == "waiting",
               timeout=60, message="the second reminder")
    assert reminders(db) == 2

    restart_workers_and_redis(workers)  # during the second wait
    make_due(db, run_id)
    wait_until(lambda: step_status(db, run_id, "await_payment_while_suspended") == "waiting",
               timeout=60, message="the suspension")
    assert group_of(db, service) == "suspended"
    rate = db.session.execute(select(RadGroupReply.value).filter_by(
        groupname="suspended", attribute="Mikrotik-Rate-Limit")).scalar()
    assert rate == "64k/64k"
    assert db.session.get(ServiceInstance, service.id).status == "suspended"
    # exactly one Disconnect-Request, for the open session, signed with the NAS's secret
    assert len(nas.requests) == 1
    request = nas.requests[0]
    assert request["User-Name"] == service.pppoe_username
    assert request["Acct-Session-Id"] == "sess-1"
    assert request["Framed-IP-Address"] == service.ip_address
    suspend = db.session.execute(select(StepRun).filter_by(run_id=run_id,
                                                           name="suspend_service")).scalar_one()
    assert suspend.result["disconnects"][0]["outcome"] == "ack"

    # the NAS ended the session; the router signs in again (suspended) and is online
    offline(db, service)
    online(db, nas, service, session_id="sess-2")
    restart_workers_and_redis(workers)  # during the wait while suspended
    assert pay(db, invoice) is True
    assert finish(db, run_id, "succeeded").status == "succeeded"
    assert group_of(db, service) == normal
    assert db.session.get(ServiceInstance, service.id).status == "active"
    assert [r["Acct-Session-Id"] for r in nas.requests] == ["sess-1", "sess-2"]
    assert dunning_signals.invoice_paid(invoice.id) is False  # paid twice: nothing more
    case = db.session.execute(select(DunningCase)).scalar_one()
    assert case.stage == "restored"


def test_cancelling_a_suspended_run_restores_the_service(db, workers, nas):
    customer, service, invoice = overdue_customer(db, nas)
    normal = group_of(db, service)
    run_id = start(db)
    finish(db, run_id, "waiting")
    make_due(db, run_id)
    wait_until(lambda: step_status(db, run_id, "await_payment_again") == "waiting", timeout=60)
    make_due(db, run_id)
    wait_until(lambda: step_status(db, run_id, "await_payment_while_suspended") == "waiting",
               timeout=60, message="the suspension")
    assert group_of(db, service) == "suspended"
    engine.cancel_run(run_id)
    assert finish(db, run_id, "cancelled", "failed").status == "cancelled"
    assert group_of(db, service) == normal
    assert db.session.get(ServiceInstance, service.id).status == "active"


@pytest.mark.parametrize("answer, outcome, requests", [("silent", "no_answer", 3),
                                                       ("nak", "nak", 3)])
def test_a_nas_that_refuses_or_is_silent_is_retried_then_reported(db, workers, nas, answer,
                                                                  outcome, requests):
    customer, service, invoice = overdue_customer(db, nas)
    nas.answer = answer
    run_id = start(db)
    finish(db, run_id, "waiting")
    make_due(db, run_id)
    wait_until(lambda: step_status(db, run_id, "await_payment_again") == "waiting", timeout=60)
    make_due(db, run_id)
    wait_until(lambda: step_status(db, run_id, "await_payment_while_suspended") == "waiting",
               timeout=90, message="the suspension")
    assert len(nas.requests) == requests
    result = db.session.execute(select(StepRun.result).filter_by(
        run_id=run_id, name="suspend_service")).scalar()
    assert result["disconnects"][0]["outcome"] == outcome
    assert result["disconnects"][0]["attempts"] == 3
    # the RADIUS side is done all the same: the next sign-in is suspended
    assert group_of(db, service) == "suspended"


def test_a_paused_customer_is_not_suspended_and_the_run_says_why(db, workers, nas):
    customer, service, invoice = overdue_customer(db, nas)
    run_id = start(db)
    finish(db, run_id, "waiting")
    get_service("dunning").pause(customer.id, "Payment plan agreed")
    make_due(db, run_id)
    wait_until(lambda: step_status(db, run_id, "await_payment_again") == "waiting", timeout=60)
    make_due(db, run_id)
    run = finish(db, run_id, "failed", "compensated")
    assert "paused" in run.error and "Payment plan agreed" in run.error
    assert group_of(db, service) != "suspended" and nas.requests == []
