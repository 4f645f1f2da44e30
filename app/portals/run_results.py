"""What a run produced, for the top of the staff run page: the customer, order, ticket,
service, tenant, subscription… its steps made, each linked to its page when the reader may
open it. Read from the steps' results (the keys the definitions declare), so a new workflow
that returns `customer_id` or `ticket_id` gets its links with no change here."""
from flask import url_for
from sqlalchemy import select

from app.extensions import db
from app.models import (Customer, Invoice, License, Order, Quote, ServiceInstance, Subscription,
                        Tenant, Ticket)
from app.portals.access import has_role

# result key -> (label, model, text of the record, staff endpoint + its id argument, roles
# that may open that page; None: no page of its own)
KINDS = {
    "customer_id": ("Customer", Customer, lambda c: f"{c.name} ({c.number})",
                    ("staff.customer_detail", "customer_id"),
                    ("sales", "ops", "support", "finance", "dispatcher")),
    "order_id": ("Order", Order, lambda o: f"{o.number} · {o.status.replace('_', ' ')}", None, ()),
    "quote_id": ("Quote", Quote, lambda q: q.number, ("staff.quote_detail", "quote_id"),
                 ("sales", "finance")),
    "invoice_id": ("Invoice", Invoice, lambda i: i.number,
                   ("staff.invoice_detail", "invoice_id"), ("finance",)),
    "ticket_id": ("Ticket", Ticket, lambda t: f"{t.number} · {t.title}",
                  ("staff.ticket_detail", "ticket_id"), ("support", "ops", "sales")),
    "service_id": ("Internet service", ServiceInstance,
                   lambda s: f"{s.pppoe_username} · {s.ip_address or 'no address'}",
                   ("staff.service_detail", "service_id"), ("ops",)),
    "subscription_id": ("Subscription", Subscription,
                        lambda s: f"{s.plan.name} · until {s.current_period_end:%d %b %Y}",
                        None, ()),
    "license_id": ("License", License, lambda lic: lic.license_key, None, ()),
    "tenant_id": ("Tenant", Tenant, lambda t: t.url or t.slug, None, ()),
}
# Records shown on the customer's page: link there instead.
ON_CUSTOMER_PAGE = ("subscription_id", "license_id", "order_id", "tenant_id")


def run_results(run, steps):
    """[{label, text, href, note}] in step order, each record once."""
    found, seen = [], set()
    customer_id = run.customer_id
    # Every run about a customer leads with that customer, even when no step returned it.
    steps = list(steps)
    if customer_id:
        steps.insert(0, type("RunCustomer", (), {"result": {"customer_id": customer_id},
                                                  "status": "succeeded", "kind": "action"}))
    for step in steps:
        result = step.result or {}
        if step.status != "succeeded" or step.kind == "compensation":
            continue
        customer_id = result.get("customer_id") or customer_id
        for key, value in result.items():
            if key not in KINDS or not isinstance(value, int) or (key, value) in seen:
                continue
            seen.add((key, value))
            label, model, text, page, roles = KINDS[key]
            record = db.session.get(model, value)
            if record is None:
                continue
            href = None
            if page and has_role(*roles):
                href = url_for(page[0], **{page[1]: value})
            elif key in ON_CUSTOMER_PAGE and customer_id and has_role(*KINDS["customer_id"][4]):
                href = url_for("staff.customer_detail", customer_id=customer_id)
            if key == "tenant_id" and record.url:
                href = record.url
            found.append({"label": label, "text": text(record), "href": href})
        if "appointment_id" in result and result.get("starts_at"):
            found.append({"label": "Installation booked",
                          "text": f"{result.get('technician', '')}", "when": result["starts_at"],
                          "href": url_for("staff.dispatch", week=result["starts_at"][:10])
                          if has_role("dispatcher", "ops") else None,
                          "note": result.get("moved_because")})
    return found


def runs_of_customer(customer_id, limit=50):
    """A customer's runs, including the W1 run that created it from a lead (that run was
    started before the customer existed, so its customer column is empty)."""
    from sqlalchemy import or_

    from app.models import Lead, WorkflowRun
    leads = db.session.execute(select(Lead.id).where(Lead.converted_customer_id == customer_id)
                               ).scalars().all()
    subjects = [f"lead:{lead_id}" for lead_id in leads]
    condition = WorkflowRun.customer_id == customer_id
    if subjects:
        condition = or_(condition, WorkflowRun.subject.in_(subjects))
    return db.session.execute(select(WorkflowRun).where(condition)
                              .order_by(WorkflowRun.id.desc()).limit(limit)).scalars().all()

