"""Jobs that run on a timer, armed by the workers themselves.

Every worker process (`python -m jobs.worker`) runs a small ticker thread. Every
TICK_SECONDS it tries to take each periodic job's turn: a Redis key set with NX and a TTL of
the job's interval. The process that takes the turn enqueues one run of the job on the
ordinary queue; the others find the key and do nothing. So each job runs once per interval
whatever the number of workers, needs neither RQ's scheduler (whose lock a dead worker may
hold for minutes) nor outside traffic, and after Redis lost its data, keys included, the next
tick simply takes the turn again.

What is due later is never kept here: it is a database row with its due time (a step's
next attempt, a wait's deadline, a scheduled deployment) that one of these jobs sweeps.

To add one: a line in PERIODIC_JOBS ("dotted.path.to.function": every_seconds)."""
import logging
import os
import socket
import threading

log = logging.getLogger(__name__)

PERIODIC_JOBS = {
    # what a dead worker or a lost Redis left behind is taken up within a minute
    "jobs.steps.reap_stale_steps": 20,
    # deployments whose scheduled time has come
    "jobs.deployments.run_due_deployments": 15,
    # auto-renew subscriptions entering the renewal window start their renewal
    "jobs.renewals.renewal_sweep": 24 * 3600,
    # W6: dunning starts for invoices unpaid N days after due; waiting runs whose reminder
    # period is over move on, and payments a busy run missed are delivered again
    "jobs.dunning.start_dunning": 24 * 3600,
    "jobs.dunning.advance_dunning": 60,
}
TICK_SECONDS = 2


def take_turns():
    """Enqueue each periodic job whose turn it is in this process; returns their names."""
    from app.extensions import get_queue, get_redis
    redis, queue = get_redis(), get_queue()
    owner = f"{socket.gethostname()}:{os.getpid()}"
    taken = []
    for function, every in PERIODIC_JOBS.items():
        if redis.set(turn_key(function), owner, nx=True, ex=every):
            queue.enqueue(function, job_timeout=max(60, every), result_ttl=every)
            taken.append(function)
    return taken


def turn_key(function):
    from flask import current_app
    return f"lastmile:periodic:{current_app.config['RQ_QUEUE']}:{function}"


def start_ticker(app):
    """The worker's ticker: a daemon thread, so it dies with its process."""
    def tick():
        while not stop.is_set():
            try:
                with app.app_context():
                    take_turns()
            except Exception:  # Redis away for a moment: the next tick tries again
                log.warning("periodic jobs: could not take turns", exc_info=True)
            stop.wait(TICK_SECONDS)
    stop = threading.Event()
    thread = threading.Thread(target=tick, name="lastmile-periodic", daemon=True)
    thread.start()
    return stop
