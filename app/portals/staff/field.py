"""Field operations (W5): the Deploy service wizard, the dispatcher's calendar, a
technician's jobs, service instances and the RADIUS rows FreeRADIUS reads."""
from datetime import date, datetime, timedelta

from flask import flash, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.errors import DomainError
from app.extensions import db
from app.models import (Appointment, Customer, Plan, ServiceInstance, SiteSurvey, StepRun,
                        User)
from app.portals.access import get_own_or_404, staff_required
from app.portals.pagination import render_list, search
from app.portals.staff import bp
from app.portals.wizards import (already_started, error_details, form_page, go,
                                 submission_token, values)
from app.services.genieacs import CPE_PARAMETERS
from app.workflows.engine import signal_run, start_run
from app.workflows.registry import get_service
from app.workflows.secrets import MASK


def _technicians():
    return db.session.execute(select(User).where(User.role == "technician",
                                                 User.is_active_user.is_(True))
                              .order_by(User.name)).scalars().all()


@bp.route("/customers/<int:customer_id>/deploy", methods=["GET", "POST"])
@staff_required("ops")
def deploy_service(customer_id):
    customer = db.get_or_404(Customer, customer_id)
    plans = db.session.execute(select(Plan).filter_by(kind="internet", is_active=True)
                               .order_by(Plan.price)).scalars().all()
    surveyed = db.session.execute(select(SiteSurvey.id).filter_by(
        customer_id=customer.id, status="completed", serviceability="serviceable")).first()
    page = dict(customer=customer, plans=plans, technicians=_technicians(),
                surveyed=surveyed is not None)
    if request.method == "GET":
        return form_page("staff/field/deploy.html", **page,
                         values={"service_location": customer.service_address or ""})
    started = already_started("isp_ticket_to_deployment")
    if started is not None:
        return go(url_for("staff.run_detail", run_id=started.id))
    vals = values("bandwidth_plan", "service_location", "device_serial", "scheduled_date",
                  "technician_id")
    errors = {}
    if vals["bandwidth_plan"] not in {p.code for p in plans}:
        errors["bandwidth_plan"] = "Choose an internet plan."
    if not vals["service_location"] or len(vals["service_location"]) > 500:
        errors["service_location"] = "Enter the service address."
    if len(vals["device_serial"]) > 100:
        errors["device_serial"] = "That serial is too long."
    if vals["technician_id"] and vals["technician_id"] not in {str(t.id) for t in
                                                              page["technicians"]}:
        errors["technician_id"] = "Choose a technician, or let the system pick one."
    if vals["scheduled_date"]:
        try:
            if datetime.fromisoformat(vals["scheduled_date"]) <= datetime.utcnow():
                errors["scheduled_date"] = "Choose a date in the future."
        except ValueError:
            errors["scheduled_date"] = "Use a date like 2026-12-01T09:00."
    if not surveyed:
        errors["_form"] = "This customer has no completed, serviceable site survey."
    if not errors:
        try:
            run = start_run("isp_ticket_to_deployment", {
                "customer_id": customer.id, "bandwidth_plan": vals["bandwidth_plan"],
                "service_location": vals["service_location"],
                "device_serial": vals["device_serial"] or None,
                "scheduled_date": vals["scheduled_date"] or None,
                "technician_id": int(vals["technician_id"]) if vals["technician_id"] else None},
                started_by=current_user, started_from="staff", customer_id=customer.id,
                submission_token=submission_token())
            return go(url_for("staff.run_detail", run_id=run.id))
        except DomainError as error:
            errors = error_details(error)
    return form_page("staff/field/deploy.html", 422, **page, values=vals, errors=errors)


