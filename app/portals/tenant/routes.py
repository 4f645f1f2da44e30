"""Tenant landing pages (the `local` provisioning backend), and the public license check."""
from flask import abort, render_template, request
from sqlalchemy import select

from app.extensions import csrf, db
from app.models import Tenant
from app.portals.tenant import bp
from app.services.fields import is_platform_host
from app.workflows.registry import get_service


def _show(tenant):
    if tenant is None or tenant.status == "deprovisioned":
        abort(404)
    return render_template("tenant/landing.html", tenant=tenant,
                           brand=tenant.branding or {})


@bp.route("/t/<slug>")
def landing(slug):
    return _show(db.session.execute(select(Tenant).filter_by(slug=slug)).scalar_one_or_none())


@bp.before_app_request
def custom_domain():
    """A request whose Host is a tenant's custom domain shows that tenant at /."""
    if request.path != "/":
        return None
    host = (request.host or "").split(":")[0].lower()
    if is_platform_host(host):  # the portal's own root page is never a tenant's
        return None
    tenant = db.session.execute(select(Tenant).filter_by(custom_domain=host)
                                ).scalar_one_or_none() if host else None
    return _show(tenant) if tenant else None


@bp.route("/licenses/verify", methods=["GET", "POST"])
@csrf.exempt  # a public, read-only check: it changes nothing
def verify_license():
    payload = problem = None
    token = (request.form.get("token") or "").strip()[:4000]
    if request.method == "POST":
        payload, problem = get_service("license").verify_token(token)
    return render_template("tenant/verify.html", token=token, payload=payload,
                           problem=problem, checked=request.method == "POST"), \
        (422 if request.method == "POST" and problem and payload is None else 200)
