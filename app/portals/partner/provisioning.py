"""partner/provisioning pages (issue 6): the "New customer" wizard (workflow 3), the license
pool's history, and the commission statement (page and CSV).

Every query is scoped by current_user.partner_id: a partner user never sees another partner's
records, nor the ISP's own customers.
"""
import csv
import io

from flask import (Response, abort, current_app, redirect, render_template, request,
                   stream_with_context, url_for)
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.errors import DomainError, ValidationError
from app.extensions import db
from app.models import CommissionEntry, Customer, LicensePoolEvent, Partner, Tenant
from app.portals.access import partner_required
from app.portals.partner import bp
from app.services.customer.partner_customers import CUSTOMER_FIELDS, clean_customer_data
from app.services.deployment.partner_tenants import (BRANDING_FIELDS, clean_white_label,
                                                     partner_branding_defaults)
from app.portals.wizards import already_started, go, submission_token
from app.portals.wizards import values as wizard_values
from app.services.partner import PartnerService, pool_message, setup_problem

LICENSE_LIMIT = 1000


def _partner():
    partner = db.session.get(Partner, current_user.partner_id)
    if partner is None:
        abort(403)
    return partner


def _page():
    page = request.args.get("page", "1")
    return min(max(int(page), 1), 100_000) if page.isdigit() and len(page) < 10 else 1


def _paginate(query):
    return db.paginate(query, page=_page(), per_page=current_app.config["PAGE_SIZE"],
                       error_out=False)


# --- New customer wizard -------------------------------------------------------------------

@bp.route("/customers/new", methods=["GET", "POST"])
@partner_required
def new_customer():
    partner = _partner()
    problem = setup_problem(partner)
    if problem:
        return render_template("partner/provisioning/cannot_provision.html", partner=partner,
                               message=problem), 403 if partner.status != "active" else 409
    if request.method == "GET":
        values = {f: v or "" for f, v in partner_branding_defaults(partner).items()}
        values["custom_domain"] = ""  # a tenant's own domain; the partner's is its own site
        values["requested_licenses"] = "1"
        return _wizard(partner, values, {})
    started = already_started("partner_customer_provisioning")
    if started is not None and started.partner_id == partner.id:
        return go(url_for("partner.run_progress", run_id=started.id))
    values = wizard_values(*CUSTOMER_FIELDS, *BRANDING_FIELDS, "requested_licenses")
    inputs, errors = _wizard_inputs(partner, values)
    if errors:
        return _wizard(partner, values, errors, status=422)
    from app.workflows.engine import start_run
    try:
        run = start_run("partner_customer_provisioning", inputs, started_by=current_user,
                        started_from="partner", partner_id=partner.id,
                        submission_token=submission_token())
    except ValidationError as error:
        return _wizard(partner, values, error.details or {"name": error.message}, status=422)
    except DomainError as error:
        return _wizard(partner, values, {"form": error.message}, status=409)
    target = url_for("partner.run_progress", run_id=run.id)
    if request.headers.get("HX-Request"):
        return Response(status=204, headers={"HX-Redirect": target})
    return redirect(target)


def _wizard_inputs(partner, values):
    """The workflow's inputs from the form, or every field's error at once."""
    errors = {}
    customer_data = {field: values[field] for field in CUSTOMER_FIELDS}
    try:
        clean_customer_data(customer_data)
    except ValidationError as error:
        errors.update(error.details)
    count_text = values["requested_licenses"]
    count = int(count_text) if count_text.isdigit() else 0
    remaining = partner.license_quota - partner.licenses_used
    if not 1 <= count <= LICENSE_LIMIT:
        errors["requested_licenses"] = "Enter a whole number of licenses, at least 1."
    elif count > remaining:
        errors["requested_licenses"] = pool_message(count, remaining)
    white_label = {field: values[field] for field in BRANDING_FIELDS}
    try:
        white_label = clean_white_label(white_label)
    except ValidationError as error:
        errors.update(error.details)
    domain = white_label.get("custom_domain") if isinstance(white_label, dict) else None
    if domain and db.session.execute(
            select(Tenant.id).where(Tenant.custom_domain == domain)).first():
        errors["custom_domain"] = f"{domain} is already used by another tenant."
    inputs = {"partner_id": partner.id, "customer_data": customer_data,
              "requested_licenses": count, "white_label_config": white_label}
    return inputs, errors


def _wizard(partner, values, errors, status=200):
    template = "partner/provisioning/_wizard_form.html" if request.headers.get("HX-Request") \
        else "partner/provisioning/new_customer.html"
    return render_template(template, partner=partner, values=values,
                           errors=errors,
                           remaining=partner.license_quota - partner.licenses_used), status


# --- License pool --------------------------------------------------------------------------

@bp.route("/pool")
@partner_required
def license_pool():
    partner = _partner()
    events = _paginate(
        select(LicensePoolEvent).where(LicensePoolEvent.partner_id == partner.id)
        .order_by(LicensePoolEvent.id.desc()))
    names = _customer_names(partner.id, {e.customer_id for e in events.items})
    return render_template("partner/provisioning/pool.html",
                           partner=partner, events=events, names=names)


def _customer_names(partner_id, ids):
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(db.session.execute(select(Customer.id, Customer.name).where(
        Customer.id.in_(ids), Customer.partner_id == partner_id)).all())


# --- Commission statement ------------------------------------------------------------------

@bp.route("/commissions")
@partner_required
def commissions():
    partner = _partner()
    entries = _paginate(
        select(CommissionEntry).where(CommissionEntry.partner_id == partner.id)
        .options(selectinload(CommissionEntry.customer))
        .order_by(CommissionEntry.id.desc()))
    return render_template("partner/provisioning/commissions.html",
                           partner=partner, entries=entries,
                           balances=PartnerService().commission_balances(partner.id))


@bp.route("/commissions.csv")
@partner_required
def commissions_csv():
    partner = _partner()
    query = (select(CommissionEntry.id, CommissionEntry.created_at, Customer.number,
                    Customer.name, CommissionEntry.type, CommissionEntry.base_amount,
                    CommissionEntry.rate, CommissionEntry.amount, CommissionEntry.currency,
                    CommissionEntry.status, CommissionEntry.approved_at,
                    CommissionEntry.paid_at, CommissionEntry.payout_reference)
             .outerjoin(Customer, Customer.id == CommissionEntry.customer_id)
             .where(CommissionEntry.partner_id == partner.id)
             .order_by(CommissionEntry.id))

    def rows():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["entry", "date", "customer_number", "customer", "type",
                         "base_amount", "rate", "amount", "currency", "status", "approved_at",
                         "paid_at", "payout_reference"])
        for row in db.session.execute(query.execution_options(yield_per=500)):
            writer.writerow([_csv_safe(v) for v in row])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    filename = f"commissions-{partner.number}.csv"
    # The body is streamed after the view returned: it needs the request's app context still.
    return Response(stream_with_context(rows()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _csv_safe(value):
    """Dates as ISO, and no cell that a spreadsheet would run as a formula."""
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ", timespec="seconds")
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _is_number(text) else text


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False
