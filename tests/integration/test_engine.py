"""The engine against real Redis and real RQ worker processes."""
import os
import signal
from datetime import datetime, timedelta

import pytest
from sqlalchemy import bindparam, delete, select, text, update

from app.extensions import get_queue, get_redis
from app.models import RunEvent, StepRun, WorkflowRun, utcnow
from app.workflows import engine
from tests.conftest import start_worker, wait_until
from tests.engine_plugin import count_effects

@pytest.fixture(autouse=True)
def fresh_counters(app):
    """The test services count attempts in Redis under the idempotency key; run ids start
    again at 1 on SQLite after each test, so a test must not see the last one's counts."""
    with app.app_context():
        redis = get_redis()
        for key in redis.scan_iter("enginetest:*"):
            redis.delete(key)


FINAL = ("succeeded", "failed", "compensated", "cancelled", "expired", "declined")


def reload(db, run_id):
    db.session.expire_all()
    return db.session.get(WorkflowRun, run_id)


def wait_for(db, run, *statuses, timeout=40):
    statuses = statuses or FINAL
    return wait_until(lambda: reload(db, run.id).status in statuses and reload(db, run.id),
                      timeout=timeout, message=f"run {run.id} to reach {statuses}")


def steps_of(db, run_id):
    db.session.expire_all()
    return {s.name: s for s in db.session.execute(
        select(StepRun).where(StepRun.run_id == run_id)).scalars()}


def test_success_with_templating_and_a_skipped_step(db, workers):
    run = engine.start_run("test_success", {"greeting": "hello"})
    assert wait_for(db, run).status == "succeeded"
    steps = steps_of(db, run.id)
    assert steps["skipped"].status == "skipped"
    assert steps["last"].result["value"] == "after hello!"
    assert steps["first"].params == {"label": "first", "value": "hello"}
    kinds = [e.kind for e in db.session.execute(
        select(RunEvent).where(RunEvent.run_id == run.id).order_by(RunEvent.id)).scalars()]
    assert kinds[0] == "run.started" and kinds[-1] == "run.succeeded"
    assert "step.skipped" in kinds


def test_bad_inputs_are_refused_with_field_messages(db):
    from app.errors import ValidationError
    with pytest.raises(ValidationError) as refused:
        engine.start_run("test_success", {"mode": "fast", "extra": 1})
    assert set(refused.value.details) == {"greeting", "extra"}
    assert db.session.execute(select(WorkflowRun)).first() is None


def test_transient_failure_succeeds_on_attempt_three(db, workers):
    run = engine.start_run("test_transient", {})
    assert wait_for(db, run).status == "succeeded"
    step = steps_of(db, run.id)["flaky"]
    assert step.attempts == 3
    assert count_effects(db.session, "flaky") == 1


def test_domain_error_fails_at_once_without_retry(db, workers):
    run = engine.start_run("test_domain", {})
    finished = wait_for(db, run)
    assert finished.status == "failed"
    assert finished.error == "Quota exceeded: 0 left."
    assert steps_of(db, run.id)["refuse"].attempts == 1


def _deadline(seconds):
    return (datetime.utcnow() + timedelta(seconds=seconds)).isoformat()


def test_wait_is_resumed_by_its_signal(db, workers):
    run = engine.start_run("test_wait", {"deadline": _deadline(3600)})
    wait_for(db, run, "waiting")
    assert engine.signal_run(run.id, "go", {"value": 42}) is True
    assert wait_for(db, run).status == "succeeded"
    assert steps_of(db, run.id)["after"].result["value"] == 42
    assert engine.signal_run(run.id, "go", {"value": 43}) is False


def test_wait_times_out_and_ends_expired(db, workers):
    run = engine.start_run("test_wait", {"deadline": _deadline(2)})
    finished = wait_for(db, run, "expired", "succeeded", "failed")
    assert finished.status == "expired"
    assert count_effects(db.session, "timed_out") == 1
    assert steps_of(db, run.id)["after"].status == "skipped"
    assert engine.signal_run(run.id, "go", {}) is False


