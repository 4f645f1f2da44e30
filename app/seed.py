"""Demo data that tells a story: an ISP in three areas (north, south, east) selling fibre and
the hosted Lastmile Manager, two resellers, a field team, leads in the pipeline, quotes out,
and customers whose subscriptions come up for renewal this month.

Idempotent: every record is found by a natural key (code, email, number, prefix) before it is
created, so running it twice changes nothing."""
import ipaddress
from datetime import date, time, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from sqlalchemy import insert, select

from app.extensions import db
from app.models import (BandwidthProfile, Customer, IpAddress, IpPool, Lead, LicenseTemplate,
                        Nas, Partner, Plan, Quote, QuoteLine, RadGroupReply, SiteSurvey,
                        Subscription, TechnicianProfile, Team, User, next_number, utcnow)
from app.portals.passwords import hash_password

# (portal, email, password, what this login shows), printed by `make run`, listed in README.
DEMO_LOGINS = [
    ("staff", "admin@lastmile.example", "admin-demo-pass", "admin: everything"),
    ("staff", "sales@lastmile.example", "sales-demo-pass", "sales: leads, quotes, W1 convert lead, W2 record acceptance"),
    ("staff", "ops@lastmile.example", "ops-demo-pass", "ops: W5 deploy service, services, RADIUS, runs"),
    ("staff", "dispatch@lastmile.example", "dispatch-demo-pass", "dispatcher: technician calendar"),
    ("staff", "tech.north@lastmile.example", "tech-demo-pass", "technician: own jobs"),
    ("staff", "finance@lastmile.example", "finance-demo-pass", "finance: invoices, commissions"),
    ("staff", "support@lastmile.example", "support-demo-pass", "support: tickets"),
    ("customer", "ana@harbourcafe.example", "customer-demo-pass", "customer: W4 renew, W2 accept a quote"),
    ("partner", "owner@northwind-it.example", "partner-demo-pass", "partner Northwind IT: W3 new customer"),
    ("partner", "owner@bluepeak.example", "partner-demo-pass", "partner Blue Peak Networks"),
]

STAFF = [  # email, name, role
    ("admin@lastmile.example", "Alex Admin", "admin"),
    ("sales@lastmile.example", "Sam Sales", "sales"),
    ("ops@lastmile.example", "Olivia Ops", "ops"),
    ("dispatch@lastmile.example", "Dana Dispatch", "dispatcher"),
    ("tech.north@lastmile.example", "Noah North", "technician"),
    ("tech.south@lastmile.example", "Sofia South", "technician"),
    ("tech.east@lastmile.example", "Ethan East", "technician"),
    ("finance@lastmile.example", "Fiona Finance", "finance"),
    ("support@lastmile.example", "Stella Support", "support"),
]


PASSWORDS = {email: password for _, email, password, _ in DEMO_LOGINS}


def _password(email):
    return PASSWORDS.get(email, "tech-demo-pass")  # the other technicians


def _logo(initials, colour):
    """A small SVG logo as a data: URL (partners' white-label defaults)."""
    import base64
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40">'
           f'<rect width="120" height="40" rx="8" fill="{colour}"/>'
           f'<text x="60" y="27" font-family="sans-serif" font-size="20" fill="#fff" '
           f'text-anchor="middle">{initials}</text></svg>')
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _get_or_create(model, lookup, **fields):
    found = db.session.execute(select(model).filter_by(**lookup)).scalar_one_or_none()
    if found is None:
        found = model(**lookup, **fields)
        db.session.add(found)
        db.session.flush()
    return found


def seed_demo_data():
    plans = _catalog()
    _teams()
    staff = {email: _user("staff", email, name, role=role) for email, name, role in STAFF}
    for email, area in (("tech.north@lastmile.example", "north"),
                        ("tech.south@lastmile.example", "south"),
                        ("tech.east@lastmile.example", "east")):
        _get_or_create(TechnicianProfile, {"user_id": staff[email].id},
                       skills=["fibre", "wireless"], service_areas=[area],
                       work_start=time(8), work_end=time(17), work_days=[0, 1, 2, 3, 4])
    templates = _license_templates()
    partners = _partners(templates, plans)
    customers = _customers(plans, partners)
    _leads_and_quotes(plans, customers)
    _ip_pools()
    _get_or_create(Nas, {"nasname": "127.0.0.1"}, shortname="lab-bng", type="other",
                   secret="demo-radius-secret", description="Lab BNG for the demo")
    db.session.commit()


