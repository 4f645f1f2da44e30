"""Worker bootstrap: one Flask app per worker process.

`python -m jobs.worker [--url REDIS_URL] [QUEUE ...]` is an RQ worker with its scheduler that
creates the app once and runs each job in its own process (rq.SimpleWorker): a step is a few
short database transactions, and forking a work horse per step (with cold connections and
cold SQL caches) cost several times the step itself (see bench/engine_overhead.py). A worker
that dies mid-step loses nothing: the reaper takes the step up again. Each worker also runs
the ticker that arms the periodic jobs (jobs/periodic.py): run Lastmile's workers with
`python -m jobs.worker`; a plain `rq worker` runs the jobs but arms no periodic job."""
import argparse
import os
from contextlib import contextmanager

_app = None


def get_app():
    global _app
    if _app is None:
        from app import create_app
        from app.config import WorkerConfig
        _app = create_app(WorkerConfig)
    return _app


@contextmanager
def app_context():
    with get_app().app_context():
        yield


def main():
    parser = argparse.ArgumentParser(description="An RQ worker (with its scheduler) for "
                                                 "Lastmile's jobs.")
    parser.add_argument("--url", default=os.environ.get("REDIS_URL"))
    parser.add_argument("--name")
    parser.add_argument("queues", nargs="*")
    args = parser.parse_args()
    if args.url:
        os.environ["REDIS_URL"] = args.url
    app = get_app()
    import logging

    from rq import SimpleWorker
    # The reaper runs every 20 s: only what went wrong is worth a line (runs show the rest).
    logging.getLogger("rq.worker").setLevel(logging.WARNING)

    from app.extensions import get_redis
    from jobs.periodic import start_ticker
    with app.app_context():
        queues = args.queues or [app.config["RQ_QUEUE"]]
        connection = get_redis()
    start_ticker(app)  # this process takes its turns at the periodic jobs
    SimpleWorker(queues, connection=connection, name=args.name).work(with_scheduler=True)


if __name__ == "__main__":
    # Run from the imported module, not from __main__: the jobs find the app preloaded in
    # jobs.worker's own globals.
    from jobs.worker import main as run
    run()