@bp.route("/dispatch")
@staff_required("dispatcher", "ops")
def dispatch():
    try:
        start = date.fromisoformat(request.args.get("week", ""))
    except ValueError:
        start = _week_of_next_jobs()
    start -= timedelta(days=start.weekday())
    days = [start + timedelta(days=n) for n in range(7)]
    technicians = _technicians()
    appointments = db.session.execute(select(Appointment).options(
        selectinload(Appointment.customer)).where(
        Appointment.starts_at >= datetime.combine(days[0], datetime.min.time()),
        Appointment.starts_at < datetime.combine(days[-1] + timedelta(days=1),
                                                 datetime.min.time()),
        Appointment.status != "cancelled").order_by(Appointment.starts_at)).scalars().all()
    grid = {}
    ticketing = get_service("ticketing")
    warnings = {a.id: ticketing.booking_warnings(a) for a in appointments
                if a.status in ("scheduled", "en_route")}
    for appointment in appointments:
        grid.setdefault((appointment.technician_id, appointment.starts_at.date()), []).append(
            appointment)
    from app.portals.staff.dashboards import unbooked_installations
    return render_template("staff/field/dispatch.html", days=days, technicians=technicians,
                           grid=grid, warnings=warnings, queue=unbooked_installations(),
                           today=date.today(), now=datetime.utcnow(),
                           previous=days[0] - timedelta(days=7),
                           following=days[0] + timedelta(days=7))


def _week_of_next_jobs():
    """The calendar opens where the work is: the week of the next open job (this week if
    there is none), not an empty week."""
    from app.models import utcnow
    now = utcnow()
    upcoming = db.session.execute(select(Appointment.starts_at).where(
        Appointment.status.in_(("scheduled", "en_route")), Appointment.ends_at >= now)
        .order_by(Appointment.starts_at).limit(1)).scalar()
    return max(upcoming.date(), now.date()) if upcoming else now.date()


@bp.route("/appointments/<int:appointment_id>/reassign", methods=["POST"])
@staff_required("dispatcher", "ops")
def reassign_appointment(appointment_id):
    vals = values("technician_id", "starts_at")
    week = request.form.get("week", "")
    try:
        starts_at = datetime.fromisoformat(vals["starts_at"])
        ticketing = get_service("ticketing")
        moved = ticketing.reassign(appointment_id, int(vals["technician_id"]), starts_at)
        flash(f"Appointment moved: {moved.customer.name} to {moved.technician.name} on "
              f"{moved.starts_at:%a %d %b, %H:%M}.")
        for warning in ticketing.booking_warnings(moved):
            flash(f"Check: {warning}", "warning")
        # Show the week the job went to, so it does not seem to vanish.
        week = (moved.starts_at.date() - timedelta(days=moved.starts_at.weekday())).isoformat()
    except (ValueError, TypeError):
        flash("Choose a technician and a start time.", "error")
    except DomainError as error:
        flash(error.message, "error")
    # Only a date goes back into the address: never echo a form value into Location.
    return go(url_for("staff.dispatch", week=week if _is_date(week) else None))


def _is_date(text):
    try:
        date.fromisoformat(text[:10])
        return len(text) == 10
    except ValueError:
        return False


@bp.route("/jobs")
@staff_required("technician")
def my_jobs():
    jobs = db.session.execute(select(Appointment).options(selectinload(Appointment.customer))
                              .where(Appointment.technician_id == current_user.id,
                                     Appointment.status.in_(("scheduled", "en_route")))
                              .order_by(Appointment.starts_at)).scalars().all()
    return render_template("staff/field/jobs.html", jobs=jobs)


@bp.route("/jobs/<int:appointment_id>/en-route", methods=["POST"])
@staff_required("technician")
def job_en_route(appointment_id):
    get_own_or_404(Appointment, appointment_id, technician_id=current_user.id)
    try:
        get_service("ticketing").mark_en_route(appointment_id, current_user)
    except DomainError as error:
        flash(error.message, "error")
    return go(url_for("staff.my_jobs"))


