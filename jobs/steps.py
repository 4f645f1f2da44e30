"""The RQ entry points. Thin on purpose: open the app context, call the engine."""
from jobs.worker import app_context


def run_step(step_id):
    """One attempt of one step (or of one compensation)."""
    with app_context():
        from app.workflows import engine
        engine.execute_step(step_id)


def wait_timeout(step_id):
    with app_context():
        from app.workflows import engine
        engine.wait_timed_out(step_id)


def reap_stale_steps():
    with app_context():
        from app.workflows import engine
        return engine.reap_stale_steps()