def test_end_signal_declines_the_run(db, workers):
    run = engine.start_run("test_wait", {"deadline": _deadline(3600)})
    wait_for(db, run, "waiting")
    assert engine.signal_run(run.id, "stop", {}) is True
    assert reload(db, run.id).status == "declined"
    assert count_effects(db.session, "stopped") == 1


def test_signal_and_timeout_race_exactly_one_wins(db, workers):
    """The deadline has passed: a worker runs the timeout while the web delivers the signal,
    at the same moment. Whichever commits first wins; the other changes nothing."""
    run = engine.start_run("test_wait", {"deadline": _deadline(3600)})
    wait_for(db, run, "waiting")
    step = steps_of(db, run.id)["await_go"]
    db.session.execute(StepRun.__table__.update().where(StepRun.id == step.id)
                       .values(wait_deadline=datetime.utcnow() - timedelta(seconds=1)))
    db.session.commit()
    for _ in range(2):
        get_queue().enqueue("jobs.steps.wait_timeout", step.id)
    signal_won = engine.signal_run(run.id, "go", {"value": 1})
    finished = wait_for(db, run)
    timeout_won = count_effects(db.session, "timed_out") == 1
    assert signal_won != timeout_won
    assert finished.status == ("succeeded" if signal_won else "expired")
    assert count_effects(db.session, "timed_out") <= 1


def test_compensation_runs_in_reverse_order(db, workers):
    from app.models import AuditEvent
    run = engine.start_run("test_compensation", {})
    finished = wait_for(db, run)
    assert finished.status == "compensated"
    assert finished.error == "Card declined."
    actions = [a for a in db.session.execute(
        select(AuditEvent.action).order_by(AuditEvent.id)).scalars()]
    assert actions == ["test:one", "test:two", "test:undo_two", "test:undo_one"]
    steps = steps_of(db, run.id)
    assert steps["undo_two"].kind == "compensation"


def test_a_compensation_that_fails_leaves_the_run_failed_for_a_person(db, workers):
    run = engine.start_run("test_compensation_fails", {})
    finished = wait_for(db, run, "failed", "compensated", timeout=60)
    assert finished.status == "failed"
    assert finished.error.startswith("Could not undo one")


def test_cancel_a_waiting_run_compensates(db, workers):
    run = engine.start_run("test_wait", {"deadline": _deadline(3600)})
    wait_for(db, run, "waiting")
    assert engine.cancel_run(run.id) is True
    assert wait_for(db, run).status == "cancelled"


def test_rewind_after_a_decline_lets_the_customer_pay_again(db, workers):
    run = engine.start_run("test_rewind", {})
    wait_for(db, run, "waiting")
    assert engine.signal_run(run.id, "pay", {"card": "bad"})
    again = wait_for(db, run, "waiting", "failed")
    assert again.status == "waiting"
    assert again.error == "Your card was declined."
    assert engine.signal_run(run.id, "pay", {"card": "good"})
    assert wait_for(db, run).status == "succeeded"
    assert count_effects(db.session, "paid") == 1


def test_secrets_are_masked_in_results_and_events(db, workers):
    run = engine.start_run("test_secret", {})
    assert wait_for(db, run).status == "succeeded"
    step = steps_of(db, run.id)["make"]
    assert step.result["password"] != "hunter2-secret"
    events = db.session.execute(select(RunEvent.data).where(RunEvent.run_id == run.id)).all()
    assert "hunter2" not in repr(events)


def test_a_duplicate_delivery_does_not_run_the_step_twice(db, workers):
    run = engine.start_run("test_slow", {"seconds": 3})  # well inside its lease
    step = steps_of(db, run.id)["slow"]
    for _ in range(3):  # the same step job, delivered again
        get_queue().enqueue("jobs.steps.run_step", step.id)
    finished = wait_for(db, run, timeout=60)
    assert finished.status == "succeeded"
    assert steps_of(db, run.id)["slow"].attempts == 1
    assert count_effects(db.session, "slow") == 1


