"""A customer's booked installations as the customer and ops read them: when, with whom, and
why the booking differs from the requested time (W5's schedule_installation says so in its
result; nothing is moved silently)."""
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import Appointment, StepRun


def installation_bookings(customer_id):
    appointments = db.session.execute(
        select(Appointment).options(selectinload(Appointment.technician))
        .where(Appointment.customer_id == customer_id,
               Appointment.status.in_(("scheduled", "en_route")))
        .order_by(Appointment.starts_at)).scalars().all()
    run_ids = [a.workflow_run_id for a in appointments if a.workflow_run_id]
    notes = {}
    if run_ids:
        for run_id, result in db.session.execute(select(StepRun.run_id, StepRun.result).where(
                StepRun.run_id.in_(run_ids), StepRun.name == "schedule_installation")):
            notes[run_id] = (result or {}).get("moved_because")
    return [{"appointment": a, "moved_because": notes.get(a.workflow_run_id)}
            for a in appointments]
