"""The workflow engine: start, advance, retry, signal, cancel, compensate.

The database is the source of truth; RQ only carries "run this step attempt now". Every
transition is a committed row change plus a RunEvent, published on Redis (`run:<id>`) for the
live pages. The rules (ARCHITECTURE.md) in the order they appear below:

- an RQ job claims a queued step and carries the run through the action steps that follow;
  each claim is a compare-and-set on the step row (-> running, with a lease), so a
  duplicated job never runs a step twice at once, and each step's success is recorded with
  the next claim in one statement (_compare_and_set_chain);
- the service call gets the idempotency key "run<id>:<step>" (":r<n>" after a rewind);
- DomainError fails the step at once; anything else retries with backoff up to max_attempts;
- a false `when` skips the step; a wait holds no worker and ends by signal or deadline,
  whichever wins the compare-and-set;
- failure or cancel compensates completed steps in reverse, each as its own retried job;
- the reaper takes up steps whose lease expired (their worker died).
"""
import functools
import hashlib
import json
import logging
import os
import random
import socket
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from flask import current_app
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import bindparam, exists, func, insert, or_, select, true, union_all, update
from sqlalchemy import inspect as sqlalchemy_inspect
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.orm import configure_mappers, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.exc import IntegrityError

from app.errors import DomainError, ValidationError
from app.extensions import db, get_queue, get_redis
from app.models import RunEvent, StepRun, WorkflowRun, utcnow
from app.workflows import registry
from app.workflows.definition import Input
from app.workflows.definitions import get_workflow
from app.workflows.secrets import mask
from app.workflows.templating import condition_holds, resolve

log = logging.getLogger(__name__)

FINISHED = {"succeeded", "failed", "compensated", "cancelled", "expired", "declined"}
BACKOFF_BASE_SECONDS = 2
BACKOFF_CAP_SECONDS = 300
# A timed-out attempt records its own retry; the reaper leaves it this long to do so.
LEASE_GRACE_SECONDS = 5
# One job carries a run through consecutive steps for this long, then puts the next step
# back on the queue so that other runs get a worker (ARCHITECTURE rule 1).
CHAIN_BUDGET_SECONDS = 0.2


# ---------------------------------------------------------------- starting a run

def start_run(workflow_name, inputs, *, started_by=None, started_from="staff",
              customer_id=None, partner_id=None, submission_token=None):
    """Start a run, once: a form posted twice (its one-time `submission_token`) or a second
    start for a subject that already has a live run returns that run instead, with
    `run.existing` set, so the second submitter lands on the first one's page."""
    workflow = get_workflow(workflow_name)
    if workflow is None:
        raise ValidationError(f"There is no workflow called {workflow_name}.")
    ctx = coerce_inputs(workflow, inputs or {})
    subject = run_subject(workflow.subject, ctx)
    submission_token = (submission_token or "")[:64] or None
    existing = _existing_run(workflow.name, subject, submission_token)
    if existing is not None:
        return existing
    now = utcnow()
    run_row = dict(
        workflow=workflow.name, version=workflow.version, definition=workflow.snapshot,
        status="running", inputs=ctx, customer_id=customer_id, partner_id=partner_id,
        started_by_id=getattr(started_by, "id", None), started_from=started_from,
        created_at=now, started_at=now, subject=subject, live_subject=subject,
        submission_token=submission_token)
    # The first step, when it is an action with no condition (as in most workflows), is
    # written as queued, and its job enqueued after the commit; any other first step is
    # walked to by _move_on, like every step after it.
    first = workflow.steps[0]
    queued_first = first.kind == "action" and not first.when
    step_rows = [dict(index=index, name=step.name, kind=step.kind,
                      operation=getattr(step, "operation", None),
                      status="queued" if queued_first and index == 0 else "pending",
                      next_attempt_at=now if queued_first and index == 0 else None,
                      attempts=0, round=0, max_attempts=getattr(step, "max_attempts", 1))
                 for index, step in enumerate(workflow.steps)]
    events = [dict(step_name=None, kind="run.started", data={}, created_at=now,
                   message=f"Started from the {started_from} portal")]
    if queued_first:
        events.append(dict(step_name=first.name, kind="step.queued", message=None, data={},
                           created_at=now))
    try:
        run_id, step_ids = _insert_run(run_row, step_rows, events)
    except IntegrityError:  # lost the race to a start of the same form or subject
        db.session.rollback()
        existing = _existing_run(workflow.name, subject, submission_token)
        if existing is None:
            raise
        return existing
    run = _as_written(WorkflowRun, run_row, run_id)
    after = []  # the first step is queued in the transaction that creates the run
    if queued_first:
        after.append(_step_job(_as_written(StepRun, {**step_rows[0], "run_id": run_id},
                                           step_ids[0])))
    else:
        _move_on(run, [_as_written(StepRun, {**row, "run_id": run_id}, step_id)
                       for row, step_id in zip(step_rows, step_ids)], _definitions(run), after)
    with _kept_as_written(run):
        # Nobody is told: no page can be watching a run that did not exist until now.
        _commit(run, after, publish=False)
    run.existing = False
    return run


def _insert_run(run_row, step_rows, events):
    """Write a run, its steps and its first events; return the run's id and its steps' ids,
    in order. On PostgreSQL in one statement (see _start_statement); elsewhere one INSERT
    per table, the events at the commit."""
    connection = db.session.connection()
    if not _on_postgresql():
        run_id = connection.execute(insert(WorkflowRun.__table__).returning(WorkflowRun.id),
                                    run_row).scalar_one()
        # All in one statement; RETURNING keeps no order, so each id comes with its index.
        step_ids = dict(connection.execute(
            insert(StepRun.__table__).returning(StepRun.index, StepRun.id),
            [{**row, "run_id": run_id} for row in step_rows]).all())
        _pending_events().extend({**event, "run_id": run_id} for event in events)
        return run_id, [step_ids[row["index"]] for row in step_rows]
    statement = _start_statement(tuple(run_row), tuple(step_rows[0]), tuple(events[0]))
    params = {f"run_{name}": value for name, value in run_row.items()}
    for prefix, rows in (("steps", step_rows), ("events", events)):
        params.update((f"{prefix}_{name}", [row[name] for row in rows]) for name in rows[0])
    return tuple(connection.execute(statement, params).one())