def test_a_worker_killed_mid_step_loses_nothing(db, workers):
    """SIGKILL the worker while the step runs: the reaper takes the step
    up again after its lease, and the effect happens exactly once."""
    run = engine.start_run("test_slow", {"seconds": 30})
    running = wait_until(lambda: steps_of(db, run.id)["slow"].lease_owner
                         if steps_of(db, run.id)["slow"].status == "running" else None,
                         timeout=20, message="the slow step to start")
    # The worker only: its scheduler process goes on (test_edges kills both), and ends with
    # the worker's process group after the tests (stop_worker).
    os.kill(int(running.rsplit(":", 1)[1]), signal.SIGKILL)
    workers.append(start_worker())
    finished = wait_for(db, run, timeout=90)
    assert finished.status == "succeeded"
    step = steps_of(db, run.id)["slow"]
    assert step.attempts >= 2  # the killed attempt, then the one the reaper queued
    assert count_effects(db.session, "slow") == 1


def test_one_job_carries_a_run_through_consecutive_steps(db, workers):
    """Only the first step goes through the queue; each next one is claimed in the commit
    that records the previous one's success (with its own claim, lease and events)."""
    run = engine.start_run("test_success", {"greeting": "hi"})
    assert wait_for(db, run).status == "succeeded"
    kinds = db.session.execute(select(RunEvent.step_name, RunEvent.kind).where(
        RunEvent.run_id == run.id).order_by(RunEvent.id)).all()
    assert [name for name, kind in kinds if kind == "step.queued"] == ["first"]
    assert [name for name, kind in kinds if kind == "step.running"] == ["first", "last"]
    assert count_effects(db.session, "last") == 1


def test_a_worker_killed_in_the_middle_of_a_multi_step_job(db, workers):
    """SIGKILL the worker while the third of five steps runs in one job: the two before keep
    their effect, the killed one is taken up again, and every effect happens exactly once."""
    run = engine.start_run("test_chain", {"seconds": 30})
    running = wait_until(lambda: steps_of(db, run.id)["slow"].lease_owner
                         if steps_of(db, run.id)["slow"].status == "running" else None,
                         timeout=20, message="the slow step to start")
    assert steps_of(db, run.id)["b"].status == "succeeded"
    os.kill(int(running.rsplit(":", 1)[1]), signal.SIGKILL)  # the worker only, as above
    workers.append(start_worker())
    finished = wait_for(db, run, timeout=90)
    assert finished.status == "succeeded"
    steps = steps_of(db, run.id)
    assert steps["slow"].attempts == 2 and steps["a"].attempts == steps["e"].attempts == 1
    for label in ("a", "b", "slow", "d", "e"):
        assert count_effects(db.session, label) == 1, label


def test_step_records_a_database_crash_took_are_redone_with_each_effect_once(db, workers):
    """With STEP_RECORDS_SYNCHRONOUS off, a crash of PostgreSQL may take the last step records
    with it, never one in the middle. The rows are put back as such a crash leaves them: b's
    success and everything after it gone, b held by a worker that died with the database, the
    run running. The run still finishes, with every effect once: the reaper takes b up again
    and its call replays the effect stored under its idempotency key."""
    run = engine.start_run("test_chain", {"seconds": 0})
    assert wait_for(db, run).status == "succeeded"
    b = steps_of(db, run.id)["b"]
    b_claimed = db.session.execute(select(RunEvent.id).where(
        RunEvent.run_id == run.id, RunEvent.step_name == "b",
        RunEvent.kind == "step.running")).scalar_one()
    db.session.execute(update(StepRun).where(StepRun.id == b.id).values(
        status="running", result=None, finished_at=None, lease_owner="gone:1",
        lease_expires_at=utcnow() - timedelta(minutes=1)))
    db.session.execute(update(StepRun).where(StepRun.run_id == run.id,
                                             StepRun.index > b.index).values(
        status="pending", attempts=0, params=None, result=None, started_at=None,
        finished_at=None, lease_owner=None, lease_expires_at=None))
    db.session.execute(update(WorkflowRun).where(WorkflowRun.id == run.id).values(
        status="running", finished_at=None))
    db.session.execute(delete(RunEvent).where(RunEvent.run_id == run.id,
                                              RunEvent.id > b_claimed))
    db.session.commit()

    assert engine.reap_stale_steps()["requeued"] == 1  # the periodic reaper's turn, now
    assert wait_for(db, run).status == "succeeded"
    steps = steps_of(db, run.id)
    assert steps["b"].attempts == 2 and steps["slow"].attempts == 1
    for label in ("a", "b", "slow", "d", "e"):
        assert count_effects(db.session, label) == 1, label


