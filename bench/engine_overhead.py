"""Engine overhead: workflows of 7 no-op steps through the engine, against the same 7 no-op
functions as chains of bare RQ jobs (depends_on), on the same Redis, the same database and
the same worker processes. Prints, measured in one run:

- throughput: N workflows started at once, runs/s for both, and their ratio;
- latency: M workflows one at a time (each started when the last finished), the median
  start-to-done time for both, and their ratio.

    .venv/bin/python bench/engine_overhead.py [N] [WORKERS] [M]

Uses REDIS_URL (else 127.0.0.1:6379/14) and DATABASE_URL (else a temporary SQLite file;
`DATABASE_URL=postgresql://...` for PostgreSQL, whose tables are emptied first)."""
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
POLL = 0.002


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


def bare_done(jobs):
    return all(job.get_status(refresh=True) == "finished" for job in jobs)


def engine_done(db, WorkflowRun, ids):
    db.session.expire_all()
    return db.session.execute(db.select(db.func.count(WorkflowRun.id)).where(
        WorkflowRun.id.in_(ids), WorkflowRun.status == "succeeded")).scalar() == len(ids)


def timed(start, done):
    """Seconds from start() to done(started) being true."""
    began = time.perf_counter()
    started = start()
    while not done(started):
        time.sleep(POLL)
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
    workers = start_workers()
    time.sleep(2)
    queue = Queue(os.environ["RQ_QUEUE"], connection=Redis.from_url(os.environ["REDIS_URL"]))
    try:
        with app.app_context():
            def engine_batch(count):
                return [start_run("bench_noop", {}).id for _ in range(count)]

            def engine_is_done(ids):
                return engine_done(db, WorkflowRun, ids)
            # A warm-up of each, so both are measured with warm connections and caches.
            timed(lambda: [bare_chain(queue, noop)], bare_done)
            timed(lambda: engine_batch(1), engine_is_done)

            bare = N / timed(lambda: [bare_chain(queue, noop) for _ in range(N)], bare_done)
            engine = N / timed(lambda: engine_batch(N), engine_is_done)
            bare_latency = statistics.median(
                timed(lambda: [bare_chain(queue, noop)], bare_done) for _ in range(M))
            engine_latency = statistics.median(
                timed(lambda: engine_batch(1), engine_is_done) for _ in range(M))
    finally:
        for worker in workers:
            worker.terminate()
    print(f"7-step no-op workflows, {WORKERS} workers, "
          f"{os.environ['DATABASE_URL'].split(':')[0]}")
    print(f"throughput, {N} at once : bare RQ {bare:7.2f} runs/s, engine {engine:7.2f} runs/s"
          f"  -> engine/bare {engine / bare:5.2f}x (engine cost {bare / engine:4.2f}x)")
    print(f"latency, {M} one at a time: bare RQ {bare_latency * 1000:6.1f} ms, engine "
          f"{engine_latency * 1000:6.1f} ms  -> engine/bare {engine_latency / bare_latency:5.2f}x")


if __name__ == "__main__":
    main()