@functools.cache
def _start_statement(run_columns, step_columns, event_columns):
    """A start as one PostgreSQL statement: WITH run AS (INSERT INTO workflow_runs ...
    RETURNING id), steps AS (INSERT INTO step_runs SELECT run.id, s.* FROM run,
    unnest(<an array per column>) AS s ... RETURNING id, index), events AS (the same for
    run_events) SELECT the run's id, its steps' ids in index order. Built once, with the
    parameters run_<column> and, an array of every row's values, steps_<column> and
    events_<column>: one statement for any number of steps, short and with few parameters
    (the driver parses a long statement, or one of many parameters, again at every
    execution)."""
    runs, steps, events = (WorkflowRun.__table__, StepRun.__table__, RunEvent.__table__)
    run = runs.insert().values({name: bindparam(f"run_{name}", type_=runs.c[name].type)
                                for name in run_columns}).returning(runs.c.id).cte("run")

    def rows_of(table, prefix, columns):
        given = func.unnest(*(bindparam(f"{prefix}_{name}", type_=ARRAY(table.c[name].type))
                              for name in columns)).table_valued(*columns).render_derived()
        return table.insert().from_select(("run_id", *columns), select(
            run.c.id, *(given.c[name] for name in columns)).select_from(run).join(given, true()))
    written_steps = rows_of(steps, "steps", step_columns).returning(
        steps.c.id, steps.c.index).cte("steps")
    written_events = rows_of(events, "events", event_columns).cte("events")
    step_ids = select(func.array_agg(aggregate_order_by(written_steps.c.id,
                                                        written_steps.c.index)))
    return select(select(run.c.id).scalar_subquery(),
                  step_ids.scalar_subquery()).add_cte(written_events)


def _as_written(model, row, row_id):
    """The object of a row just inserted (`row`: its column values; every other column is
    NULL), in the session as if loaded: the unit of work, or reading the row back, would
    cost more than the INSERT."""
    written = _detached(model, {**row, "id": row_id})
    db.session.add(written)
    return written


def _detached(model, values, prefix=""):
    """An object of `model` as if loaded and then detached from its session, its columns
    from `values` (<prefix><column>; a column missing there is NULL). Made as the ORM's
    loading makes one, the values put in its state as they are: the constructor's events
    per attribute cost twice as much."""
    configure_mappers()  # as the constructor would: at once, if a model is new
    detached = model.__mapper__.class_manager.new_instance()
    detached.__dict__.update((name, values.get(prefix + name))
                             for name in model.__table__.columns.keys())
    make_transient_to_detached(detached)
    return detached


def run_subject(template, ctx):
    """The subject text of a run: normalised, so that "Main St 1" and "main st  1" are one
    installation; long ones are hashed to fit the column."""
    if not template:
        return None
    text = " ".join(str(resolve(template, {"ctx": ctx})).lower().split())
    return text if len(text) <= 200 else "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def existing_run(workflow_name, inputs=None, submission_token=None):
    """The run this submission already started, or the live run of the same subject."""
    workflow = get_workflow(workflow_name)
    subject = None
    if workflow is not None and workflow.subject and inputs is not None:
        subject = run_subject(workflow.subject, inputs)
    return _existing_run(workflow_name, subject, (submission_token or "")[:64] or None)


def _existing_run(workflow_name, subject, submission_token):
    conditions = []
    if submission_token:
        conditions.append(WorkflowRun.submission_token == submission_token)
    if subject:
        conditions.append((WorkflowRun.workflow == workflow_name)
                          & (WorkflowRun.live_subject == subject))
    if not conditions:
        return None
    run = db.session.execute(select(WorkflowRun).where(or_(*conditions))
                             .order_by(WorkflowRun.id).limit(1)).scalar()
    if run is not None:
        run.existing = True
    return run


def coerce_inputs(workflow, inputs):
    """Check and convert the inputs against the definition; JSON-able values out."""
    return coerce_fields(workflow.inputs, inputs, "Some inputs are not valid.")


def coerce_fields(specs, inputs, message):
    """Check and convert `inputs` against Input specs, as a form is checked."""
    errors, ctx = {}, {}
    declared = {spec.name for spec in specs}
    for unknown in set(inputs) - declared:
        errors[unknown] = "This is not expected here."
    for spec in specs:
        value = inputs.get(spec.name)
        if value is None or value == "":
            if spec.required:
                errors[spec.name] = "This is required."
            ctx[spec.name] = spec.default
            continue
        try:
            value = _coerce(spec.type, value)
        except (TypeError, ValueError, ArithmeticError):
            errors[spec.name] = f"Expected {spec.type}."
            continue
        if spec.choices and value not in spec.choices:
            errors[spec.name] = "Choose one of: " + ", ".join(spec.choices) + "."
            continue
        ctx[spec.name] = value
    if errors:
        raise ValidationError(message, details=errors)
    return ctx


def _coerce(kind, value):
    if kind == "int":
        if isinstance(value, bool):
            raise ValueError
        return int(value)
    if kind == "str":
        return str(value)
    if kind == "bool":
        return value if isinstance(value, bool) else str(value).lower() in {"1", "true", "yes", "on"}
    if kind == "decimal":
        return str(Decimal(str(value)))
    if kind == "date":
        return value.isoformat() if hasattr(value, "isoformat") else \
            datetime.fromisoformat(str(value)).date().isoformat()
    if kind == "datetime":
        return value.isoformat() if hasattr(value, "isoformat") else \
            datetime.fromisoformat(str(value)).isoformat()
    if kind == "dict":
        if not isinstance(value, dict):
            raise ValueError
        return value
    if kind == "list":
        if not isinstance(value, (list, tuple)):
            raise ValueError
        return list(value)
    raise ValueError(kind)


# ---------------------------------------------------------------- moving forward

def advance(run_id):
    """Move the run to its next step: queue an action, enter a wait, skip a false `when`,
    or finish. Safe to call twice: every change is a compare-and-set."""
    run = db.session.get(WorkflowRun, run_id, populate_existing=True)
    if run is None or run.status != "running":
        return
    after = []
    _move_on(run, _action_steps(run), _definitions(run), after)
    _commit(run, after)


