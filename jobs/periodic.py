"""Jobs that run on a timer, kept scheduled on RQ's own scheduler (`rq worker
--with-scheduler`) by whichever worker notices first. Each run schedules the next; a Redis key
with a TTL of two intervals keeps several workers from scheduling the same job twice, and
lets a chain lost with Redis start again on its own.

The chains start when a worker runs its first job and on the web app's first request (a
fresh Redis with only waiting runs has no job to wake a worker), so a restart of web, workers
or Redis never leaves the reaper and the deadline sweep unscheduled.

To add one: a line in PERIODIC_JOBS ("dotted.path.to.function", every_seconds)."""
from datetime import timedelta

PERIODIC_JOBS = {
    # what a dead worker or a lost Redis left behind is taken up within a minute
    "jobs.steps.reap_stale_steps": 20,
    # auto-renew subscriptions entering the renewal window start their renewal
    "jobs.renewals.renewal_sweep": 24 * 3600,
}


def keep_periodic_jobs_scheduled():
    from app.extensions import get_queue, get_redis
    redis, queue = get_redis(), get_queue()
    for function, every in PERIODIC_JOBS.items():
        if redis.set(_key(function), "scheduled", nx=True, ex=every * 2):
            queue.enqueue_in(timedelta(seconds=1), run_periodic, function)


_started_in_this_process = False


def start_on_first_request():
    """A before_app_request hook: once per web process, make sure the chains exist."""
    global _started_in_this_process
    if _started_in_this_process:
        return
    _started_in_this_process = True
    try:
        keep_periodic_jobs_scheduled()
    except Exception:  # no Redis right now: the next worker job schedules them
        _started_in_this_process = False


def run_periodic(function):
    """Run one periodic job, then schedule its next run."""
    import importlib

    from app.extensions import get_queue, get_redis
    from jobs.worker import app_context
    module, _, name = function.rpartition(".")
    every = PERIODIC_JOBS[function]
    try:
        return getattr(importlib.import_module(module), name)()
    finally:
        with app_context():
            get_redis().set(_key(function), "scheduled", ex=every * 2)
            get_queue().enqueue_in(timedelta(seconds=every), run_periodic, function)


def _key(function):
    from flask import current_app
    return f"lastmile:periodic:{current_app.config['RQ_QUEUE']}:{function}"
