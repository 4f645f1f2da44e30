"""Staff: dashboard and the list/detail pages of the main entities, each the same shape."""
from flask import render_template, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import (Customer, Invoice, Lead, License, Partner, Plan, Quote,
                        ServiceInstance, SiteSurvey, Subscription, Tenant, Ticket)
from app.models.crm import LEAD_STATUSES, QUOTE_STATUSES
from app.models.customers import CUSTOMER_STATUSES
from app.models.ticketing import TICKET_STATUSES
from app.portals.access import staff_required
from app.portals.pagination import filter_by_arg, render_list, search
from app.portals.run_results import runs_of_customer
from app.portals.staff import bp

LAYOUT = "staff/base.html"


@bp.route("/")
@staff_required()
def dashboard():
    """What this person does today (app/portals/staff/dashboards.py), by role."""
    from flask_login import current_user
    from app.portals.staff.dashboards import dashboard_sections
    return render_template("staff/dashboard.html", sections=dashboard_sections(current_user))


@bp.route("/leads")
@staff_required("sales")
def leads():
    query = search(select(Lead).order_by(Lead.id.desc()), Lead.name, Lead.email, Lead.number,
                   Lead.company)
    query = filter_by_arg(query, Lead.status, "status", LEAD_STATUSES)
    return render_list(LAYOUT, "Leads", query,
                       [("Number", "number"), ("Name", "name"), ("Company", "company"),
                        ("Email", "email"), ("Source", "source"), ("Status", "status")],
                       row_link=lambda lead: url_for("staff.lead_detail", lead_id=lead.id),
                       search_placeholder="Search leads by name, email or number",
                       filters=[("status", "Status", LEAD_STATUSES, _arg("status"))],
                       empty="No leads match.", keyset=Lead.id)


@bp.route("/leads/<int:lead_id>")
@staff_required("sales")
def lead_detail(lead_id):
    lead = db.get_or_404(Lead, lead_id)
    quotes = db.session.execute(select(Quote).where(Quote.lead_id == lead.id)
                                .order_by(Quote.id.desc())).scalars().all()
    surveys = db.session.execute(select(SiteSurvey).where(SiteSurvey.lead_id == lead.id)
                                 ).scalars().all()
    return render_template("staff/lead_detail.html", lead=lead, quotes=quotes,
                           surveys=surveys)


@bp.route("/customers")
@staff_required("sales", "ops", "support", "finance", "dispatcher")
def customers():
    query = search(select(Customer).where(Customer.archived_at.is_(None))
                   .order_by(Customer.id.desc()),
                   Customer.name, Customer.email, Customer.number, Customer.company)
    query = filter_by_arg(query, Customer.status, "status", CUSTOMER_STATUSES)
    return render_list(LAYOUT, "Customers", query,
                       [("Number", "number"), ("Name", "name"), ("Email", "email"),
                        ("Area", "service_area"), ("Installation", "installation_status"),
                        ("Status", "status")],
                       row_link=lambda c: url_for("staff.customer_detail", customer_id=c.id),
                       search_placeholder="Search customers by name, email or number",
                       filters=[("status", "Status", CUSTOMER_STATUSES, _arg("status"))],
                       empty="No customers match.", keyset=Customer.id)


@bp.route("/customers/<int:customer_id>")
@staff_required("sales", "ops", "support", "finance", "dispatcher")
def customer_detail(customer_id):
    customer = db.get_or_404(Customer, customer_id)

    def rows(model, *options, order=None):
        query = select(model).where(model.customer_id == customer.id).options(*options)
        return db.session.execute(query.order_by(order or model.id.desc()).limit(50)
                                  ).scalars().all()
    return render_template(
        "staff/customer_detail.html", customer=customer,
        subscriptions=rows(Subscription, selectinload(Subscription.plan)),
        services=rows(ServiceInstance, selectinload(ServiceInstance.plan)),
        licenses=rows(License, selectinload(License.template)),
        tenants=rows(Tenant), invoices=rows(Invoice), tickets=rows(Ticket),
        quotes=rows(Quote), surveys=rows(SiteSurvey), runs=runs_of_customer(customer.id))