def _move_on(run, steps, definition, after, claim_for=None):
    """Walk the run forward from its first unfinished action step, in the open transaction:
    skip a false `when`, enter a wait, queue the next action (or, given `claim_for`, claim it
    for this job and return it), or finish the run. `steps` are the run's action steps as
    loaded; every change is a compare-and-set on the row, so a stale list (a run cancelled
    meanwhile) changes nothing. Jobs to enqueue go into `after`, to run after the commit."""
    scope = _scope_of(run, steps)
    for step in steps:
        if step.status in ("succeeded", "skipped"):
            continue
        if step.status != "pending":
            return None  # queued, running or waiting: someone is on it
        spec = definition[step.name]
        if spec.get("when") and not condition_holds(spec["when"], scope):
            if not _cas(step, "pending", status="skipped", finished_at=utcnow()):
                return None
            _event(run, "step.skipped", step.name, "Condition not met: skipped")
            continue
        if spec["kind"] == "wait":
            _enter_wait(run, step, spec, scope, after)
            return None
        if claim_for is not None:
            return step if _claim(run, step, spec, scope, claim_for, "pending") else None
        if _cas(step, "pending", status="queued", next_attempt_at=utcnow()):
            _event(run, "step.queued", step.name)
            after.append(_step_job(step))
        return None
    _compare_and_set_chain([_run_succeeded_link(run)])
    return None


def _run_succeeded_link(run):
    """The compare-and-set that ends a running run as succeeded, and its event. A succeeded
    run has no error left to show (a declined card before a good one)."""
    return run, {"id": run.id, "status": "running"}, _finishing(dict(
        status="succeeded", finished_at=utcnow(), error=None)), \
        _event_row(run, "run.succeeded", None, "Finished")


def _claim(run, step, spec, scope, owner, from_status, records=None):
    """Take `step` for this job: `from_status` -> running with our lease, its resolved
    params kept on the object for the call (stored masked): in the open transaction, or on
    the job's `records` connection (see _step_records)."""
    return bool(_compare_and_set_chain([_claim_link(run, step, spec, scope, owner,
                                                    from_status)], step_record=True,
                                       connection=records))


def _claim_link(run, step, spec, scope, owner, from_status):
    """The compare-and-set that claims `step` and its event (see _claim)."""
    try:
        step.call_params, step.bad_definition = resolve(spec["params"], scope), None
    except Exception as error:  # a definition bug: no retry will fix it
        step.call_params, step.bad_definition = None, error
    now = utcnow()
    values = dict(status="running", lease_owner=owner, attempts=step.attempts + 1,
                  params=mask(step.call_params), started_at=now, lease_expires_at=now +
                  timedelta(seconds=current_app.config["STEP_LEASE_SECONDS"]))
    # The attempt count as loaded is part of the compare: a step taken and put back since
    # (a retry, the reaper) is not ours to count from.
    return step, {"id": step.id, "status": from_status, "attempts": step.attempts}, values, \
        _event_row(run, "step.running", step.name, f"Attempt {values['attempts']}")


def execute_step(step_id):
    """An RQ job: claim the queued step, then carry the run forward through consecutive
    action steps, each claimed in the transaction that records the previous one's success,
    until a wait, a retry, a failure, the end of the run or the job's budget (then the next
    step goes back to the queue, so that other runs get a worker). Each step keeps its own
    claim, lease, attempt count, events and idempotency key; only the queue hop goes."""
    with _step_records() as records:
        run, all_steps = _job_copy(step_id, records)
        step = next((s for s in all_steps if s.id == step_id), None)
        if step is None or step.status != "queued":
            return  # a duplicate delivery, or the step was cancelled meanwhile
        if step.kind == "compensation":  # loads afresh, in the session
            return _execute_compensation(db.session.get(WorkflowRun, run.id),
                                         db.session.get(StepRun, step.id))
        definition, steps, owner = _definitions(run), _action_steps(run, all_steps), _owner()
        if not _claim(run, step, definition[step.name], _scope_of(run, steps), owner,
                      "queued", records):
            db.session.rollback()
            return  # another delivery of this job claimed it first
        _commit(run)
        budget_ends = time.monotonic() + CHAIN_BUDGET_SECONDS
        while step is not None:
            step = _attempt(run, steps, definition, step, owner,
                            claim_next=time.monotonic() < budget_ends, records=records)


def _job_copy(step_id, records):
    """The run of step `step_id` and all of its steps, in one query, as the job's own copy:
    detached, so that the commits between steps do not expire them (a reload of every step
    per step would cost more than the step). Every change is still a compare-and-set on the
    rows, so the copy may be stale and nothing goes wrong; failures and compensation load
    afresh. Read on the job's `records` connection where it has one (see _step_records): in
    autocommit, so no transaction is begun and ended for the reads."""
    query, params = _job_copy_query(), {"step_id": step_id}
    if records is None:
        rows = db.session.connection().execute(query, params).all()
        db.session.commit()  # the reads' transaction
    else:
        rows = _execute_on_driver(records, query, params)
    if not rows:
        return None, []
    rows = [dict(zip(query.selected_columns.keys(), row)) for row in rows]
    return _detached(WorkflowRun, rows[0], "run_"), [_detached(StepRun, row, "step_")
                                                     for row in rows]


@functools.cache
def _job_copy_query():
    """Every step of a step's run, each row with the run's columns (step_<column>,
    run_<column>): through the table, as making the objects from the rows (_detached) costs
    a fraction of what the ORM's loading does."""
    steps, runs = StepRun.__table__, WorkflowRun.__table__
    same_run = select(steps.c.run_id).where(steps.c.id == bindparam("step_id"))
    return select(*(column.label(f"step_{column.name}") for column in steps.c),
                  *(column.label(f"run_{column.name}") for column in runs.c)) \
        .join_from(steps, runs, runs.c.id == steps.c.run_id) \
        .where(steps.c.run_id == same_run.scalar_subquery())


def _execute_on_driver(records, statement, params):
    """The rows (tuples) of `statement` run on the driver's own connection under `records`
    (the job's step records connection, in autocommit: no transaction of SQLAlchemy's to keep
    track of), around SQLAlchemy's execution layer, which costs a step more than the
    statement: the statement's compiled form, and how each parameter is converted for the
    driver, are worked out once (_driver_form). A statement with an IN list, which
    SQLAlchemy expands per call, goes through SQLAlchemy."""
    form = _driver_form(statement, records.dialect)
    if form is None:
        return records.execute(statement, params).all()
    sql, converted, constants = form
    params = {**params, **constants}
    for name, convert in converted:
        if name in params:
            params[name] = convert(params[name])
    try:
        return records.connection.driver_connection.execute(sql, params).fetchall()
    except records.dialect.loaded_dbapi.Error as error:
        if records.dialect.is_disconnect(error, records.connection.dbapi_connection, None):
            # As SQLAlchemy's own execution would: this connection, and every other one the
            # database dropped with it, is not used again.
            records.invalidate(error)
            db.engine.dispose(close=False)
        raise