def _user(portal, email, name, **fields):
    user = db.session.execute(select(User).filter_by(email=email)).scalar_one_or_none()
    if user is None:
        user = User(portal=portal, email=email, name=name,
                    password_hash=hash_password(_password(email)), **fields)
        db.session.add(user)
        db.session.flush()
    return user


def _catalog():
    plans = {}
    for code, name, down, up, price in (("fibre-100", "Fibre 100", 100, 20, "39.00"),
                                        ("fibre-300", "Fibre 300", 300, 50, "59.00"),
                                        ("fibre-1000", "Fibre 1000", 1000, 200, "89.00")):
        group = f"plan-{code}"
        profile = _get_or_create(BandwidthProfile, {"code": code}, name=name,
                                 download_kbps=down * 1000, upload_kbps=up * 1000,
                                 radius_group=group)
        _get_or_create(RadGroupReply, {"groupname": group, "attribute": "Mikrotik-Rate-Limit"},
                       op=":=", value=f"{up}M/{down}M")
        plans[code] = _get_or_create(
            Plan, {"code": code}, name=name, kind="internet", download_mbps=down,
            upload_mbps=up, bandwidth_profile_id=profile.id, billing_cycle="monthly",
            price=Decimal(price), setup_fee=Decimal("49.00"),
            term_discounts={"12": 5, "24": 10})
    for code, name, cycle, price, trial in (
            ("manager-starter", "Lastmile Manager Starter", "monthly", "29.00", 14),
            ("manager-pro", "Lastmile Manager Pro", "monthly", "79.00", 14),
            ("manager-pro-annual", "Lastmile Manager Pro (annual)", "annual", "790.00", 0)):
        plans[code] = _get_or_create(Plan, {"code": code}, name=name, kind="software",
                                     billing_cycle=cycle, price=Decimal(price),
                                     trial_days=trial, term_discounts={"12": 10, "24": 15})
    return plans


def _teams():
    for name, roles in (("operations", ["ops", "admin"]),
                        ("customer_success", ["support", "sales"]),
                        ("finance", ["finance"]), ("dispatch", ["dispatcher"])):
        _get_or_create(Team, {"name": name}, roles=roles)


def _license_templates():
    return {code: _get_or_create(LicenseTemplate, {"code": code}, name=name,
                                 product="Lastmile Manager", license_type=kind, seats=seats,
                                 max_activations=seats, features=features,
                                 duration_days=days)
            for code, name, kind, seats, features, days in (
                ("manager-standard", "Manager Standard (1 year)", "subscription", 5,
                 ["crm", "billing"], 365),
                ("manager-enterprise", "Manager Enterprise (1 year)", "subscription", 50,
                 ["crm", "billing", "network", "api"], 365),
                ("manager-trial", "Manager Trial (30 days)", "trial", 2, ["crm"], 30))}


def _partners(templates, plans):
    partners = {}
    for number_key, company, email, quota, model, rate, tiers, brand, colour, sub in (
            ("northwind", "Northwind IT", "owner@northwind-it.example", 25, "percent",
             "10", [], "Northwind Cloud", "#0b7285", "northwind"),
            ("bluepeak", "Blue Peak Networks", "owner@bluepeak.example", 40, "tiered", "0",
             [{"min_customers": 0, "rate": 8}, {"min_customers": 5, "rate": 12}],
             "BluePeak Manager", "#5f3dc4", "bluepeak")):
        partner = db.session.execute(select(Partner).filter_by(contact_email=email)
                                     ).scalar_one_or_none()
        if partner is None:
            partner = Partner(number=next_number("P"), company=company, status="active",
                              tier="gold", commission_model=model,
                              commission_rate=Decimal(rate), commission_tiers=tiers,
                              contact_email=email, license_template_id=templates[
                                  "manager-standard"].id, license_quota=quota,
                              brand_name=brand, primary_color=colour,
                              secondary_color="#f8f9fa",
                              logo_url=_logo(brand[:2].upper(), colour),
                              support_email=f"help@{number_key}.example", subdomain=sub)
            if hasattr(Partner, "plan_id"):
                partner.plan_id = plans["manager-pro"].id
            db.session.add(partner)
            db.session.flush()
        _user("partner", email, f"{company} owner", partner_id=partner.id)
        partners[number_key] = partner
    return partners