@bp.route("/jobs/<int:appointment_id>/complete", methods=["POST"])
@staff_required("technician")
def job_complete(appointment_id):
    job = get_own_or_404(Appointment, appointment_id, technician_id=current_user.id)
    vals = values("cpe_serial", "notes", "confirm_early")
    if job.starts_at.date() > date.today() and vals["confirm_early"] != "yes":
        # A job booked for another day is easily the wrong card: ask before completing it.
        return form_page("staff/field/_complete_form.html", 422, job=job, values=vals,
                         errors={"confirm_early": f"This job is booked for "
                                                  f"{job.starts_at:%a %d %b}, not today. Tick "
                                                  "the box if you really did it today."})
    try:
        complete_installation(appointment_id, current_user, vals["cpe_serial"],
                              vals["notes"][:2000])
    except DomainError as error:
        return form_page("staff/field/_complete_form.html", 422, job=job, values=vals,
                         errors=error_details(error))
    flash(f"Job at {job.customer.name} completed. {what_happens_after_the_job()}")
    return go(url_for("staff.my_jobs"))


def complete_installation(appointment_id, technician, cpe_serial, notes):
    """The technician's "Complete job": record it, then resume the installation run (W5)
    waiting for it, with the serial from the device label."""
    appointment = get_service("ticketing").complete_job(appointment_id, technician,
                                                        cpe_serial, notes)
    if appointment.workflow_run_id:
        signal_run(appointment.workflow_run_id, "installation_completed",
                   {"device_serial": appointment.cpe_serial, "appointment_id": appointment.id})
    return appointment


def what_happens_after_the_job():
    """The truth about W5 after the technician's click: with GenieACS the CPE is configured
    and the service switched on by itself; without it, ops configure the CPE by hand first."""
    from flask import current_app
    if current_app.config.get("GENIEACS_URL"):
        return ("The CPE is being configured through GenieACS; the service switches on "
                "when it answers.")
    return ("Next, operations configure the CPE by hand and mark it configured; the "
            "service switches on then (you need not wait).")


@bp.route("/services")
@staff_required("ops")
def services():
    query = search(select(ServiceInstance).options(selectinload(ServiceInstance.customer),
                                                   selectinload(ServiceInstance.plan))
                   .order_by(ServiceInstance.id.desc()),
                   ServiceInstance.pppoe_username, ServiceInstance.ip_address,
                   ServiceInstance.cpe_serial)
    return render_list("staff/base.html", "Internet services", query,
                       [("Username", "pppoe_username"), ("Customer", "customer.name"),
                        ("Plan", "plan.name"), ("IP", "ip_address"), ("VLAN", "vlan_id"),
                        ("CPE", "cpe_serial"), ("Status", "status")],
                       row_link=lambda s: url_for("staff.service_detail", service_id=s.id),
                       search_placeholder="Search by username, IP or CPE serial",
                       empty="No internet services yet.")


@bp.route("/services/<int:service_id>")
@staff_required("ops")
def service_detail(service_id):
    service = db.get_or_404(ServiceInstance, service_id)
    rows = get_service("radius").rows(service.pppoe_username)
    return render_template("staff/field/service.html", service=service, rows=rows,
                           mask=MASK, waiting_run=_run_waiting_for_cpe(service),
                           parameters=CPE_PARAMETERS)


def _run_waiting_for_cpe(service):
    """The installation run of this service, if it waits for an operator to configure the
    CPE by hand (no GenieACS configured)."""
    run_id = db.session.execute(select(Appointment.workflow_run_id).where(
        Appointment.service_instance_id == service.id,
        Appointment.workflow_run_id.isnot(None))).scalars().first()
    if run_id is None:
        return None
    waiting = db.session.execute(select(StepRun.id).where(
        StepRun.run_id == run_id, StepRun.name == "await_cpe_configuration",
        StepRun.status == "waiting")).first()
    return run_id if waiting else None


@bp.route("/services/<int:service_id>/cpe-configured", methods=["POST"])
@staff_required("ops")
def cpe_configured(service_id):
    service = db.get_or_404(ServiceInstance, service_id)
    run_id = _run_waiting_for_cpe(service)
    if run_id and signal_run(run_id, "cpe_configured", {"by": current_user.name}):
        flash("Thank you: the service is being switched on.")
    else:
        flash("This service is not waiting for a manual CPE configuration.", "error")
    return go(url_for("staff.service_detail", service_id=service.id))