@functools.cache
def _driver_form(statement, dialect):
    """`statement` for the driver: its SQL, its parameters that need converting (JSON) with
    their conversions, and the values the statement itself holds (set_config's arguments);
    None if it has an IN list."""
    compiled = statement.compile(dialect=dialect)
    if any(bind.expanding for bind in compiled.binds.values()):
        return None
    converted, constants = [], {}
    for name, bind in compiled.binds.items():
        convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if not bind.required:
            constants[name] = convert(bind.value) if convert else bind.value
        elif convert is not None:
            converted.append((name, convert))
    return compiled.string, converted, constants


def _on_postgresql():
    """Whether the engine may use what only PostgreSQL has: data-modifying CTEs, a records
    connection in autocommit. Elsewhere (SQLite) the same changes are made one by one."""
    return db.engine.dialect.name == "postgresql"


@contextmanager
def _step_records():
    """The job's connection for the statements that record its steps, on PostgreSQL: held for
    the whole job, in autocommit, so that each such statement is one round trip that commits
    itself (a chain carries all of its change, events included), without a transaction of
    the session (and a trip to the pool) per step. The service calls in between keep the
    session. SQLite: None, and the records are made in the session's transaction."""
    if not _on_postgresql():
        yield None
        return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as records:
        yield records


def _attempt(run, steps, definition, step, owner, claim_next, records=None):
    """Call the claimed step's service; record the outcome and move the run on. Returns the
    next step, claimed for this job, or None when the job is done with the run."""
    result = _call_claimed(run, step, definition[step.name], owner)
    if result is None:
        return None
    # The success commits together with what follows it (the next step claimed or queued, a
    # wait entered, the run finished): one transaction, its events written with it.
    after = []
    following = _next_action(steps, definition, step) if claim_next else None
    with _keeping_success(run, step, owner, result), db.session.no_autoflush:
        if following is not None or step is steps[-1]:  # the common case: one statement
            succeeded, claimed = _succeed_and_go_on(run, steps, step, owner, result,
                                                    following, definition, records)
        else:
            succeeded = _succeeded(run, step, owner, result)
            claimed = _move_on(run, steps, definition, after,
                               owner if claim_next else None) if succeeded else None
    if not succeeded:
        db.session.rollback()
        return None  # our lease was taken over; the other attempt owns the step now
    # Live pages hear once per job, not per step: within the job's budget the steps follow
    # each other in milliseconds, and the page re-renders from the database anyway.
    _commit(run, after, publish=claimed is None)
    return claimed


def _next_action(steps, definition, done):
    """The step after `done` when it is an action step with no condition, to be claimed in
    the statement that records `done`'s success; None when what follows needs _move_on (a
    condition, a wait, the run's end)."""
    following = next((s for s in steps if s.index > done.index), None)
    if following is None or following.status != "pending":
        return None
    spec = definition[following.name]
    return following if spec["kind"] == "action" and not spec.get("when") else None


def _succeed_and_go_on(run, steps, done, owner, result, following, definition, records):
    """Record `done`'s success and then claim `following` for this job, or, with no
    `following` after the run's last step, end the run: in one statement where the database
    allows (a round trip is most of what a step costs), on the job's `records` connection if
    it has one. Returns whether the success was recorded (else our lease was taken over), and
    `following` if this job now holds it."""
    success = _success_link(run, done, owner, result)
    if following is None:
        then = _run_succeeded_link(run)
    else:
        scope = _scope_of(run, steps)
        scope["steps"][done.name] = success[2]["result"]  # what the step's row will say
        then = _claim_link(run, following, definition[following.name], scope, owner,
                           "pending")
    changed = _compare_and_set_chain([success, then], step_record=True, connection=records)
    if done in changed:
        _note_customer(run, result)
    return done in changed, following if following in changed else None


def _execute_compensation(run, step):
    """One attempt of one compensation step (a failure or cancel being undone)."""
    spec = _compensation_spec(run, step)
    owner = _owner()
    if not _claim(run, step, spec, _scope(run), owner, "queued"):
        db.session.rollback()
        return
    _commit(run)
    result = _call_claimed(run, step, spec, owner)
    if result is None:
        return
    if not _succeeded(run, step, owner, result):
        db.session.rollback()
        return  # our lease was taken over; the other attempt owns the step now
    with _keeping_success(run, step, owner, result):
        advance_compensation(run.id)
    _commit(run)


def _call_claimed(run, step, spec, owner):
    """Call the claimed step's service. Returns its result, or None when the step failed
    (recorded, with its retry if it has one)."""
    if step.bad_definition is not None:
        return _step_failed(run, step, owner, step.bad_definition, retry=False)
    try:
        result = _call(spec["operation"], step.call_params, _idempotency_key(run, step))
        missing = [key for key in spec["returns"] if key not in result]
        if missing:
            raise DomainError(f"{spec['operation']} did not return {', '.join(missing)}.")
    except DomainError as error:
        return _step_failed(run, step, owner, error, retry=False)
    except Exception as error:  # transient, timeout or unexpected: worth another attempt
        db.session.rollback()
        return _step_failed(run, step, owner, error, retry=True)
    return result


@contextmanager
def _keeping_success(run, step, owner, result):
    """Moving on after a success: if that fails, the success is still committed (its effect
    happened) and the error goes on; the reaper finds the run stalled behind the step and
    moves it on (_stalled_runs)."""
    try:
        yield
    except Exception:
        db.session.rollback()
        if _succeeded(run, step, owner, result):
            _commit(run)
        raise


def _owner():
    return f"{socket.gethostname()}:{os.getpid()}"


def _commit(run, after=(), publish=True):
    """Commit, do what had to wait for the commit (enqueue jobs: a job must find the rows
    it runs), then tell the live pages. The run's id is read first: after the commit, reading
    it from a loaded run would load the run again."""
    run_id = run.id
    # A step recorded on the job's records connection leaves the session nothing to commit.
    if db.session().in_transaction() or _pending_events():
        db.session.commit()
    for action in after:
        action()
    if publish:
        _publish(run_id)


@contextmanager
def _kept_as_written(row):
    """Keep `row`'s columns as written through the commit inside, instead of expired by it:
    the caller reads the row next (a started run's id, for the page to go to), and reading it
    back would cost a query and leave a transaction open."""
    state = sqlalchemy_inspect(row)
    written = {key: state.dict[key] for key in state.mapper.column_attrs.keys()
               if key in state.dict}
    yield
    for key, value in written.items():
        set_committed_value(row, key, value)


