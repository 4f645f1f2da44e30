"""Engine overhead: N workflows of 7 no-op steps through the engine, against the same 7 no-op
functions as N chains of bare RQ jobs (depends_on), on the same Redis and the same number of
worker processes. Prints runs/s for both and their ratio (engine cost relative to bare RQ).

    .venv/bin/python bench/engine_overhead.py [N] [WORKERS]

Uses REDIS_URL (else 127.0.0.1:6379/14) and DATABASE_URL (else a temporary SQLite file)."""
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 50
WORKERS = int(sys.argv[2]) if len(sys.argv) > 2 else 2
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
    workers = start_workers()
    time.sleep(2)
    try:
        queue = Queue(os.environ["RQ_QUEUE"], connection=Redis.from_url(os.environ["REDIS_URL"]))
        started = time.perf_counter()
        last_jobs = []
        for _ in range(N):
            job = None
            for _step in range(7):
                job = queue.enqueue(noop, depends_on=job)
            last_jobs.append(job)
        while not all(j.get_status(refresh=True) == "finished" for j in last_jobs):
            time.sleep(0.05)
        bare = N / (time.perf_counter() - started)

        with app.app_context():
            started = time.perf_counter()
            ids = [start_run("bench_noop", {}).id for _ in range(N)]
            while db.session.execute(db.select(db.func.count(WorkflowRun.id)).where(
                    WorkflowRun.id.in_(ids), WorkflowRun.status == "succeeded")).scalar() < N:
                db.session.expire_all()
                time.sleep(0.05)
            engine = N / (time.perf_counter() - started)
    finally:
        for worker in workers:
            worker.terminate()
    print(f"{N} runs of 7 steps, {WORKERS} workers, {os.environ['DATABASE_URL'].split(':')[0]}")
    print(f"bare RQ chains : {bare:8.2f} runs/s")
    print(f"engine         : {engine:8.2f} runs/s")
    print(f"engine cost    : {bare / engine:8.2f}x bare RQ")


if __name__ == "__main__":
    main()