CUSTOMERS = [  # name, email, area, plan, days until period end, partner
    ("Harbour Café", "ana@harbourcafe.example", "north", "manager-pro", 12, None),
    ("Mill Street Dental", "office@millstreetdental.example", "north", "fibre-300", 25, None),
    ("Ridge Farm Co-op", "info@ridgefarm.example", "south", "fibre-100", 8, None),
    ("Lakeside Library", "it@lakesidelibrary.example", "east", "manager-starter", 28, None),
    ("Orchard Bakery", "hello@orchardbakery.example", "south", "fibre-1000", 90, None),
    ("Pine Hill School", "admin@pinehill.example", "east", "fibre-300", 150, None),
    ("Copper Kettle Inn", "stay@copperkettle.example", "north", "manager-pro-annual", 20, None),
    ("Granite Law", "contact@granitelaw.example", "south", "manager-pro", 45, None),
    ("Northwind: Alder Clinic", "it@alderclinic.example", "north", "manager-pro", 60,
     "northwind"),
    ("Blue Peak: Summit Gym", "desk@summitgym.example", "east", "manager-pro", 75, "bluepeak"),
]

# Ana renews by hand, as the README's story goes; the workers' daily sweep starts the renewal
# of every other auto-renew subscription inside the renewal window as soon as they run.
RENEWS_BY_HAND = {"ana@harbourcafe.example"}


def _customers(plans, partners):
    today = date.today()
    customers = {}
    for name, email, area, plan_code, days, partner_key in CUSTOMERS:
        customer = db.session.execute(select(Customer).filter_by(email=email)
                                      ).scalar_one_or_none()
        if customer is None:
            customer = Customer(number=next_number("C"), name=name, email=email,
                                status="active", service_area=area,
                                service_address=f"{len(name)} {name.split()[0]} Road, {area.title()}ville",
                                billing_address=f"{len(name)} {name.split()[0]} Road",
                                partner_id=partners[partner_key].id if partner_key else None,
                                installation_status="completed"
                                if plans[plan_code].kind == "internet" else "none")
            db.session.add(customer)
            db.session.flush()
            plan = plans[plan_code]
            end = today + timedelta(days=days)
            months = 12 if plan.billing_cycle == "annual" else 1
            db.session.add(Subscription(customer_id=customer.id, plan_id=plan.id,
                                        status="active",
                                        auto_renew=email not in RENEWS_BY_HAND,
                                        current_period_start=end - relativedelta(months=months),
                                        current_period_end=end, billing_started_at=utcnow()))
        customers[email] = customer
    _user("customer", "ana@harbourcafe.example", "Ana Harbour",
          customer_id=customers["ana@harbourcafe.example"].id)
    # Customers waiting for an installation, with a completed serviceable survey (W5).
    for name, email, area in (("Willow Street Studio", "studio@willowstreet.example", "north"),
                              ("Foxglove Florist", "shop@foxglove.example", "south")):
        customer = db.session.execute(select(Customer).filter_by(email=email)
                                      ).scalar_one_or_none()
        if customer is None:
            customer = Customer(number=next_number("C"), name=name, email=email,
                                status="active", service_area=area, installation_status="survey",
                                service_address=f"7 {name.split()[0]} Lane, {area.title()}ville")
            db.session.add(customer)
            db.session.flush()
            db.session.add(SiteSurvey(customer_id=customer.id, status="completed",
                                      serviceability="serviceable", completed_at=utcnow(),
                                      distance_to_fibre_m=120, olt_port="OLT1/1/3",
                                      notes="Fibre at the kerb; wall entry on the east side."))
        customers[email] = customer
    return customers