def _succeeded(run, step, owner, result):
    if not _compare_and_set_chain([_success_link(run, step, owner, result)],
                                  step_record=True):
        return False
    _note_customer(run, result)
    return True


def _success_link(run, step, owner, result):
    """The compare-and-set that records a step's success, if its lease is still ours, and
    its event."""
    masked = mask(result)
    return step, {"id": step.id, "status": "running", "lease_owner": owner}, dict(
        status="succeeded", result=masked, finished_at=utcnow(), error_type=None,
        error_message=None), _event_row(run, "step.succeeded", step.name,
                                        data={"result": masked})


def _note_customer(run, result):
    """A run that made (or found) its customer belongs to that customer from then on: the
    customer's page lists it and the run monitor shows whose it is. Not a partner's run: its
    steps are the partner's business, not the sub-customer's."""
    customer_id = result.get("customer_id") if isinstance(result, dict) else None
    if run.customer_id is None and run.partner_id is None and type(customer_id) is int:
        _compare_and_set(run, {"id": run.id, "customer_id": None}, {"customer_id": customer_id})


def _call(operation, params, idempotency_key):
    service_name, method_name = operation.split(".")
    service = registry.get_service(service_name)
    return getattr(service, method_name)(**params, idempotency_key=idempotency_key)


def _idempotency_key(run, step):
    key = f"run{run.id}:{step.name}"
    return key + (f":r{step.round}" if step.round else "")


def _step_failed(run, step, owner, error, retry):
    db.session.rollback()
    step = db.session.get(StepRun, step.id, populate_existing=True)
    run = step.run
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    if retry and step.attempts < step.max_attempts:
        delay = _backoff(step.attempts)
        if _cas(step, "running", lease_owner=owner, status="queued",
                error_type=type(error).__name__, error_message=message,
                next_attempt_at=utcnow() + timedelta(seconds=delay)):
            _event(run, "step.retrying", step.name,
                   f"Attempt {step.attempts} failed ({message}); trying again in {delay:.0f} s")
            db.session.commit()
            _publish(run.id)
            log.warning("run %s step %s attempt %s failed: %s", run.id, step.name,
                        step.attempts, message)
            _enqueue_step(step, delay=delay)
        return
    if not _cas(step, "running", lease_owner=owner, status="failed",
                error_type=type(error).__name__, error_message=message, finished_at=utcnow()):
        db.session.rollback()
        return
    _event(run, "step.failed", step.name, message, {"error_type": type(error).__name__})
    db.session.commit()
    _publish(run.id)
    log.warning("run %s step %s failed: %s", run.id, step.name, message)
    if step.kind == "compensation":
        _finish(run, "failed", f"Could not undo {step.name[len('undo_'):]}: {message}",
                from_statuses=("compensating",))
        return
    rewind_to = _definitions(run)[step.name].get("rewind_to")
    if rewind_to and not retry:
        _rewind(run, rewind_to, message)
    else:
        begin_compensation(run, "failed", message)