@pytest.mark.postgres_only
@pytest.mark.parametrize("synchronous", [False, True])
def test_a_workers_step_records_wait_for_the_disk_only_if_configured(
        app, db, no_worker_queue, monkeypatch, synchronous):
    """STEP_RECORDS_SYNCHRONOUS: a chain that records a step sets synchronous_commit for its
    own transaction only; any other chain (a run ended by a signal) leaves it on."""
    monkeypatch.setitem(app.config, "STEP_RECORDS_SYNCHRONOUS", synchronous)
    run = engine.start_run("test_chain", {"seconds": 0})
    step = steps_of(db, run.id)["a"]
    for step_record, expected in ((False, "on"), (True, "on" if synchronous else "off")):
        changed = engine._compare_and_set_chain([(
            step, {"id": step.id, "status": "queued"}, {"status": "queued"},
            engine._event_row(run, "test.changed", "a"))], step_record=step_record)
        assert changed == [step]
        setting = db.session.execute(text("SHOW synchronous_commit")).scalar()
        db.session.commit()
        assert setting == expected
    assert db.session.execute(text("SHOW synchronous_commit")).scalar() == "on"


@pytest.mark.postgres_only
def test_statements_sent_to_the_driver_do_what_they_would_through_sqlalchemy(db, no_worker_queue):
    """_execute_on_driver, as a job uses it on its records connection: its read of the run
    gives the rows SQLAlchemy gives; a step record writes JSON as SQLAlchemy would, and its
    synchronous_commit ends with its statement; a statement with an IN list still works."""
    run = engine.start_run("test_chain", {"seconds": 0})
    step = steps_of(db, run.id)["a"]
    db.session.commit()
    with engine._step_records() as records:
        query, params = engine._job_copy_query(), {"step_id": step.id}
        assert engine._execute_on_driver(records, query, params) == [
            tuple(row) for row in records.execute(query, params).all()]
        changed = engine._compare_and_set_chain([(
            step, {"id": step.id, "status": "queued"}, {"params": {"note": ["x", 1]}},
            engine._event_row(run, "test.changed", "a", data={"seen": True}))],
            step_record=True, connection=records)
        assert changed == [step]
        assert records.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
        statuses = select(StepRun.id).where(StepRun.run_id == run.id, StepRun.status.in_(
            bindparam("statuses", expanding=True)))
        assert sorted(engine._execute_on_driver(records, statuses, {
            "statuses": ["queued", "pending"]})) == sorted((s.id,) for s in
                                                          steps_of(db, run.id).values())
    assert steps_of(db, run.id)["a"].params == {"note": ["x", 1]}
    assert db.session.execute(select(RunEvent.data).where(
        RunEvent.run_id == run.id, RunEvent.kind == "test.changed")).scalar() == {"seen": True}


@pytest.mark.postgres_only
def test_a_connection_the_database_dropped_is_given_up_with_the_pool(db):
    """A statement sent to the driver on a connection PostgreSQL ended fails, and the worker's
    pool starts afresh, as SQLAlchemy's own execution would have it."""
    pool = db.engine.pool
    with engine._step_records() as records:
        backend = records.connection.driver_connection.info.backend_pid
        db.session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        db.session.commit()
        with pytest.raises(records.dialect.loaded_dbapi.OperationalError):
            engine._execute_on_driver(records, engine._job_copy_query(), {"step_id": 0})
    assert db.engine.pool is not pool
    with engine._step_records() as records:
        assert engine._execute_on_driver(records, engine._job_copy_query(),
                                         {"step_id": 0}) == []


def test_a_started_run_is_read_after_its_commit_without_a_query(db, no_worker_queue):
    """The page to go to needs the run's id and status: the run comes back from start_run as
    written, not expired by the commit (a query, and a transaction left open)."""
    from sqlalchemy import event
    statements = []

    def count(*args):
        statements.append(args[2])
    run = engine.start_run("test_chain", {"seconds": 0})
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert (run.id, run.status, run.workflow, run.existing) == (run.id, "running",
                                                                    "test_chain", False)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert statements == [] and not db.session().in_transaction()
    assert reload(db, run.id).status == "running"


