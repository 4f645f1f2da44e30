"""Staff run monitor: every run, its live timeline, and retry / cancel / signal."""
import json

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.errors import DomainError, ValidationError
from app.extensions import db
from app.models import Customer, RunEvent, StepRun, WorkflowRun
from app.models.workflows import RUN_STATUSES
from app.portals.access import has_role, staff_required
from app.portals.live import run_version, stream
from app.portals.pagination import among, contains, filter_by_arg, matching_ids, render_list
from app.portals.staff import bp
from app.workflows import engine
from app.workflows.definitions import all_workflows

ROLES = ("ops", "sales")


@bp.route("/runs")
@staff_required(*ROLES)
def runs():
    query = select(WorkflowRun).options(selectinload(WorkflowRun.started_by),
                                        selectinload(WorkflowRun.customer)).order_by(
        WorkflowRun.id.desc())
    query = filter_by_arg(query, WorkflowRun.workflow, "workflow", list(all_workflows()))
    query = filter_by_arg(query, WorkflowRun.status, "status", RUN_STATUSES)
    customer_id = request.args.get("customer", type=int)
    if customer_id:
        query = query.where(WorkflowRun.customer_id == customer_id)
    term = (request.args.get("q") or "").strip()
    if term.isdigit():
        query = query.where(WorkflowRun.id == int(term))
    elif term:
        # The customers first, then their runs (pagination.search's reason): joined, the
        # planner walks the newest runs and looks up each one's customer.
        customer_ids = matching_ids(term[:100], Customer.name)
        if customer_ids is not None:
            query = query.where(among(WorkflowRun.customer_id, customer_ids))
        else:
            query = query.join(Customer, Customer.id == WorkflowRun.customer_id).where(
                contains(Customer.name, term[:100]))
    return render_list("staff/base.html", "Workflow runs", query,
                       [("Run", "id"), ("Workflow", "title"), ("Customer", "customer.name"),
                        ("Started", "created_at"), ("From", "started_from"),
                        ("Status", "status")],
                       row_link=lambda r: url_for("staff.run_detail", run_id=r.id),
                       search_placeholder="Run number or customer name",
                       filters=[("workflow", "Workflow", list(all_workflows()),
                                 request.args.get("workflow")),
                                ("status", "Status", RUN_STATUSES, request.args.get("status"))],
                       empty="No runs match.", keyset=WorkflowRun.id)


def _load(run_id, **options):
    run = db.session.get(WorkflowRun, run_id, **options)
    if run is None:
        abort(404)
    return run


def _timeline(run_id):
    # The version before the run, as in live.register_progress_views: never newer than what
    # the fragment shows.
    version = run_version(run_id)
    # populate_existing: a run the request loaded before (to authorise it) is read again
    run = _load(run_id, populate_existing=True)
    steps = db.session.execute(select(StepRun).where(StepRun.run_id == run.id)
                               .order_by(StepRun.index)).scalars().all()
    events = db.session.execute(select(RunEvent).where(RunEvent.run_id == run.id)
                                .order_by(RunEvent.id.desc()).limit(30)).scalars().all()
    from app.portals.run_results import run_results
    return render_template("staff/runs/_live.html", run=run, steps=steps, events=events,
                           version=version,
                           titles={s["name"]: s.get("title") for s in run.definition["steps"]},
                           results=run_results(run, steps),
                           # raw JSON (inputs, parameters, results) is for admins only
                           can_signal=has_role(), is_admin=has_role(), json=json)


@bp.route("/runs/<int:run_id>")
@staff_required(*ROLES)
def run_detail(run_id):
    timeline = _timeline(run_id)  # loads the run: _load finds it in the session
    return render_template("staff/runs/detail.html", run=_load(run_id), timeline=timeline)


@bp.route("/runs/<int:run_id>/timeline")
@staff_required(*ROLES)
def run_timeline(run_id):
    return _timeline(run_id)


@bp.route("/runs/<int:run_id>/stream")
@staff_required(*ROLES)
def run_stream(run_id):
    run_id = _load(run_id).id
    return stream(run_id, lambda: _timeline(run_id))


@bp.route("/runs/<int:run_id>/retry", methods=["POST"])
@staff_required(*ROLES)
def run_retry(run_id):
    try:
        retried = engine.retry_run(_load(run_id).id, by=current_user)
    except DomainError as error:
        flash(error.message, "error")
    else:
        if retried:
            flash("Retrying from the failed step.")
        else:
            flash("Only a failed run can be retried.", "error")
    return redirect(url_for("staff.run_detail", run_id=run_id))


@bp.route("/runs/<int:run_id>/cancel", methods=["POST"])
@staff_required(*ROLES)
def run_cancel(run_id):
    if engine.cancel_run(_load(run_id).id, by=current_user):
        flash("Cancelled: completed steps are being undone.")
    else:
        flash("This run has already finished.", "error")
    return redirect(url_for("staff.run_detail", run_id=run_id))


@bp.route("/runs/<int:run_id>/signal", methods=["POST"])
@staff_required("admin")
def run_signal(run_id):
    """An administrator delivers the signal a run waits for: with the fields its wait
    declares, checked as the wait checks them, confirmed, and recorded in the run."""
    run = _load(run_id)
    name = (request.form.get("signal") or "").strip()
    if request.form.get("confirm") != "yes":
        flash("Tick the confirmation to send a signal.", "error")
        return redirect(url_for("staff.run_detail", run_id=run_id), 303)
    payload = {key[len("field_"):]: value.strip() for key, value in request.form.items()
               if key.startswith("field_") and value.strip()}
    try:
        sent = engine.signal_run(run.id, name, payload, by=current_user)
    except ValidationError as error:
        details = "; ".join(f"{field.replace('_', ' ')}: {text}"
                            for field, text in (error.details or {}).items())
        flash(f"Not sent: {error.message}" + (f" ({details})" if details else ""), "error")
        return redirect(url_for("staff.run_detail", run_id=run_id), 303)
    if sent:
        flash(f"Sent {name.replace('_', ' ')}.")
    else:
        flash(f"The run is not waiting for {name.replace('_', ' ') or 'that signal'}.", "error")
    return redirect(url_for("staff.run_detail", run_id=run_id), 303)