def _backoff(attempt):
    """Exponential with full jitter, so retries of many runs do not arrive together."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


# ---------------------------------------------------------------- waiting and signals

def _enter_wait(run, step, spec, scope, after):
    if spec.get("deadline"):
        deadline = datetime.fromisoformat(str(resolve(spec["deadline"], scope)))
        if deadline.tzinfo:  # stored times are naive UTC
            deadline = deadline.astimezone(timezone.utc).replace(tzinfo=None)
    else:
        deadline = utcnow() + timedelta(seconds=spec.get("timeout_seconds") or 86400)
    if not _cas(step, "pending", status="waiting", wait_deadline=deadline,
                started_at=utcnow()):
        return
    _cas_run(run, "running", status="waiting")
    _event(run, "step.waiting", step.name,
           f"Waiting for {spec['signal'].replace('_', ' ')} until {deadline:%Y-%m-%d %H:%M} UTC")
    # The reaper ends an overdue wait anyway (the row is the timer); this job is only sooner.
    after.append(lambda: _enqueue("jobs.steps.wait_timeout", step.id,
                                  at=max(deadline, utcnow()) + timedelta(seconds=1)))


def signal_run(run_id, signal, payload=None, *, by=None):
    """Deliver `signal` to the run's waiting step. True if it won (resumed or ended the
    run), False if the run was not waiting for it. A payload that is not what the wait
    declares raises ValidationError (with field details) and changes nothing."""
    run = db.session.get(WorkflowRun, run_id, populate_existing=True)
    if run is None or run.status != "waiting":
        return False
    step = _waiting_step(run)
    if step is None:
        return False
    spec = _definitions(run)[step.name]
    end = spec.get("end_signals", {}).get(signal)
    if signal != spec["signal"] and end is None:
        return False
    payload = {} if end is not None else _checked_payload(run, spec, payload or {})
    if not _cas(step, "waiting", status="succeeded", result=mask(payload),
                finished_at=utcnow()):
        db.session.rollback()
        return False  # the timeout (or another signal) won
    who = f" from {by.name}" if by is not None else ""
    _event(run, "signal.received", step.name, f"Received {signal.replace('_', ' ')}{who}",
            {"payload": mask(payload), "by_user_id": getattr(by, "id", None)})
    if end is None:
        _cas_run(run, "waiting", status="running")
        db.session.commit()
        _publish(run.id)
        advance(run.id)
        return True
    db.session.commit()
    if end.get("call"):
        _run_side_call(run, step, end["call"], f"{signal}")
    _skip_rest(run)
    _finish(run, end["status"], None, from_statuses=("waiting",))
    return True


def _checked_payload(run, spec, payload):
    """The payload as the wait declares it, or ValidationError: a signal is a form."""
    if not isinstance(payload, dict):
        raise ValidationError("A signal's payload is a set of named fields.")
    fields = [Input(**field) for field in spec.get("payload", ())]
    checked = coerce_fields(fields, payload, f"{spec['signal'].replace('_', ' ').capitalize()}"
                                             " needs other details.")
    if spec.get("check"):
        call = spec["check"]
        _call(call["operation"], resolve(call["params"], {**_scope(run), "signal": checked}),
              None)
    return checked


def wait_timed_out(step_id):
    """The deadline job (and the reaper's sweep): end the wait if nothing else did."""
    step = db.session.get(StepRun, step_id, populate_existing=True)
    if step is None or step.status != "waiting" or step.wait_deadline > utcnow():
        return False
    run = step.run
    spec = _definitions(run)[step.name]
    if not _cas(step, "waiting", status="failed", error_type="Timeout",
                error_message="The deadline passed", finished_at=utcnow()):
        db.session.rollback()
        return False  # the signal won
    _event(run, "step.timed_out", step.name, "The deadline passed")
    db.session.commit()
    if spec.get("on_timeout"):
        _run_side_call(run, step, spec["on_timeout"], "timeout")
    status = spec.get("timeout_status", "expired")
    if status == "failed":
        begin_compensation(run, "failed", "The wait timed out", from_statuses=("waiting",))
    else:
        _skip_rest(run)
        _finish(run, status, None, from_statuses=("waiting",))
    _publish(run.id)
    return True


def _run_side_call(run, step, call, label):
    """The call a wait makes when it ends without resuming (expire the quote, ...)."""
    try:
        _call(call["operation"], resolve(call["params"], _scope(run)),
              f"run{run.id}:{step.name}:{label}")
    except Exception as error:  # recorded for a person; the run still ends as it must
        db.session.rollback()
        _event(run, "call.failed", step.name, f"{call['operation']}: {error}")
        db.session.commit()


def _rewind(run, wait_name, message):
    """A DomainError in a step with `rewind_to`: back to the wait, in a new round."""
    steps = _action_steps(run)
    wait = next(s for s in steps if s.name == wait_name)
    for step in steps:
        if step.index >= wait.index:
            step.status, step.round = "pending", step.round + 1
            step.attempts, step.result, step.wait_deadline = 0, None, None
            if step.index > wait.index:
                step.error_type = step.error_message = None
    run.error = message
    _event(run, "run.rewound", wait_name, f"{message} Waiting again.")
    db.session.commit()
    _publish(run.id)
    advance(run.id)


# ---------------------------------------------------------------- failure, cancel, compensation

def begin_compensation(run, end_status, message, from_statuses=("running",)):
    """Undo the completed steps that declare a compensation, last first; then end the run
    as `end_status` ("failed" becomes "compensated" when something was undone)."""
    run = db.session.get(WorkflowRun, run.id, populate_existing=True)
    if run.status not in from_statuses:
        return
    definition = _definitions(run)
    done = [s for s in _action_steps(run)
            if s.status == "succeeded" and definition[s.name].get("compensate")]
    run.error = message
    if not done:
        _finish(run, end_status, message, from_statuses=from_statuses)
        return
    run.status = "compensating"
    run.end_status = "compensated" if end_status == "failed" else end_status
    for offset, step in enumerate(reversed(done)):
        db.session.add(StepRun(run_id=run.id, index=1000 + offset, name=f"undo_{step.name}",
                               kind="compensation",
                               operation=definition[step.name]["compensate"]["operation"],
                               status="pending", max_attempts=5, round=step.round))
    _event(run, "run.compensating", None, f"{message} Undoing completed steps.")
    db.session.commit()
    _publish(run.id)
    advance_compensation(run.id)


def advance_compensation(run_id):
    run = db.session.get(WorkflowRun, run_id, populate_existing=True)
    if run.status != "compensating":
        return
    for step in _compensation_steps(run):
        if step.status == "succeeded":
            continue
        if step.status == "pending" and _cas(step, "pending", status="queued",
                                             next_attempt_at=utcnow()):
            _event(run, "step.queued", step.name)
            db.session.commit()
            _publish(run.id)
            _enqueue_step(step)
        return
    _finish(run, run.end_status or "compensated", run.error, from_statuses=("compensating",))


def cancel_run(run_id, by=None):
    """Stop a run: pending steps are dropped, completed ones compensated."""
    run = db.session.get(WorkflowRun, run_id, populate_existing=True)
    if run is None or run.status in FINISHED or run.status == "compensating":
        return False
    who = getattr(by, "name", None) or "the system"
    active = run.status
    for step in _action_steps(run):
        if step.status in ("pending", "queued", "waiting"):
            _cas(step, step.status, status="skipped", finished_at=utcnow())
    _event(run, "run.cancel_requested", None, f"Cancelled by {who}")
    db.session.commit()
    begin_compensation(run, "cancelled", f"Cancelled by {who}.", from_statuses=(active,))
    return True


def retry_run(run_id, by=None):
    """Start a failed run again from its failed step (after a person fixed the cause)."""
    run = db.session.get(WorkflowRun, run_id, populate_existing=True)
    if run is None or run.status != "failed":
        return False
    failed = [s for s in run.steps if s.status == "failed"]
    if not failed:
        return False
    for step in failed:
        if step.kind == "compensation":
            step.status, step.attempts = "pending", 0
        else:
            step.status, step.attempts, step.error_type, step.error_message = \
                "pending", 0, None, None
    compensating = any(s.kind == "compensation" for s in failed)
    run.status = "compensating" if compensating else "running"
    run.finished_at = None
    run.live_subject = run.subject  # live again: the subject is ours once more
    if not compensating:
        run.error = None
    _event(run, "run.retried", None, f"Retried by {getattr(by, 'name', None) or 'the system'}")
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise DomainError("Another run for the same thing is already under way; this one "
                          "cannot be retried while it is.")
    _publish(run.id)
    if compensating:
        advance_compensation(run.id)
    else:
        advance(run.id)
    return True


def _finish(run, status, message, from_statuses=("running",)):
    run = db.session.get(WorkflowRun, run.id, populate_existing=True)
    if not _cas_run(run, *from_statuses, status=status, finished_at=utcnow(),
                    error=message if message else run.error):
        db.session.rollback()
        return
    _event(run, f"run.{status}", None, message)
    db.session.commit()
    _publish(run.id)


def _skip_rest(run):
    for step in _action_steps(run):
        if step.status == "pending":
            step.status = "skipped"


# ---------------------------------------------------------------- the reaper

def reap_stale_steps():
    """Take up what a dead worker or a lost Redis left behind: running steps whose lease
    expired, queued steps whose job is gone (or stuck in a scheduler nobody runs), waits
    whose deadline passed."""
    now = utcnow()
    stale = db.session.execute(select(StepRun.id, StepRun.lease_expires_at).where(
        StepRun.status == "running",
        StepRun.lease_expires_at < now - timedelta(seconds=LEASE_GRACE_SECONDS))).all()
    for step_id, expired_at in stale:
        taken = db.session.execute(
            update(StepRun).where(StepRun.id == step_id, StepRun.status == "running",
                                  StepRun.lease_expires_at == expired_at)
            .values(status="queued", lease_owner=None, next_attempt_at=now)).rowcount
        db.session.commit()
        if taken:
            step = db.session.get(StepRun, step_id)
            _event(step.run, "step.requeued", step.name,
                   "The worker stopped answering; the step was taken up again")
            db.session.commit()
            _publish(step.run_id)
            _enqueue_step(step)
    queued = db.session.execute(select(StepRun).where(
        StepRun.status == "queued",
        StepRun.next_attempt_at < now - timedelta(seconds=LEASE_GRACE_SECONDS))).scalars().all()
    forgotten = [step for step in queued if not _job_on_its_way(step, now)]
    for step in forgotten:  # a duplicate job is harmless: the claim is a compare-and-set
        _enqueue_step(step)
    overdue = db.session.execute(select(StepRun.id).where(
        StepRun.status == "waiting", StepRun.wait_deadline < now)).scalars().all()
    for step_id in overdue:
        wait_timed_out(step_id)
    stalled = _stalled_runs(now)
    for run_id in stalled:
        advance(run_id)
    return {"requeued": len(stale), "resent": len(forgotten), "timed_out": len(overdue),
            "moved_on": len(stalled)}


def _stalled_runs(now):
    """Running runs with no step queued, running or waiting: the process that recorded the
    last success (or delivered a signal) died, or failed, before it moved the run on. Only
    those quiet for a while: a run being moved on just now is left to its mover."""
    active = select(StepRun.id).where(StepRun.run_id == WorkflowRun.id,
                                      StepRun.status.in_(("queued", "running", "waiting")))
    quiet = select(StepRun.id).where(
        StepRun.run_id == WorkflowRun.id,
        StepRun.finished_at > now - timedelta(seconds=LEASE_GRACE_SECONDS))
    return db.session.execute(select(WorkflowRun.id).where(
        WorkflowRun.status == "running", ~active.exists(), ~quiet.exists(),
        WorkflowRun.started_at < now - timedelta(seconds=LEASE_GRACE_SECONDS))).scalars().all()


def _job_on_its_way(step, now):
    """Is the RQ job of this queued step still going to run it? Not if Redis lost it, nor if
    it sits in RQ's scheduler past its time (the worker holding the scheduler died)."""
    try:
        status = Job.fetch(_step_job_id(step), connection=get_redis()).get_status()
    except NoSuchJobError:
        return False
    if status in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED):
        # STARTED but never claimed for a whole lease: its worker died before the claim.
        lease = current_app.config["STEP_LEASE_SECONDS"]
        return status != JobStatus.STARTED or \
            step.next_attempt_at > now - timedelta(seconds=2 * lease)
    if status == JobStatus.SCHEDULED:
        return step.next_attempt_at > now - timedelta(seconds=30)
    return False  # finished, failed, stopped or cancelled without claiming the step


