"""The renewal pipeline: runs waiting for a customer's answer, quotes about to expire, and
renewals applied lately."""
from datetime import timedelta

from flask import render_template
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import Quote, SubscriptionRenewal, WorkflowRun, utcnow
from app.portals.access import staff_required
from app.portals.staff import bp


@bp.route("/renewals")
@staff_required("sales", "finance")
def renewals():
    waiting = db.session.execute(select(WorkflowRun).where(
        WorkflowRun.workflow == "customer_renewal_process", WorkflowRun.status == "waiting")
        .order_by(WorkflowRun.id.desc()).limit(50)).scalars().all()
    expiring = db.session.execute(select(Quote).options(selectinload(Quote.customer)).where(
        Quote.kind == "renewal", Quote.status.in_(("sent", "viewed")),
        Quote.valid_until <= utcnow() + timedelta(days=3)).order_by(Quote.valid_until)
        .limit(50)).scalars().all()
    recent = db.session.execute(select(SubscriptionRenewal).options(
        selectinload(SubscriptionRenewal.subscription)).order_by(
        SubscriptionRenewal.id.desc()).limit(25)).scalars().all()
    return render_template("staff/renewals/pipeline.html", waiting=waiting, expiring=expiring,
                           recent=recent)
