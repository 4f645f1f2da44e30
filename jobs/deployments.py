"""Scheduled deployments (W2): at the scheduled time, provision the order's tenant."""
from datetime import timedelta

from jobs.worker import app_context


def run_scheduled_deployment(schedule_id):
    with app_context():
        from app.errors import TransientError
        from app.extensions import get_queue
        from app.workflows.registry import get_service
        try:
            return get_service("deployment").run_scheduled_deployment(schedule_id)
        except TransientError:
            get_queue().enqueue_in(timedelta(seconds=30), run_scheduled_deployment, schedule_id)
