"""Partner portal: a reseller's own pool, sub-customers and licenses. Every query is filtered
by the signed-in user's partner."""
from flask import render_template, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import Customer, License, Partner, Tenant
from app.portals.access import get_own_or_404, partner_required
from app.portals.pagination import render_list, search
from app.portals.partner import bp
from app.services.partner import PartnerService

LAYOUT = "partner/base.html"


def own_customers():
    return select(Customer).where(Customer.partner_id == current_user.partner_id,
                                  Customer.archived_at.is_(None))


@bp.route("/")
@partner_required
def dashboard():
    partner = db.session.get(Partner, current_user.partner_id)
    customers = db.session.execute(select(func.count()).select_from(
        own_customers().subquery())).scalar()
    return render_template("partner/dashboard.html", partner=partner, customers=customers,
                           commissions=PartnerService().commission_balances(partner.id))


@bp.route("/customers")
@partner_required
def customers():
    query = search(own_customers().order_by(Customer.id.desc()), Customer.name,
                   Customer.email, Customer.number)
    return render_list(LAYOUT, "Your customers", query,
                       [("Number", "number"), ("Name", "name"), ("Email", "email"),
                        ("Status", "status")],
                       row_link=lambda c: url_for("partner.customer_detail", customer_id=c.id),
                       search_placeholder="Search your customers",
                       empty="No customers yet. Provision your first one.")


@bp.route("/customers/<int:customer_id>")
@partner_required
def customer_detail(customer_id):
    customer = get_own_or_404(Customer, customer_id, partner_id=current_user.partner_id)
    licenses = db.session.execute(select(License).where(License.customer_id == customer.id)
                                  .options(selectinload(License.template))).scalars().all()
    tenants = db.session.execute(select(Tenant).where(Tenant.customer_id == customer.id)
                                 ).scalars().all()
    return render_template("partner/customer_detail.html", customer=customer,
                           licenses=licenses, tenants=tenants)


@bp.route("/licenses")
@partner_required
def licenses():
    query = select(License).where(License.partner_id == current_user.partner_id).options(
        selectinload(License.customer)).order_by(License.id.desc())
    return render_list(LAYOUT, "Licenses", query,
                       [("Key", "license_key"), ("Customer", "customer.name"),
                        ("Expires", "expires_at"), ("Status", "status")],
                       empty="No licenses issued from your pool yet.")
