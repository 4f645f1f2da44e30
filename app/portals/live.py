"""Live run pages: Server-Sent Events fed by Redis pub/sub (`run:<id>`, published by the
engine on every transition). Each message re-renders the run's fragment from the database;
a stream lives a bounded time and the browser reconnects, so no web worker is held forever.

The fragment carries its version (the run's last event id) in its stream URL (`?since=`), and
a stream sends the fragment at once only if the run moved on since that version: a swapped-in
fragment reconnects, and must not be answered with itself forever."""
import time

from flask import Response, request, stream_with_context
from sqlalchemy import func, select

from app.extensions import db, get_redis


def run_version(run_id):
    from app.models import RunEvent
    return db.session.execute(select(func.max(RunEvent.id)).where(
        RunEvent.run_id == run_id)).scalar() or 0

STREAM_SECONDS = 55
HEARTBEAT_SECONDS = 15


def sse_response(render_fragment, run_id, since):
    """`render_fragment()` returns the HTML to swap in; it is sent after every change of the
    run (and at once if the run changed since the browser's version)."""
    def events(channel):
        pubsub = get_redis().pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(channel)
        try:
            db.session.expire_all()
            if run_version(run_id) != since:
                yield _event(render_fragment())
            started = last_beat = time.monotonic()
            while time.monotonic() - started < STREAM_SECONDS:
                message = pubsub.get_message(timeout=1.0)
                if message:
                    while pubsub.get_message(timeout=0.05):  # coalesce a burst of changes
                        pass
                    yield _event(render_fragment())
                elif time.monotonic() - last_beat > HEARTBEAT_SECONDS:
                    last_beat = time.monotonic()
                    yield ": keep-alive\n\n"
        finally:
            pubsub.close()
    return events


def stream(run_id, render_fragment):
    since = request.args.get("since", type=int)
    generator = sse_response(render_fragment, run_id, since)(f"run:{run_id}")
    return Response(stream_with_context(generator), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _event(html):
    data = "\n".join(f"data: {line}" for line in html.splitlines() or [""])
    return f"event: update\n{data}\n\n"


def register_progress_views(blueprint, decorator, owner_column, owner_id):
    """The customer-facing (or partner-facing) view of a run: friendly step names and plain
    messages, no internals, live. `owner_id()` is the signed-in user's customer or partner;
    a run of anybody else is a 404."""
    from flask import abort, render_template, url_for
    from sqlalchemy import select

    from app.extensions import db
    from app.models import StepRun, WorkflowRun

    name = blueprint.name

    def load(run_id):
        run = db.session.execute(select(WorkflowRun).where(
            WorkflowRun.id == run_id, getattr(WorkflowRun, owner_column) == owner_id())
        ).scalar_one_or_none()
        if run is None:
            abort(404)
        return run

    def fragment(run):
        steps = db.session.execute(select(StepRun).where(
            StepRun.run_id == run.id, StepRun.kind != "compensation").order_by(StepRun.index)
        ).scalars().all()
        version = run_version(run.id)
        return render_template("components/run_progress.html", run=run, steps=steps,
                               stream_url=url_for(f"{name}.run_progress_stream", run_id=run.id,
                                                  since=version),
                               poll_url=url_for(f"{name}.run_progress_fragment", run_id=run.id))

    @blueprint.route("/runs/<int:run_id>")
    @decorator
    def run_progress(run_id):
        run = load(run_id)
        return render_template("components/run_progress_page.html", run=run,
                               layout=f"{name}/base.html", fragment=fragment(run))

    @blueprint.route("/runs/<int:run_id>/progress")
    @decorator
    def run_progress_fragment(run_id):
        return fragment(load(run_id))

    @blueprint.route("/runs/<int:run_id>/stream")
    @decorator
    def run_progress_stream(run_id):
        run_id = load(run_id).id

        def render():
            db.session.expire_all()
            return fragment(db.session.get(WorkflowRun, run_id))
        return stream(run_id, render)
