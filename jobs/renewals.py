"""The daily renewal sweep: start W4 for auto-renew subscriptions entering the renewal
window, once per period. Two workers sweeping at once cannot both start one: each start is
guarded by a Redis SET NX on (subscription, period end), and the eligibility check refuses a
second run while one is open."""
from datetime import timedelta

from jobs.worker import app_context


def renewal_sweep():
    with app_context():
        from flask import current_app
        from sqlalchemy import select

        from app.extensions import db, get_redis
        from app.models import Subscription, WorkflowRun, utcnow
        from app.workflows.engine import start_run
        from app.workflows.registry import get_service

        today = utcnow().date()
        window_end = today + timedelta(days=current_app.config["RENEWAL_WINDOW_DAYS"])
        due = db.session.execute(select(Subscription).where(
            Subscription.auto_renew.is_(True),
            Subscription.status.in_(("active", "past_due")),
            Subscription.current_period_end >= today,
            Subscription.current_period_end <= window_end)).scalars().all()
        started = []
        billing = get_service("billing")
        window = timedelta(days=current_app.config["RENEWAL_WINDOW_DAYS"])
        for subscription in due:
            # Once per period: any renewal run since this period's window opened counts,
            # whatever became of it (a customer who declined is not asked again).
            asked = db.session.execute(select(WorkflowRun.id).where(
                WorkflowRun.workflow == "customer_renewal_process",
                WorkflowRun.inputs["subscription_id"].as_integer() == subscription.id,
                WorkflowRun.created_at >= subscription.current_period_end - window).limit(1)
            ).first()
            eligible, _, _ = billing.renewal_status(subscription)
            if asked or not eligible:
                continue
            guard = f"lastmile:renewal:{subscription.id}:{subscription.current_period_end}"
            if not get_redis().set(guard, "1", nx=True, ex=3600):  # a sweep running beside us
                continue
            run = start_run("customer_renewal_process", {
                "customer_id": subscription.customer_id, "subscription_id": subscription.id,
                "renewal_term": 12}, started_from="scheduler",
                customer_id=subscription.customer_id)
            started.append(run.id)
        return started
