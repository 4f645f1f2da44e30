"""Periodic jobs: each worker's ticker takes turns through Redis keys, so a job runs once per
interval whatever the number of workers, and a Redis that lost its keys gets them back on the
next tick."""
import pytest

from app.extensions import get_queue, get_redis
from jobs import periodic


@pytest.fixture()
def own_queue(app, monkeypatch):
    """A queue of this test's own: the test workers' tickers take turns on theirs meanwhile."""
    monkeypatch.setitem(app.config, "RQ_QUEUE", "lastmile-periodic-test")
    with app.app_context():
        _forget_turns()
        yield
        _forget_turns()


def _queued_periodic_jobs():
    queue = get_queue()
    jobs = [queue.fetch_job(job_id) for job_id in queue.get_job_ids()]
    return sorted(job.func_name for job in jobs if job and job.func_name in periodic.PERIODIC_JOBS)


def _forget_turns():
    redis, queue = get_redis(), get_queue()
    for key in redis.scan_iter("lastmile:periodic:lastmile-periodic-test:*"):
        redis.delete(key)
    queue.empty()


def test_each_periodic_job_is_enqueued_once_per_interval(own_queue):
    assert sorted(periodic.take_turns()) == sorted(periodic.PERIODIC_JOBS)
    assert periodic.take_turns() == []  # another worker's tick: not its turn
    assert _queued_periodic_jobs() == sorted(periodic.PERIODIC_JOBS)
    for function, every in periodic.PERIODIC_JOBS.items():
        assert 0 < get_redis().ttl(periodic.turn_key(function)) <= every


def test_turns_come_back_after_redis_lost_its_data(own_queue):
    periodic.take_turns()
    for key in get_redis().scan_iter("lastmile:periodic:lastmile-periodic-test:*"):
        get_redis().delete(key)  # as a Redis restarted without persistence
    assert sorted(periodic.take_turns()) == sorted(periodic.PERIODIC_JOBS)
