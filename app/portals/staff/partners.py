"""staff/partners pages (issue 6): a partner's settings (admin) and the commission ledger's
approval and payout (finance). The read-only partners list/detail live in staff/routes.py."""
from flask import Response, abort, current_app, flash, redirect, render_template, request, \
    url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.errors import ValidationError
from app.extensions import db
from app.models import AuditEvent, CommissionEntry, LicenseTemplate, Partner, Plan, utcnow
from app.models.partners import COMMISSION_MODELS, COMMISSION_STATUSES, PARTNER_STATUSES
from app.portals.access import staff_required
from app.portals.staff import bp
from app.services.partner import PartnerService
from app.services.partner_settings import EDITABLE, PartnerSettings, format_tiers


# --- partner settings (admin) --------------------------------------------------------------

@bp.route("/partners/<int:partner_id>/settings", methods=["GET", "POST"])
@staff_required("admin")
def partner_settings(partner_id):
    partner = db.session.get(Partner, partner_id) or abort(404)
    if request.method == "GET":
        return _settings_form(partner, _current_values(partner), {})
    values = {field: request.form.get(field, "").strip() for field in EDITABLE}
    try:
        changes = PartnerSettings(db.session).update(
            partner.id, values, by=current_user, ip_address=request.remote_addr)
    except ValidationError as error:
        db.session.rollback()
        return _settings_form(partner, values, error.details, status=422)
    flash(f"Saved: {', '.join(changes) or 'nothing changed'}.", "success")
    target = url_for("staff.partner_settings", partner_id=partner.id)
    if request.headers.get("HX-Request"):
        return Response(status=204, headers={"HX-Redirect": target})
    return redirect(target)


def _current_values(partner):
    values = {field: getattr(partner, field) for field in EDITABLE}
    values["commission_tiers"] = format_tiers(partner.commission_tiers)
    values["commission_rate"] = f"{partner.commission_rate.normalize():f}" \
        if partner.commission_rate is not None else "0"
    return {k: "" if v is None else str(v) for k, v in values.items()}


def _settings_form(partner, values, errors, status=200):
    template = "staff/partners/_settings_form.html" if request.headers.get("HX-Request") \
        else "staff/partners/settings.html"
    plans = db.session.execute(select(Plan).where(Plan.kind == "software")
                               .order_by(Plan.name)).scalars().all()
    templates = db.session.execute(select(LicenseTemplate)
                                   .order_by(LicenseTemplate.name)).scalars().all()
    audit = db.session.execute(
        select(AuditEvent).where(AuditEvent.object_type == "partner",
                                 AuditEvent.object_id == str(partner.id))
        .order_by(AuditEvent.id.desc()).limit(20)).scalars().all()
    return render_template(template, partner=partner, values=values,
                           errors=errors, plans=plans, templates=templates, audit=audit,
                           statuses=PARTNER_STATUSES, models=COMMISSION_MODELS), status


# --- commissions (finance) -----------------------------------------------------------------

@bp.route("/commissions")
@staff_required("finance")
def commissions():
    return _commissions_page(request.args)


def _commissions_page(args, errors=None, http_status=200):
    status = args.get("status", "pending")
    status = status if status in COMMISSION_STATUSES or status == "all" else "pending"
    partner_id = args.get("partner_id", "")
    query = select(CommissionEntry).options(selectinload(CommissionEntry.partner),
                                            selectinload(CommissionEntry.customer))
    if status != "all":
        query = query.where(CommissionEntry.status == status)
    partner = db.session.get(Partner, int(partner_id)) \
        if partner_id.isdigit() and len(partner_id) < 10 else None
    if partner is not None:
        query = query.where(CommissionEntry.partner_id == partner.id)
    page = args.get("page", "1")
    entries = db.paginate(query.order_by(CommissionEntry.id.desc()),
                          page=min(max(int(page), 1), 100_000)
                          if page.isdigit() and len(page) < 10 else 1,
                          per_page=current_app.config["PAGE_SIZE"], error_out=False)
    partners = db.session.execute(select(Partner.id, Partner.company)
                                  .order_by(Partner.company)).all()
    return render_template("staff/partners/commissions.html",
                           entries=entries, status=status, partner=partner,
                           partners=partners, statuses=COMMISSION_STATUSES,
                           errors=errors or {},
                           balances=PartnerService().commission_balances(
                               partner.id if partner else None)), http_status


@bp.route("/commissions/approve", methods=["POST"])
@staff_required("finance")
def commissions_approve():
    ids = _selected_ids()
    if not ids:
        return _commissions_page(_return_args(), {"entry_id": "Select at least one entry."},
                                 422)
    changed = PartnerService().approve_commissions(ids)
    _audit("commissions.approved", ids, {"approved": changed})
    flash(f"{changed} commission entr{'y' if changed == 1 else 'ies'} approved.", "success")
    return _back_to_commissions()


@bp.route("/commissions/payout", methods=["POST"])
@staff_required("finance")
def commissions_payout():
    ids = _selected_ids()
    if not ids:
        return _commissions_page(_return_args(), {"entry_id": "Select at least one entry."},
                                 422)
    reference = request.form.get("payout_reference", "")
    try:
        changed = PartnerService().record_payout(ids, reference)
    except ValidationError as error:
        return _commissions_page(_return_args(), error.details, 422)
    _audit("commissions.paid", ids, {"paid": changed, "payout_reference": reference.strip()})
    flash(f"{changed} commission entr{'y' if changed == 1 else 'ies'} marked paid.", "success")
    return _back_to_commissions()


def _selected_ids():
    values = request.form.getlist("entry_id")
    return [int(v) for v in values if v.isdigit() and len(v) < 10][:1000]


def _return_args():
    return {"status": request.form.get("return_status", "pending"),
            "partner_id": request.form.get("return_partner_id", "")}


def _audit(action, ids, details):
    if not ids:
        return
    db.session.add(AuditEvent(user_id=current_user.id, portal="staff", action=action,
                              object_type="commission_entry",
                              object_id=",".join(map(str, ids))[:50],
                              details={"entry_ids": ids, **details},
                              ip_address=request.remote_addr, created_at=utcnow()))
    db.session.commit()


def _back_to_commissions():
    return redirect(url_for("staff.commissions", **_return_args()), code=303)
