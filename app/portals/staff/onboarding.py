"""W1 "Convert lead" wizard, and the outbox (every email the platform sent)."""
import re

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.errors import DomainError
from app.extensions import db
from app.models import Lead, LicenseTemplate, OutboundEmail, Plan, WorkflowRun
from app.portals.access import staff_required
from app.portals.pagination import render_list, search
from app.portals.staff import bp
from app.portals.wizards import (already_started, error_details, form_page, go, require_int,
                                 submission_token, values)
from app.services.customer.leads import CONVERTIBLE
from app.workflows.engine import start_run

INVITATION = re.compile(r"(/portal/invite/)[A-Za-z0-9_\-]+")


@bp.route("/leads/<int:lead_id>/convert", methods=["GET", "POST"])
@staff_required("sales")
def convert_lead(lead_id):
    lead = db.get_or_404(Lead, lead_id)
    plans = db.session.execute(select(Plan).where(Plan.is_active.is_(True))
                               .order_by(Plan.kind, Plan.price)).scalars().all()
    templates = db.session.execute(select(LicenseTemplate).order_by(LicenseTemplate.name)
                                   ).scalars().all()
    page = dict(lead=lead, plans=plans, templates=templates)
    if request.method == "POST":  # this form posted again (back button, double click)
        started = already_started("lead_to_customer_onboarding", {"lead_id": lead.id})
        if started is not None:
            return go(url_for("staff.run_detail", run_id=started.id))
    if request.method == "GET" and lead.converted_customer_id:
        # Back to the form after converting (the back button): the run that converted it.
        converted_by = db.session.execute(
            select(WorkflowRun.id).where(WorkflowRun.workflow == "lead_to_customer_onboarding",
                                         WorkflowRun.subject == f"lead:{lead.id}")
            .order_by(WorkflowRun.id.desc()).limit(1)).scalar()
        if converted_by:
            flash(f"{lead.name} is already converted: this is the run that did it.")
            return redirect(url_for("staff.run_detail", run_id=converted_by), 303)
    if lead.status not in CONVERTIBLE or lead.converted_customer_id:
        return form_page("staff/onboarding/convert.html", 409, **page, errors={
            "_form": f"Lead {lead.number} is {lead.status.replace('_', ' ')}: only a "
                     "qualified lead that is not converted yet can become a customer."})
    if request.method == "GET":
        return form_page("staff/onboarding/convert.html", **page,
                         values={"deployment_type": "shared"})
    vals = values("plan_id", "license_template_id", "deployment_type")
    errors = {}
    plan_id = require_int(vals, errors, "plan_id", "a plan")
    plan = next((p for p in plans if p.id == plan_id), None)
    if plan_id and plan is None:
        errors["plan_id"] = "Choose one of the plans on sale."
    # The license (and the tenant it runs) belongs to the hosted product: required for a
    # software plan, optional for an internet-only customer (W1 then skips both steps).
    template_id = None
    if vals["license_template_id"] or (plan is not None and plan.kind != "internet"):
        template_id = require_int(vals, errors, "license_template_id", "a license template")
        if template_id and not any(t.id == template_id for t in templates):
            errors["license_template_id"] = "Choose one of the templates."
    if vals["deployment_type"] not in ("shared", "dedicated"):
        errors["deployment_type"] = "Shared or dedicated."
    if not errors:
        try:
            run = start_run("lead_to_customer_onboarding", {
                "lead_id": lead.id, "plan_id": plan_id, "license_template_id": template_id,
                "deployment_type": vals["deployment_type"]}, started_by=current_user,
                started_from="staff", submission_token=submission_token())
            return go(url_for("staff.run_detail", run_id=run.id))
        except DomainError as error:
            errors = error_details(error)
    return form_page("staff/onboarding/convert.html", 422, **page, values=vals, errors=errors)


@bp.route("/outbox")
@staff_required("ops", "sales", "support")
def outbox():
    query = search(select(OutboundEmail).order_by(OutboundEmail.id.desc()),
                   OutboundEmail.to_address, OutboundEmail.template, OutboundEmail.subject)
    return render_list("staff/base.html", "Outbox", query,
                       [("Subject", "subject"), ("To", "to_address"), ("Template", "template"),
                        ("Created", "created_at"), ("Status", "status")],
                       row_link=lambda e: url_for("staff.outbox_message", email_id=e.id),
                       search_placeholder="Search by recipient, template or subject",
                       empty="No email has been sent yet.")


def masked(text):
    """Invitation links are credentials for their recipient only: staff see them masked."""
    return INVITATION.sub(r"\1••••••", text or "")


@bp.route("/outbox/<int:email_id>")
@staff_required("ops", "sales", "support")
def outbox_message(email_id):
    email = db.get_or_404(OutboundEmail, email_id)
    return render_template("staff/onboarding/message.html", email=email,
                           text=masked(email.text_body), html=masked(email.html_body))
