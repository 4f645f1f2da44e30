"""Periodic jobs: kept scheduled on RQ's scheduler, once per queue whatever the number of
workers and web processes, and started by the first web request as well as by workers."""
from rq.registry import ScheduledJobRegistry

from app.extensions import get_queue, get_redis
from jobs import periodic


def _pending_periodic_jobs():
    """run_periodic jobs waiting in the scheduler or (moved there by a worker) in the queue."""
    queue = get_queue()
    ids = ScheduledJobRegistry(queue=queue).get_job_ids() + queue.get_job_ids()
    jobs = [queue.fetch_job(job_id) for job_id in ids]
    return sorted(job.args[0] for job in jobs if job and job.func_name.endswith("run_periodic"))


def _forget_schedule():
    redis, queue = get_redis(), get_queue()
    for key in redis.scan_iter("lastmile:periodic:*"):
        redis.delete(key)
    registry = ScheduledJobRegistry(queue=queue)
    for job_id in registry.get_job_ids():
        registry.remove(job_id, delete_job=True)


def test_the_first_web_request_schedules_each_periodic_job_once(app, client, monkeypatch):
    _forget_schedule()
    monkeypatch.setattr(periodic, "_started_in_this_process", False)
    assert _pending_periodic_jobs() == []
    assert client.get("/staff/login").status_code == 200
    assert all(get_redis().exists(periodic._key(f)) for f in periodic.PERIODIC_JOBS)
    client.get("/staff/login")  # later requests, and workers starting, add nothing
    periodic.keep_periodic_jobs_scheduled()
    pending = _pending_periodic_jobs()
    assert len(pending) == len(set(pending)) <= len(periodic.PERIODIC_JOBS)
    _forget_schedule()