# ---------------------------------------------------------------- helpers

def _definitions(run):
    return {spec["name"]: spec for spec in run.definition["steps"]}


def _compensation_spec(run, step):
    original = _definitions(run)[step.name[len("undo_"):]]
    return {**original["compensate"], "returns": ()}


def _action_steps(run, loaded=None):
    """The run's action steps in order, from the database (or from `loaded`, its steps)."""
    return sorted((s for s in (loaded or _load_steps(StepRun.run_id == run.id))
                   if s.kind != "compensation"), key=lambda s: s.index)


def _compensation_steps(run):
    return sorted((s for s in _load_steps(StepRun.run_id == run.id)
                   if s.kind == "compensation"), key=lambda s: s.index)


def _load_steps(condition):
    return db.session.execute(select(StepRun).where(condition)
                              .execution_options(populate_existing=True)).scalars().all()


def _waiting_step(run):
    return next((s for s in _action_steps(run) if s.status == "waiting"), None)


def _scope(run):
    return _scope_of(run, _action_steps(run))


def _scope_of(run, steps):
    """What templates see: the inputs, the results of the steps that succeeded, the run id."""
    results = {s.name: s.result or {} for s in steps if s.status == "succeeded"}
    return {"ctx": run.inputs, "steps": results, "run": {"id": run.id}}


def _cas(step, *from_status, lease_owner=None, **values):
    """Compare-and-set on a step row: change it only if it is still in `from_status`."""
    expected = {"id": step.id, "status": from_status}
    if lease_owner:
        expected["lease_owner"] = lease_owner
    return _compare_and_set(step, expected, values)


def _cas_run(run, *from_status, **values):
    return _compare_and_set(run, {"id": run.id, "status": from_status}, _finishing(values))


def _finishing(values):
    """A run's new values; if it finishes, it no longer holds its subject."""
    if values.get("status") in FINISHED:
        values["live_subject"] = None
    return values


def _compare_and_set(row, expected, values):
    """One UPDATE ... WHERE each column in `expected` still holds its value (a tuple: one of
    its values; None: NULL); if it changed the row, the object in hand says so too, without
    the session writing it again at the commit."""
    expected = _comparable(expected)
    statement = _update_statement(type(row).__table__, _shape(expected, values))
    changed = db.session.connection().execute(
        statement, _chain_params([(expected, values, None)])).rowcount == 1
    if changed:
        _now_holds(row, values)
    return changed


def _compare_and_set_chain(links, step_record=False, connection=None):
    """Compare-and-sets made in order, each only if every one before it changed its row: a
    step's success, then the claim of the step after it. Each link is (row, expected, values,
    event), the first three as for _compare_and_set; `event` (an _event_row) is appended to
    the run's history if its change is made. Returns the rows changed, in order.

    On PostgreSQL the chain is one statement, its UPDATEs and the events' INSERT as
    data-modifying CTEs: a round trip, and the work of sending a statement, are most of what
    a step costs. It runs on `connection` (the job's step records connection, where it
    commits on its own; straight to the driver, see _execute_on_driver) if given and if the
    session has no transaction open; else in the session's transaction, so that it sees what
    the session wrote and does not wait for the session's own locks (a service that left its
    work uncommitted). A `step_record` (a worker's record of its step) commits as
    STEP_RECORDS_SYNCHRONOUS says (app/config.py).
    SQLite has no such CTEs: there the same compare-and-sets run one by one in the open
    transaction, and the events are written at the commit."""
    links = [(row, _comparable(expected), values, event)
             for row, expected, values, event in links]
    if not _on_postgresql():
        changed = []
        for row, expected, values, event in links:
            if not _compare_and_set(row, expected, values):
                break
            _pending_events().append(event)
            changed.append(row)
        return changed
    statement = _chain_statement(tuple((type(row).__table__, _shape(expected, values))
                                       for row, expected, values, _event in links),
                                 not step_record or
                                 current_app.config["STEP_RECORDS_SYNCHRONOUS"])
    params = _chain_params([(expected, values, event) for _row, expected, values, event in links])
    if connection is not None and not db.session().in_transaction():
        made = _execute_on_driver(connection, statement, params)[0]
    else:
        made = db.session.connection().execute(statement, params).one()
    changed = [row for (row, _expected, _values, _event), count in zip(links, made) if count]
    for row, _expected, values, _event in links[:len(changed)]:
        _now_holds(row, values)
    return changed


