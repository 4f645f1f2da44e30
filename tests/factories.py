"""Small builders for test data. Each returns a committed object; pass fields to override.
Add a builder here (not in a test module) when a second area needs it."""
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import count

from app.extensions import db
from app.models import (BandwidthProfile, Customer, Lead, LicenseTemplate, Partner, Plan,
                        Quote, QuoteLine, SiteSurvey, Subscription, TechnicianProfile, User,
                        next_number)
from app.portals.passwords import hash_password

_seq = count(1)
PASSWORD = "correct horse battery"


def _save(obj):
    db.session.add(obj)
    db.session.commit()
    return obj


def make_user(portal="staff", role="admin", password=PASSWORD, **fields):
    n = next(_seq)
    fields.setdefault("email", f"user{n}@example.test")
    fields.setdefault("name", f"User {n}")
    return _save(User(portal=portal, role=role if portal == "staff" else None,
                      password_hash=hash_password(password), **fields))


def make_technician(areas=("north",), **fields):
    user = make_user(role="technician", **fields)
    _save(TechnicianProfile(user_id=user.id, skills=["fibre"], service_areas=list(areas),
                            work_start=time(8), work_end=time(17),
                            work_days=[0, 1, 2, 3, 4, 5, 6]))
    return user


def make_partner(**fields):
    n = next(_seq)
    fields.setdefault("company", f"Partner {n} Ltd")
    fields.setdefault("contact_email", f"partner{n}@example.test")
    fields.setdefault("status", "active")
    fields.setdefault("commission_model", "percent")
    fields.setdefault("commission_rate", Decimal("10"))
    fields.setdefault("license_quota", 10)
    fields.setdefault("brand_name", f"Brand {n}")
    fields.setdefault("primary_color", "#123456")
    fields.setdefault("support_email", f"support{n}@brand.example")
    fields.setdefault("subdomain", f"brand{n}")
    return _save(Partner(number=next_number("P"), **fields))


def make_customer(**fields):
    n = next(_seq)
    fields.setdefault("name", f"Customer {n}")
    fields.setdefault("email", f"customer{n}@example.test")
    fields.setdefault("status", "active")
    fields.setdefault("service_address", f"{n} Main Street, Northville")
    fields.setdefault("service_area", "north")
    return _save(Customer(number=next_number("C"), **fields))


def make_bandwidth_profile(**fields):
    n = next(_seq)
    fields.setdefault("code", f"bw{n}")
    fields.setdefault("name", f"Profile {n}")
    fields.setdefault("download_kbps", 100_000)
    fields.setdefault("upload_kbps", 20_000)
    fields.setdefault("radius_group", f"plan-bw{n}")
    return _save(BandwidthProfile(**fields))


def make_plan(kind="software", **fields):
    n = next(_seq)
    fields.setdefault("code", f"plan{n}")
    fields.setdefault("name", f"Plan {n}")
    fields.setdefault("price", Decimal("50.00"))
    fields.setdefault("billing_cycle", "monthly")
    if kind == "internet" and "bandwidth_profile_id" not in fields:
        fields["bandwidth_profile_id"] = make_bandwidth_profile().id
        fields.setdefault("download_mbps", 100)
        fields.setdefault("upload_mbps", 20)
    return _save(Plan(kind=kind, **fields))


def make_license_template(**fields):
    n = next(_seq)
    fields.setdefault("code", f"tpl{n}")
    fields.setdefault("name", f"Template {n}")
    fields.setdefault("product", "Lastmile Manager")
    fields.setdefault("duration_days", 365)
    fields.setdefault("features", ["billing", "crm"])
    return _save(LicenseTemplate(**fields))


def make_subscription(customer=None, plan=None, period_end=None, **fields):
    customer = customer or make_customer()
    plan = plan or make_plan()
    period_end = period_end or date.today() + timedelta(days=20)
    fields.setdefault("current_period_start", period_end - timedelta(days=365))
    fields.setdefault("status", "active")
    # Off unless a test says so: the workers' daily renewal sweep runs as soon as they start
    # (and after a FLUSHALL) and would start a renewal of its own beside the test's.
    fields.setdefault("auto_renew", False)
    return _save(Subscription(customer_id=customer.id, plan_id=plan.id,
                              current_period_end=period_end, **fields))


def make_lead(**fields):
    n = next(_seq)
    fields.setdefault("name", f"Lead {n}")
    fields.setdefault("email", f"lead{n}@example.test")
    fields.setdefault("status", "qualified")
    fields.setdefault("service_address", f"{n} Fibre Road, Northville")
    fields.setdefault("service_area", "north")
    return _save(Lead(number=next_number("L"), **fields))


def make_quote(customer=None, lead=None, plan=None, status="sent", **fields):
    plan = plan or make_plan()
    if customer is None and lead is None:
        customer = make_customer()
    fields.setdefault("valid_until", datetime.utcnow() + timedelta(days=14))
    fields.setdefault("term_months", 12)
    quote = Quote(number=next_number("Q"), status=status, plan_id=plan.id,
                  customer_id=customer.id if customer else None,
                  lead_id=lead.id if lead else None, **fields)
    monthly = Decimal(plan.price)
    quote.lines = [
        QuoteLine(kind="plan", description=plan.name, plan_id=plan.id, unit_price=monthly,
                  recurring=True, amount=monthly),
        QuoteLine(kind="installation", description="Installation", unit_price=Decimal("99"),
                  amount=Decimal("99")),
    ]
    quote.monthly_recurring = monthly
    quote.one_time_total = Decimal("99")
    quote.total = monthly + Decimal("99")
    return _save(quote)


def make_site_survey(customer, serviceability="serviceable", status="completed", **fields):
    return _save(SiteSurvey(customer_id=customer.id, status=status,
                            serviceability=serviceability, completed_at=datetime.utcnow(),
                            **fields))


def make_internet_service(customer=None, plan=None, ip_address="100.64.90.2", **fields):
    """An active internet service with its RADIUS subscriber (radcheck, radreply, the plan's
    group), as W5 leaves it."""
    from app.models import ServiceInstance
    from app.workflows.registry import get_service
    customer = customer or make_customer()
    plan = plan or make_plan(kind="internet")
    n = next(_seq)
    fields.setdefault("pppoe_username", f"sub{n}")
    service = _save(ServiceInstance(customer_id=customer.id, plan_id=plan.id,
                                    ip_address=ip_address, status="active",
                                    service_location=customer.service_address, **fields))
    get_service("radius").create_subscriber(customer.id, service.id, service.pppoe_username,
                                            plan.code)
    return service


def make_invoice(customer=None, total="59.00", due_days_ago=10, status="open", **fields):
    """An invoice with one line, issued 14 days before its due date."""
    from app.models import Invoice, InvoiceLine
    customer = customer or make_customer()
    due = datetime.utcnow() - timedelta(days=due_days_ago)
    invoice = Invoice(number=next_number("INV"), customer_id=customer.id, status=status,
                      subtotal=Decimal(total), total=Decimal(total), currency="USD",
                      issued_at=due - timedelta(days=14), due_at=due, **fields)
    invoice.lines.append(InvoiceLine(description="Fibre 100 (monthly)", quantity=1,
                                     unit_price=Decimal(total), amount=Decimal(total)))
    return _save(invoice)