@pytest.mark.parametrize("workflow, inputs, first_events, queued", [
    # an action with no condition: written as queued
    ("test_chain", {"seconds": 0}, ["run.started", "step.queued"], "a"),
    # a condition, false: walked to, as every later step is
    ("test_skip_first", {}, ["run.started", "step.skipped", "step.queued"], "then"),
    # a wait: entered, no job
    ("test_rewind", {}, ["run.started", "step.waiting"], None),
])
def test_a_start_queues_the_first_step_it_comes_to(db, no_worker_queue, workflow, inputs,
                                                   first_events, queued):
    run = engine.start_run(workflow, inputs)
    steps = steps_of(db, run.id)
    assert [e.kind for e in db.session.execute(select(RunEvent).where(
        RunEvent.run_id == run.id).order_by(RunEvent.id)).scalars()] == first_events
    assert sorted(s.name for s in steps.values() if s.status == "queued") == \
        ([queued] if queued else [])
    assert all(s.status == "pending" for s in steps.values()
               if s.index > max(t.index for t in steps.values() if t.status != "pending"))
    jobs = get_queue().job_ids
    if queued:
        assert steps[queued].next_attempt_at is not None
        assert jobs == [f"lastmile-step-{steps[queued].id}-0-0"]
    else:
        assert jobs == []
    db.session.commit()


@pytest.fixture()
def no_worker_queue(app, monkeypatch):
    """Jobs go to a queue no worker reads: the test runs them (or moves the rows) itself."""
    monkeypatch.setitem(app.config, "RQ_QUEUE", f"in-process-{os.getpid()}")
    yield
    get_queue().empty()


def test_a_chain_of_compare_and_sets_stops_at_the_first_that_does_not_hold(db,
                                                                          no_worker_queue):
    """The statement that records a success and claims the next step makes each change only
    if the ones before it were made, writes the event of each change made, and says which."""
    run = engine.start_run("test_chain", {"seconds": 0})
    steps = steps_of(db, run.id)
    a, b = steps["a"], steps["b"]  # a queued, b pending

    def link(step, expected, values):
        return step, expected, values, engine._event_row(run, "test.changed", step.name)
    not_ours = {"id": a.id, "status": ("running",), "lease_owner": "another-worker"}
    claim_b = {"id": b.id, "status": "pending", "attempts": 0}
    changed = engine._compare_and_set_chain([
        link(a, not_ours, {"status": "succeeded", "result": {"label": "a"}}),
        link(b, claim_b, {"status": "running", "attempts": 1, "params": {"label": "b"}})])
    assert changed == []  # b's compare holds, but a's does not: b is not claimed either
    assert (a.status, b.status, b.attempts) == ("queued", "pending", 0)
    db.session.commit()
    fresh = steps_of(db, run.id)
    assert (fresh["b"].status, fresh["b"].params) == ("pending", None)

    a, b, c = fresh["a"], fresh["b"], fresh["slow"]
    changed = engine._compare_and_set_chain([
        link(a, {"id": a.id, "status": "queued"}, {"status": "running", "attempts": 1}),
        link(b, {"id": b.id, "status": ("pending", "queued"), "lease_owner": None},
             {"status": "queued", "next_attempt_at": utcnow()}),
        link(c, {"id": c.id, "status": "running"}, {"status": "skipped"}),  # c is pending
        link(fresh["d"], {"id": fresh["d"].id, "status": "pending"}, {"status": "skipped"})])
    assert changed == [a, b]
    assert (a.status, a.attempts, b.status) == ("running", 1, "queued")
    db.session.commit()
    fresh = steps_of(db, run.id)
    assert [fresh[name].status for name in ("a", "b", "slow", "d")] == \
        ["running", "queued", "pending", "pending"]
    written = db.session.execute(select(RunEvent.step_name).where(
        RunEvent.run_id == run.id, RunEvent.kind == "test.changed")
        .order_by(RunEvent.id)).scalars().all()
    assert written == ["a", "b"]