def _leads_and_quotes(plans, customers):
    leads = [("Juniper Yoga", "hi@juniperyoga.example", "north", "qualified"),
             ("Riverbend Motors", "sales@riverbend.example", "south", "qualified"),
             ("Tall Oak Architects", "studio@talloak.example", "east", "qualified"),
             ("Saffron Kitchen", "eat@saffron.example", "north", "qualified"),
             ("Beacon Accounting", "team@beacon.example", "south", "qualified"),
             ("Cobalt Print", "print@cobalt.example", "east", "contacted"),
             ("Meadow Vets", "care@meadowvets.example", "north", "new")]
    for name, email, area, status in leads:
        lead = db.session.execute(select(Lead).filter_by(email=email)).scalar_one_or_none()
        if lead is None:
            lead = Lead(number=next_number("L"), name=name, email=email, status=status,
                        company=name, service_area=area, source="web",
                        service_address=f"12 {name.split()[0]} Avenue, {area.title()}ville")
            db.session.add(lead)
            db.session.flush()
        if email == "team@beacon.example":
            _quote(lead=lead, plan=plans["fibre-300"], key="demo-quote-beacon")
    _quote(customer=customers["ana@harbourcafe.example"], plan=plans["fibre-100"],
           key="demo-quote-harbour")
    _quote(customer=customers["contact@granitelaw.example"], plan=plans["manager-pro"],
           key="demo-quote-granite")


def _quote(plan, key, customer=None, lead=None):
    if db.session.execute(select(Quote).filter_by(created_by_key=key)).scalar_one_or_none():
        return
    monthly, setup = Decimal(plan.price), Decimal(plan.setup_fee)
    quote = Quote(number=next_number("Q"), customer_id=customer.id if customer else None,
                  lead_id=lead.id if lead else None, status="sent", plan_id=plan.id,
                  monthly_recurring=monthly, one_time_total=setup, total=monthly + setup,
                  term_months=12, valid_until=utcnow() + timedelta(days=21), sent_at=utcnow(),
                  created_by_key=key)
    quote.lines = [QuoteLine(kind="plan", description=f"{plan.name}, first month",
                             plan_id=plan.id, unit_price=monthly, recurring=True,
                             amount=monthly)]
    if setup:
        quote.lines.append(QuoteLine(kind="installation", description="Installation",
                                     unit_price=setup, amount=setup))
    db.session.add(quote)


def _ip_pools():
    for name, prefix, vlan, area in (("north-residential", "100.64.10.0/24", 110, "north"),
                                     ("south-residential", "100.64.20.0/24", 120, "south"),
                                     ("east-residential", "100.64.30.0/24", 130, "east")):
        network = ipaddress.ip_network(prefix)
        gateway = str(next(network.hosts()))
        pool = _get_or_create(IpPool, {"name": name}, prefix=prefix, gateway=gateway,
                              vlan_id=vlan, service_area=area)
        if db.session.execute(select(IpAddress.id).filter_by(pool_id=pool.id).limit(1)).first():
            continue
        addresses = [{"pool_id": pool.id, "address": str(host)}
                     for host in network.hosts() if str(host) != gateway]
        db.session.execute(insert(IpAddress), addresses)


def seed_bulk_customers(count):
    """`flask seed bulk`: many customers at once, for the speed benchmarks."""
    start = db.session.execute(select(db.func.count(Customer.id))).scalar()
    now = utcnow()
    batch = []
    for n in range(start, start + count):
        batch.append({"number": f"B-{n:07d}", "name": f"Bulk Customer {n}",
                      "email": f"bulk{n}@example.test", "status": "active",
                      "service_area": ("north", "south", "east")[n % 3],
                      "installation_status": "none", "created_at": now, "updated_at": now})
        if len(batch) == 5000:
            db.session.execute(insert(Customer), batch)
            batch = []
    if batch:
        db.session.execute(insert(Customer), batch)
    db.session.commit()
