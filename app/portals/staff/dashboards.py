"""What each staff role does today, for the dashboard: a technician's next jobs, the
dispatcher's queue and week, finance's open and overdue money, support's queue, sales' leads
and quotes, ops' runs needing attention. Admins see every section.

Each section only links to pages its role may open (those pages still check on the server);
tests/e2e/test_ui_browser.py follows every tile as that role."""
from datetime import datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import (Appointment, CommissionEntry, Customer, Invoice, Lead, Plan, Quote,
                        SiteSurvey, StepRun, Subscription, Ticket, User, WorkflowRun, utcnow)

OPEN_TICKET = ("open", "in_progress")
LIVE_JOB = ("scheduled", "en_route")
SECTIONS = {"technician": ("technician",), "dispatcher": ("dispatcher",),
            "finance": ("finance",), "support": ("support",), "sales": ("sales",),
            "ops": ("ops", "dispatcher_queue"),
            "admin": ("overview", "ops", "sales", "finance", "support", "dispatcher")}


def _scalar(query):
    return db.session.execute(query).scalar() or 0


def _rows(query):
    return db.session.execute(query).scalars().all()


def dashboard_sections(user):
    """[(section name, context)] for the user's role, in the order they are shown."""
    return [(name, BUILDERS[name](user)) for name in SECTIONS.get(user.role, ())]


def technician_section(user):
    jobs = _rows(select(Appointment).options(selectinload(Appointment.customer))
                 .where(Appointment.technician_id == user.id,
                        Appointment.status.in_(LIVE_JOB))
                 .order_by(Appointment.starts_at).limit(5))
    today = utcnow().date()
    return {"jobs": jobs, "today": sum(1 for j in jobs if j.starts_at.date() == today)}


def unbooked_installations(limit=20):
    """Installations nobody has booked yet: customers with a completed, serviceable survey
    and no installation under way, and open installation tickets without a technician."""
    customers = _rows(select(Customer).join(SiteSurvey, SiteSurvey.customer_id == Customer.id)
                      .where(SiteSurvey.status == "completed",
                             SiteSurvey.serviceability == "serviceable",
                             Customer.installation_status == "none",
                             Customer.archived_at.is_(None))
                      .order_by(Customer.id).distinct().limit(limit))
    tickets = _rows(select(Ticket).options(selectinload(Ticket.customer))
                    .where(Ticket.type == "installation", Ticket.status.in_(OPEN_TICKET),
                           Ticket.assignee_id.is_(None)).order_by(Ticket.id).limit(limit))
    return {"customers": customers, "tickets": tickets}


def dispatcher_section(user):
    start = utcnow().date()
    start -= timedelta(days=start.weekday())
    week_end = datetime.combine(start + timedelta(days=7), time(0))
    week = db.session.execute(
        select(User.name, func.count(Appointment.id))
        .join(Appointment, Appointment.technician_id == User.id)
        .where(Appointment.starts_at >= datetime.combine(start, time(0)),
               Appointment.starts_at < week_end, Appointment.status != "cancelled")
        .group_by(User.name).order_by(User.name)).all()
    return {"queue": unbooked_installations(), "week": week, "week_start": start,
            "jobs_this_week": sum(n for _, n in week)}


def dispatcher_queue_section(user):
    return {"queue": unbooked_installations()}


def finance_section(user):
    now = utcnow()
    open_invoices = select(Invoice).where(Invoice.status == "open")
    overdue = open_invoices.where(Invoice.due_at < now)

    def total(query):
        found = query.subquery()
        return db.session.execute(select(func.count(), func.coalesce(func.sum(found.c.total),
                                                                     0))).one()
    open_count, open_total = total(open_invoices)
    overdue_count, overdue_total = total(overdue)
    oldest = _rows(overdue.options(selectinload(Invoice.customer))
                   .order_by(Invoice.due_at).limit(5))
    return {"open_count": open_count, "open_total": open_total,
            "overdue_count": overdue_count, "overdue_total": overdue_total,
            "oldest_overdue": oldest,
            "pending_commissions": _scalar(select(func.count(CommissionEntry.id))
                                           .where(CommissionEntry.status == "pending")),
            "renewals_due": _scalar(select(func.count(Subscription.id)).where(
                Subscription.status == "active",
                Subscription.current_period_end <= now.date() + timedelta(days=30)))}


def support_section(user):
    queue = _rows(select(Ticket).options(selectinload(Ticket.customer))
                  .where(Ticket.status.in_(OPEN_TICKET), Ticket.type != "installation")
                  .order_by(Ticket.sla_due_at.is_(None), Ticket.sla_due_at, Ticket.id)
                  .limit(8))
    return {"queue": queue,
            "open": _scalar(select(func.count(Ticket.id)).where(Ticket.status == "open")),
            "mine": _scalar(select(func.count(Ticket.id)).where(
                Ticket.status.in_(OPEN_TICKET), Ticket.assignee_id == user.id)),
            "unassigned": _scalar(select(func.count(Ticket.id)).where(
                Ticket.status.in_(OPEN_TICKET), Ticket.assignee_id.is_(None)))}


def sales_section(user):
    to_convert = _rows(select(Lead).where(Lead.status.in_(("qualified",
                                                           "site_survey_completed")),
                                          Lead.converted_customer_id.is_(None))
                       .order_by(Lead.id.desc()).limit(5))
    return {"open_leads": _scalar(select(func.count(Lead.id)).where(
                Lead.status.notin_(("won", "lost", "disqualified")))),
            "sent_quotes": _scalar(select(func.count(Quote.id)).where(
                Quote.status.in_(("sent", "viewed")))),
            "to_convert": to_convert}


LIVE_OR_FAILED = ("failed", "waiting", "running")


def ops_section(user):
    attention = _rows(select(WorkflowRun).where(WorkflowRun.status.in_(("failed",)))
                      .order_by(WorkflowRun.id.desc()).limit(5))
    cpe_waiting = _scalar(select(func.count(StepRun.id)).where(
        StepRun.name == "await_cpe_configuration", StepRun.status == "waiting"))
    # Only the statuses the section shows: counting every finished run grows with history.
    counts = dict(db.session.execute(select(WorkflowRun.status, func.count())
                                     .where(WorkflowRun.status.in_(LIVE_OR_FAILED))
                                     .group_by(WorkflowRun.status)).all())
    return {"failed_runs": attention, "cpe_waiting": cpe_waiting, "runs_by_status": counts}


def overview_section(user):
    mrr = _scalar(select(func.sum(func.coalesce(Subscription.custom_price, Plan.price)))
                  .join(Plan).where(Subscription.status == "active",
                                    Plan.billing_cycle == "monthly"))
    return {"mrr": mrr, "active_customers": _scalar(select(func.count(Customer.id))
                                                    .where(Customer.status == "active"))}


BUILDERS = {"technician": technician_section, "dispatcher": dispatcher_section,
            "dispatcher_queue": dispatcher_queue_section, "finance": finance_section,
            "support": support_section, "sales": sales_section, "ops": ops_section,
            "overview": overview_section}
