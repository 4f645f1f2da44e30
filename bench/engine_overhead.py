"""Engine overhead: workflows of 7 no-op steps through the engine, against the same 7 no-op
functions as chains of bare RQ jobs (depends_on), on the same Redis, the same database and
the same worker processes. Prints, measured in one run:

- latency: M workflows one at a time (each started when the last finished), the median
  start-to-done time for both, and their ratio;
- throughput: N workflows started at once, runs/s for both, and their ratio;
- the database's own pace meanwhile (a round trip, a one-row write and commit), and the time
  seven steps that each commit on their own cannot go below: a round trip each as the engine
  records them (not waiting for the disk), a write and its commit each with
  STEP_RECORDS_SYNCHRONOUS=1.

Each side learns that its work is done the way its own users would, without polling: bare RQ
blocks on the last job's result stream (Job.latest_result), the engine on the runs' Redis
channel that the live pages hear, reading from the database the status of the runs its
messages name.

    .venv/bin/python bench/engine_overhead.py [N] [WORKERS] [M]

Uses REDIS_URL (else 127.0.0.1:6379/14) and DATABASE_URL (else a temporary SQLite file;
`DATABASE_URL=postgresql://...` for PostgreSQL, whose run tables are emptied and vacuumed
first)."""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 100
WORKERS = int(sys.argv[2]) if len(sys.argv) > 2 else 2
M = int(sys.argv[3]) if len(sys.argv) > 3 else 30
TMP = Path(tempfile.mkdtemp(prefix="lastmile-bench-"))
os.environ.setdefault("DATABASE_URL", f"sqlite:///{TMP / 'bench.db'}")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ["RQ_QUEUE"] = f"bench-{os.getpid()}"
os.environ["LASTMILE_PLUGINS"] = "bench.noop_plugin"


def start_workers():
    return [subprocess.Popen([sys.executable, "-m", "jobs.worker", "--url",
                              os.environ["REDIS_URL"], os.environ["RQ_QUEUE"]],
                             cwd=str(ROOT), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL) for _ in range(WORKERS)]


def bare_chain(queue, noop):
    job = None
    for _step in range(7):
        job = queue.enqueue(noop, depends_on=job)
    return job


def bare_wait(last_jobs):
    for job in last_jobs:
        if job.latest_result(timeout=120) is None:
            raise RuntimeError(f"RQ job {job.id} did not finish")


def engine_wait(db, WorkflowRun, channel, ids):
    """Until every run in `ids` succeeded: reads the status of the runs that the channel's
    messages name (of all of them at first), as their pages would, once per batch of
    messages rather than once per message."""
    def succeeded(among):
        db.session.expire_all()
        done = set(db.session.execute(db.select(WorkflowRun.id).where(
            WorkflowRun.id.in_(among), WorkflowRun.status == "succeeded")).scalars())
        db.session.commit()
        return done

    pending = set(ids) - succeeded(ids)
    deadline = time.monotonic() + 120
    while pending:
        if time.monotonic() > deadline:
            raise RuntimeError("the engine's runs did not finish")
        changed = set()
        message = channel.get_message(timeout=1.0)
        while message is not None:  # a run changed: look again, at each run that did
            changed.add(json.loads(message["data"])["run_id"])
            message = channel.get_message(timeout=0)
        if changed & pending:
            pending -= succeeded(changed & pending)


def database_floor(db):
    """Median seconds of a round trip (SELECT 1) and of a one-row write with its commit
    (BEGIN, INSERT, COMMIT) on the bench's database: a step recorded in one statement that
    commits on its own costs at least the first, or the second if it waits for the disk."""
    def median_of(action, times=200):
        samples = []
        for _ in range(times):
            began = time.perf_counter()
            action()
            samples.append(time.perf_counter() - began)
        return statistics.median(samples)

    with db.engine.connect() as conn:
        round_trip = median_of(lambda: conn.exec_driver_sql("SELECT 1").all())
        # A table of its own, not a temporary one: a temporary table's commit skips the log.
        conn.exec_driver_sql("CREATE TABLE bench_floor (n integer)")
        conn.commit()

        def write():
            conn.exec_driver_sql("INSERT INTO bench_floor VALUES (1)")
            conn.commit()
        try:
            return round_trip, median_of(write)
        finally:
            conn.exec_driver_sql("DROP TABLE bench_floor")
            conn.commit()


def timed(start, wait):
    """Seconds from start() to wait(started) returning."""
    began = time.perf_counter()
    wait(start())
    return time.perf_counter() - began


def main():
    from flask_migrate import upgrade
    from redis import Redis
    from rq import Queue

    from app import create_app
    from app.extensions import db
    from app.models import WorkflowRun
    from app.workflows.engine import start_run
    from bench.noop_plugin import noop

    app = create_app()
    Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        db.session.execute(db.text("DELETE FROM run_events"))
        db.session.execute(db.text("DELETE FROM step_runs"))
        db.session.execute(db.text("DELETE FROM workflow_runs"))
        db.session.commit()
        if db.engine.dialect.name == "postgresql":  # every run starts from the same tables
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as raw:
                raw.execute(db.text("VACUUM ANALYZE run_events, step_runs, workflow_runs"))
    workers = start_workers()
    time.sleep(2)
    queue = Queue(os.environ["RQ_QUEUE"], connection=Redis.from_url(os.environ["REDIS_URL"]))
    try:
        with app.app_context():
            def engine_batch(count):
                return [start_run("bench_noop", {}).id for _ in range(count)]

            channel = queue.connection.pubsub(ignore_subscribe_messages=True)
            channel.psubscribe("run:*")

            def engine_is_done(ids):
                engine_wait(db, WorkflowRun, channel, ids)
            # A warm-up of each, so both are measured with warm connections and caches.
            timed(lambda: [bare_chain(queue, noop)], bare_wait)
            timed(lambda: engine_batch(1), engine_is_done)

            # One at a time first, on quiet workers and a quiet database: after a burst the
            # database is still writing the burst's rows out for a while.
            bare_latency = statistics.median(
                timed(lambda: [bare_chain(queue, noop)], bare_wait) for _ in range(M))
            engine_latency = statistics.median(
                timed(lambda: engine_batch(1), engine_is_done) for _ in range(M))
            bare = N / timed(lambda: [bare_chain(queue, noop) for _ in range(N)], bare_wait)
            engine = N / timed(lambda: engine_batch(N), engine_is_done)
            round_trip, write = database_floor(db)
    finally:
        for worker in workers:
            worker.terminate()
    print(f"7-step no-op workflows, {WORKERS} workers, "
          f"{os.environ['DATABASE_URL'].split(':')[0]}")
    print(f"throughput, {N} at once : bare RQ {bare:7.2f} runs/s, engine {engine:7.2f} runs/s"
          f"  -> engine/bare {engine / bare:5.2f}x (engine cost {bare / engine:4.2f}x)")
    print(f"latency, {M} one at a time: bare RQ {bare_latency * 1000:6.1f} ms, engine "
          f"{engine_latency * 1000:6.1f} ms  -> engine/bare {engine_latency / bare_latency:5.2f}x")
    print(f"database meanwhile: a round trip {round_trip * 1000:.2f} ms, a one-row write and "
          f"commit {write * 1000:.2f} ms -> 7 steps committed one by one take at least "
          f"{7 * round_trip * 1000:.1f} ms ({7 * write * 1000:.1f} ms waiting for the disk)")


if __name__ == "__main__":
    main()