@bp.route("/quotes")
@staff_required("sales", "finance")
def quotes():
    query = search(select(Quote).options(selectinload(Quote.customer), selectinload(Quote.lead))
                   .order_by(Quote.id.desc()), Quote.number)
    query = filter_by_arg(query, Quote.status, "status", QUOTE_STATUSES)
    return render_list(LAYOUT, "Quotes", query,
                       [("Number", "number"), ("For", "recipient_name"), ("Kind", "kind"),
                        ("Total", "total"), ("Valid until", "valid_until"),
                        ("Status", "status")],
                       row_link=lambda q: url_for("staff.quote_detail", quote_id=q.id),
                       search_placeholder="Search quotes by number",
                       filters=[("status", "Status", QUOTE_STATUSES, _arg("status"))],
                       empty="No quotes match.")


@bp.route("/quotes/<int:quote_id>")
@staff_required("sales", "finance")
def quote_detail(quote_id):
    quote = db.get_or_404(Quote, quote_id)
    return render_template("staff/quote_detail.html", quote=quote)


@bp.route("/plans")
@staff_required()
def plans():
    query = search(select(Plan).order_by(Plan.kind, Plan.price), Plan.name, Plan.code)
    return render_list(LAYOUT, "Plans", query,
                       [("Code", "code"), ("Name", "name"), ("Kind", "kind"),
                        ("Billing", "billing_cycle"), ("Price", "price"),
                        ("Currency", "currency")],
                       row_link=lambda p: url_for("staff.plan_detail", plan_id=p.id),
                       search_placeholder="Search plans", empty="No plans yet.")


@bp.route("/plans/<int:plan_id>")
@staff_required()
def plan_detail(plan_id):
    plan = db.get_or_404(Plan, plan_id)
    subscribers = db.session.execute(select(func.count(Subscription.id)).where(
        Subscription.plan_id == plan.id, Subscription.status == "active")).scalar()
    return render_template("staff/plan_detail.html", plan=plan, subscribers=subscribers)


@bp.route("/partners")
@staff_required("finance", "sales")
def partners():
    query = search(select(Partner).order_by(Partner.company), Partner.company, Partner.number)
    return render_list(LAYOUT, "Partners", query,
                       [("Number", "number"), ("Company", "company"), ("Tier", "tier"),
                        ("Licenses used", "licenses_used"), ("Pool", "license_quota"),
                        ("Status", "status")],
                       row_link=lambda p: url_for("staff.partner_detail", partner_id=p.id),
                       search_placeholder="Search partners", empty="No partners yet.")


@bp.route("/partners/<int:partner_id>")
@staff_required("finance", "sales")
def partner_detail(partner_id):
    partner = db.get_or_404(Partner, partner_id)
    customers = db.session.execute(select(Customer).where(Customer.partner_id == partner.id)
                                   .order_by(Customer.id.desc()).limit(50)).scalars().all()
    return render_template("staff/partner_detail.html", partner=partner, customers=customers)


@bp.route("/tickets")
@staff_required("support", "ops", "sales")
def tickets():
    query = search(select(Ticket).options(selectinload(Ticket.customer))
                   .order_by(Ticket.id.desc()), Ticket.number, Ticket.title)
    query = filter_by_arg(query, Ticket.status, "status", TICKET_STATUSES)
    return render_list(LAYOUT, "Tickets", query,
                       [("Number", "number"), ("Title", "title"), ("Customer", "customer.name"),
                        ("Team", "team"), ("Priority", "priority"), ("Status", "status")],
                       row_link=lambda t: url_for("staff.ticket_detail", ticket_id=t.id),
                       search_placeholder="Search tickets by number or title",
                       filters=[("status", "Status", TICKET_STATUSES, _arg("status"))],
                       empty="No tickets match.")


@bp.route("/tickets/<int:ticket_id>")
@staff_required("support", "ops", "sales")
def ticket_detail(ticket_id):
    from app.portals.staff.support import render_ticket
    return render_ticket(db.get_or_404(Ticket, ticket_id))


@bp.route("/site-surveys")
@staff_required("sales", "ops", "dispatcher")
def site_surveys():
    query = select(SiteSurvey).options(selectinload(SiteSurvey.customer),
                                       selectinload(SiteSurvey.lead)).order_by(SiteSurvey.id.desc())
    return render_list(LAYOUT, "Site surveys", query,
                       [("Survey", "id"), ("Customer", "customer.name"), ("Lead", "lead.name"),
                        ("Serviceability", "serviceability"), ("Completed", "completed_at"),
                        ("Status", "status")], empty="No site surveys yet.")


def _arg(name):
    from flask import request
    return request.args.get(name)
