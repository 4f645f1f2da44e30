"""Worker bootstrap: one Flask app per worker process, created on first use, so a plain
`rq worker --with-scheduler` runs Lastmile's jobs with nothing but the environment set."""
from contextlib import contextmanager

_app = None


def get_app():
    global _app
    if _app is None:
        from app import create_app
        _app = create_app()
        with _app.app_context():
            from jobs.periodic import keep_periodic_jobs_scheduled
            keep_periodic_jobs_scheduled()
    return _app


@contextmanager
def app_context():
    with get_app().app_context():
        yield