def _comparable(expected):
    # One of a single value is that value: an IN list costs the statement a rewrite per call.
    return {name: value[0] if type(value) is tuple and len(value) == 1 else value
            for name, value in expected.items()}


def _shape(expected, values):
    """What a compare-and-set's statement depends on: the columns compared (and how), the
    columns set."""
    return (tuple((name, type(value) is tuple, value is None)
                  for name, value in expected.items()), tuple(values))


def _chain_params(changes):
    """The parameters of the statements below, for (expected, values, event) in order."""
    params = {}
    for n, (expected, values, event) in enumerate(changes):
        params.update((f"set{n}_{name}", value) for name, value in values.items())
        params.update((f"was{n}_{name}", list(value) if type(value) is tuple else value)
                      for name, value in expected.items() if value is not None)
        params.update((f"event{n}_{name}", value) for name, value in (event or {}).items())
    return params


def _now_holds(row, values):
    for key, value in values.items():
        set_committed_value(row, key, value)


def _compare_and_set_update(table, n, shape):
    """The UPDATE of the n-th compare-and-set of a statement, with its parameters named
    was<n>_<column> (compared) and set<n>_<column> (set)."""
    expected, columns = shape
    return table.update().where(*(
        table.c[name].is_(None) if is_null else
        table.c[name].in_(bindparam(f"was{n}_{name}", expanding=True)) if is_set else
        table.c[name] == bindparam(f"was{n}_{name}")
        for name, is_set, is_null in expected)).values(
        {name: bindparam(f"set{n}_{name}", type_=table.c[name].type) for name in columns})


# Building a statement costs more than running it, and the engine has a handful of shapes:
# each is built once.
@functools.cache
def _update_statement(table, shape):
    return _compare_and_set_update(table, 0, shape)


@functools.cache
def _chain_statement(links, synchronous):
    """The chain of compare-and-sets (see _compare_and_set_chain) as one PostgreSQL
    statement: WITH change0 AS (UPDATE ... RETURNING id), change1 AS (UPDATE ... AND EXISTS
    (SELECT FROM change0) ...), events AS (INSERT INTO run_events SELECT <event n> FROM
    change<n> UNION ALL ...) SELECT the number of rows each change made. Unless
    `synchronous`, it also sets synchronous_commit off for its transaction
    (STEP_RECORDS_SYNCHRONOUS in app/config.py says why that is safe), at no extra round
    trip."""
    changes = []
    for n, (table, shape) in enumerate(links):
        update = _compare_and_set_update(table, n, shape)
        if changes:
            update = update.where(exists(changes[-1].select()))
        changes.append(update.returning(table.c.id).cte(f"change{n}"))
    events = RunEvent.__table__
    columns = ("run_id", "step_name", "kind", "message", "data", "created_at")
    written = events.insert().from_select(columns, union_all(*(
        select(*(bindparam(f"event{n}_{name}", type_=events.c[name].type) for name in columns))
        .select_from(change) for n, change in enumerate(changes)))).cte("events")
    counts = [select(func.count()).select_from(change).scalar_subquery() for change in changes]
    if not synchronous:
        counts.append(func.set_config("synchronous_commit", "off", True))
    return select(*counts).add_cte(written)


def _event(run, kind, step_name, message=None, data=None):
    """Append to the run's history. The rows are written when the transaction commits, all of
    them in one statement (_write_events), and dropped with it on a rollback."""
    _pending_events().append(_event_row(run, kind, step_name, message, data))


def _event_row(run, kind, step_name, message=None, data=None):
    return dict(run_id=run.id, step_name=step_name, kind=kind, message=message,
                data=mask(data or {}), created_at=utcnow())


def _pending_events():
    return db.session.info.setdefault(_PENDING_EVENTS, [])


_PENDING_EVENTS = "lastmile_run_events"
_INSERT_EVENTS = RunEvent.__table__.insert()


@sqlalchemy_event.listens_for(db.session, "before_commit")
def _write_events(session):
    rows = session.info.pop(_PENDING_EVENTS, None)
    if rows:
        session.connection().execute(_INSERT_EVENTS, rows)


@sqlalchemy_event.listens_for(db.session, "after_soft_rollback")
def _drop_events(session, previous_transaction):
    session.info.pop(_PENDING_EVENTS, None)


def _publish(run_id):
    """Tell live pages the run changed; they re-render from the database."""
    try:
        get_redis().publish(f"run:{run_id}", json.dumps({"run_id": run_id}))
    except Exception:  # the live page falls back to polling; the run goes on
        log.warning("could not publish run %s update", run_id)


def _step_job_id(step):
    """One RQ job id per step attempt, so the reaper can ask RQ whether it is still coming."""
    return f"lastmile-step-{step.id}-{step.round}-{step.attempts}"


def _enqueue_step(step, delay=None):
    _step_job(step, delay)()


def _step_job(step, delay=None):
    """Enqueueing this attempt of `step`, to do later (after the commit), with its id and
    attempt read now: read after the commit, they would load the step again."""
    return functools.partial(_enqueue, "jobs.steps.run_step", step.id, delay=delay,
                             job_id=_step_job_id(step))


def _enqueue(function, step_id, delay=None, at=None, job_id=None):
    queue = get_queue()
    # A step attempt may not outlive its lease: RQ stops it at the lease's end (a timeout,
    # retried like any), so a lease that expired means the worker is gone, and the reaper
    # never starts a second attempt beside one that is still running.
    options = dict(job_timeout=current_app.config["STEP_LEASE_SECONDS"], job_id=job_id)
    if at is not None:  # RQ reads a naive time as local time: say it is UTC
        queue.enqueue_at(at.replace(tzinfo=timezone.utc), function, step_id, **options)
    elif delay:
        queue.enqueue_in(timedelta(seconds=delay), function, step_id, **options)
    else:  # one round trip: RQ's own enqueue makes two (its queue list, then the job)
        with queue.connection.pipeline() as pipeline:
            queue.enqueue(function, step_id, pipeline=pipeline, **options)
            pipeline.execute()
