"""Staff: the audit log (admin), resending a portal invitation, and revealing a subscriber's
RADIUS password to ops (an audited action, shown once on request)."""
from datetime import date, datetime, timedelta

from flask import flash, make_response, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.errors import DomainError
from app.extensions import db
from app.models import AuditEvent, ServiceInstance, User
from app.portals import audit
from app.portals.access import staff_required
from app.portals.auth.invitations import send_invitation
from app.portals.pagination import paginate
from app.portals.staff import bp
from app.workflows.registry import get_service


def _day(name):
    try:
        return date.fromisoformat((request.args.get(name) or "")[:10])
    except ValueError:
        return None


@bp.route("/audit")
@staff_required("admin")
def audit_log():
    query = select(AuditEvent).options(selectinload(AuditEvent.user)).order_by(
        AuditEvent.id.desc())
    actions = db.session.execute(select(AuditEvent.action).distinct().order_by(
        AuditEvent.action)).scalars().all()
    object_types = [t for t in db.session.execute(select(AuditEvent.object_type).distinct()
                                                  .order_by(AuditEvent.object_type)).scalars()
                    if t]
    people = db.session.execute(select(User).where(User.id.in_(
        select(AuditEvent.user_id).distinct())).order_by(User.email)).scalars().all()
    chosen = {name: (request.args.get(name) or "")[:100]
              for name in ("action", "object_type", "object_id", "user")}
    if chosen["action"] in actions:
        query = query.where(AuditEvent.action == chosen["action"])
    if chosen["object_type"] in object_types:
        query = query.where(AuditEvent.object_type == chosen["object_type"])
    if chosen["object_id"]:
        query = query.where(AuditEvent.object_id == chosen["object_id"][:50])
    if chosen["user"].isdigit() and len(chosen["user"]) < 10:
        query = query.where(AuditEvent.user_id == int(chosen["user"]))
    since, until = _day("from"), _day("to")
    if since:
        query = query.where(AuditEvent.created_at >= datetime.combine(since, datetime.min.time()))
    if until:
        query = query.where(AuditEvent.created_at < datetime.combine(
            until + timedelta(days=1), datetime.min.time()))
    return render_template("staff/audit.html", page=paginate(query), actions=actions,
                           object_types=object_types, people=people, chosen=chosen,
                           since=since, until=until)


@bp.route("/users/<int:user_id>/resend-invitation", methods=["POST"])
@staff_required("sales", "support", "ops")
def resend_invitation(user_id):
    user = db.get_or_404(User, user_id)
    back = url_for("staff.customer_detail", customer_id=user.customer_id) \
        if user.customer_id else url_for("staff.dashboard")
    if user.portal == "staff" or user.password_hash or not user.is_active:
        flash("Only a portal user who has not chosen a password yet can be invited again.",
              "error")
        return redirect(back, 303)
    try:
        result = send_invitation(user)
    except DomainError as error:
        flash(error.message, "error")
        return redirect(back, 303)
    audit.record("user.invitation_resent", "user", user.id, email=user.email,
                 email_id=result.get("email_id"))
    db.session.commit()
    flash(f"A new invitation is on its way to {user.email}; earlier links no longer work.")
    return redirect(back, 303)


@bp.route("/services/<int:service_id>/radius-password", methods=["POST"])
@staff_required("ops")
def reveal_radius_password(service_id):
    """For configuring a CPE by hand: the subscriber's password, on request, recorded in the
    audit log, and sent with no-store so no cache or back button keeps it."""
    service = db.get_or_404(ServiceInstance, service_id)
    rows = get_service("radius").rows(service.pppoe_username).get("radcheck", [])
    password = next((row.value for row in rows if row.attribute == "Cleartext-Password"), None)
    audit.record("radius.password_revealed", "service", service.id,
                 username=service.pppoe_username, found=password is not None)
    db.session.commit()
    response = make_response(render_template("staff/field/radius_password.html",
                                             service=service, password=password))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_template_global()
def portal_users(customer_id):
    """A customer's portal logins, for the staff customer page (with "Resend invitation")."""
    return db.session.execute(select(User).where(
        User.customer_id == customer_id, User.portal == "customer").order_by(User.id)
    ).scalars().all()
