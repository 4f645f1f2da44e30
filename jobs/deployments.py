"""Scheduled deployments (W2): each sweep runs the schedules whose time has come. The
schedule row is the timer, so a Redis that lost its data loses no deployment."""
from jobs.worker import app_context


def run_due_deployments():
    with app_context():
        from app.models import utcnow
        from app.workflows.registry import get_service
        deployment = get_service("deployment")
        ran = []
        for schedule_id in deployment.due_deployment_ids(utcnow()):
            if deployment.run_scheduled_deployment(schedule_id) is not None:
                ran.append(schedule_id)
        return ran