def test_a_chained_job_stops_when_the_next_step_was_taken_meanwhile(db, no_worker_queue,
                                                                   monkeypatch):
    """If the next step stopped being pending while the current one ran (a cancel), the
    current one's success is still recorded and the job claims nothing more."""
    run = engine.start_run("test_chain", {"seconds": 0})
    steps = steps_of(db, run.id)
    call = engine._call

    def call_then_drop_b(operation, params, idempotency_key):
        result = call(operation, params, idempotency_key)
        if params.get("label") == "a":
            db.session.execute(update(StepRun).where(StepRun.id == steps["b"].id)
                               .values(status="skipped"))
        return result
    monkeypatch.setattr(engine, "_call", call_then_drop_b)
    engine.execute_step(steps["a"].id)
    after = steps_of(db, run.id)
    assert after["a"].status == "succeeded" and after["a"].result == {"label": "a",
                                                                     "value": None}
    assert (after["b"].status, after["b"].attempts) == ("skipped", 0)
    assert after["slow"].status == "pending"
    assert count_effects(db.session, "a") == 1 and count_effects(db.session, "b") == 0
    events = db.session.execute(select(RunEvent.step_name, RunEvent.kind).where(
        RunEvent.run_id == run.id)).all()
    assert ("a", "step.succeeded") in events and ("b", "step.running") not in events


@pytest.mark.postgres_only
def test_runs_finish_after_the_database_dropped_the_workers_connections(db, workers):
    """Workers do not ping before each transaction (WorkerConfig). After PostgreSQL ended
    their connections (a restart, a failover), a run still finishes: the job that meets a
    dead connection fails, its process's pool is emptied, and the step is sent again."""
    warm = engine.start_run("test_success", {"greeting": "warm"})
    assert wait_for(db, warm).status == "succeeded"  # the workers' pools hold connections
    # The worker processes' connections only: this process's own (its in-process jobs use
    # the same WorkerConfig) would fail the later tests that call jobs directly.
    names = [f"lastmile-worker-{worker.pid}" for worker in workers if worker.poll() is None]
    dropped = db.session.execute(text(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name = ANY(:names)"),
        {"names": names}).scalar()
    db.session.commit()
    assert dropped >= 1
    run = engine.start_run("test_success", {"greeting": "after"})
    assert wait_for(db, run, timeout=120).status == "succeeded"
    assert steps_of(db, run.id)["last"].result["value"] == "after after!"
    # Both workers meet their dead connections here, not in a later test.
    for more in [engine.start_run("test_success", {"greeting": str(n)}) for n in range(4)]:
        assert wait_for(db, more, timeout=120).status == "succeeded"


def test_a_run_left_behind_after_a_signal_is_moved_on_by_the_reaper(db, workers):
    """As if the web process died between committing a signal and moving the run on: the
    wait succeeded, the run is running, and no step is queued. The reaper moves it on."""
    run = engine.start_run("test_wait", {"deadline": _deadline(3600)})
    wait_for(db, run, "waiting")
    wait = steps_of(db, run.id)["await_go"]
    wait.status, wait.result, wait.finished_at = "succeeded", {"value": 7}, datetime.utcnow()
    db.session.get(WorkflowRun, run.id).status = "running"
    db.session.commit()
    assert wait_for(db, run, timeout=60).status == "succeeded"
    assert steps_of(db, run.id)["after"].result["value"] == 7


def test_an_attempt_that_outlives_its_lease_is_stopped_and_retried(db, workers):
    """STEP_LEASE_SECONDS is 10 in the tests: the first attempt sleeps 25 s, RQ stops it at the
    lease's end, and the retry (not a second attempt beside the first) finishes the step."""
    run = engine.start_run("test_slow", {"seconds": 25})
    finished = wait_for(db, run, timeout=60)
    assert finished.status == "succeeded"
    step = steps_of(db, run.id)["slow"]
    assert step.attempts == 2
    assert count_effects(db.session, "slow") == 1
    kinds = db.session.execute(select(RunEvent.kind).where(
        RunEvent.run_id == run.id, RunEvent.step_name == "slow")).scalars().all()
    assert "step.retrying" in kinds and "step.requeued" not in kinds
