"""Live run pages: Server-Sent Events fed by Redis pub/sub (`run:<id>`, published by the
engine on every transition). Each message re-renders the run's fragment from the database.

An open stream is cheap (ARCHITECTURE rule 8):
- it holds no database connection: the view checks one out to authorise and render, and gives
  it back (`db.session.remove()`) before it waits; each later render does the same;
- it holds no Redis connection of its own: each process keeps ONE pub/sub subscription
  (`RunFeed`, pattern `run:*`) and wakes the streams watching the run that changed;
- in production it holds no scarce thread: gunicorn's gevent worker runs each request in a
  greenlet, and psycopg 3 (>= 3.1.14) and redis-py cooperate once gevent has patched the
  standard library. Under a threaded server (the dev server, the tests) the same code runs
  with a thread per stream and a thread for the feed.
A user may hold at most LIVE_STREAMS_PER_USER streams at once (`StreamSlots`); past that the
stream answers 204, the browser's EventSource stops, and the page keeps its polling.

A stream lives LIVE_STREAM_SECONDS (less a random fifth) and the browser reconnects; a stream
whose sign-in was revoked ends at its next update, and a closed tab's at its next keep-alive. The fragment carries its version (the run's last event id) in its
stream URL (`?since=`), and a stream sends the fragment at once only if the run moved on since
that version: a swapped-in fragment reconnects, and must not be answered with itself forever."""
import logging
import os
import random
import sys
import threading
import time
import uuid
from collections import defaultdict

from flask import Response, current_app, request, stream_with_context
from flask_login import current_user
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select

from app.extensions import db, get_redis, redis_url

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15
# A burst of transitions (a job carrying a run through several steps) becomes one render.
COALESCE_SECONDS = 0.05


def run_version(run_id):
    from app.models import RunEvent
    return db.session.execute(select(func.max(RunEvent.id)).where(
        RunEvent.run_id == run_id)).scalar() or 0


class Watch:
    """One open stream's interest in one run: set by the feed when the run changes."""

    def __init__(self, feed, run_id):
        self.feed, self.run_id = feed, run_id
        self.changed = threading.Event()  # gevent's Event once gevent patched threading

    def wait(self, timeout):
        if not self.changed.wait(timeout):
            return False
        time.sleep(COALESCE_SECONDS)
        self.changed.clear()
        return True

    def close(self):
        self.feed.unwatch(self)


class RunFeed:
    """This process's one Redis subscription to every run's channel, fanned out to the open
    streams. Pattern-subscribing once costs a dictionary lookup per published change and no
    SUBSCRIBE/UNSUBSCRIBE round trips as pages open and close. A lost connection is retried
    with backoff; after it comes back every stream re-renders, since a change may have gone
    by while nobody listened."""

    SUBSCRIBE_WAIT_SECONDS = 2

    def __init__(self, url):
        self.url = url
        self._watches = defaultdict(set)
        self._lock = threading.Lock()
        self._listener = None
        self._subscribed = threading.Event()
        self._missed = set()  # watches opened while not subscribed: woken once subscribed

    def watch(self, run_id):
        watch = Watch(self, run_id)
        with self._lock:
            self._watches[run_id].add(watch)
            if self._listener is None or not self._listener.is_alive():
                self._listener = threading.Thread(target=self._listen, daemon=True,
                                                  name="lastmile-run-feed")
                self._listener.start()
        # The caller reads the run's version next: a change published before Redis knows
        # of the subscription would be missed.
        if not self._subscribed.wait(self.SUBSCRIBE_WAIT_SECONDS):
            with self._lock:
                self._missed.add(watch)
        return watch

    def unwatch(self, watch):
        with self._lock:
            self._missed.discard(watch)
            watchers = self._watches.get(watch.run_id)
            if watchers is not None:
                watchers.discard(watch)
                if not watchers:
                    del self._watches[watch.run_id]

    def open_streams(self):
        with self._lock:
            return sum(len(w) for w in self._watches.values())

    def _wake(self, run_id):
        with self._lock:
            watches = list(self._watches.get(run_id, ()))
        for watch in watches:
            watch.changed.set()

    def _subscribed_again(self, first):
        with self._lock:
            watches = ([w for ws in self._watches.values() for w in ws] if not first
                       else list(self._missed))
            self._missed.clear()
            self._subscribed.set()
        for watch in watches:
            watch.changed.set()

    def _listen(self):
        _warn_if_psycopg_blocks_the_loop()
        backoff, first = 0.5, True
        while True:
            try:
                pubsub = Redis.from_url(self.url, socket_keepalive=True).pubsub()
                pubsub.psubscribe("run:*")
                for message in pubsub.listen():
                    if message["type"] == "psubscribe":
                        backoff = 0.5
                        self._subscribed_again(first)
                        first = False
                    elif message["type"] == "pmessage":
                        run_id = message["channel"].rpartition(b":")[2]
                        if run_id.isdigit():
                            self._wake(int(run_id))
            except (RedisError, OSError) as error:
                self._subscribed.clear()
                log.warning("live run feed lost Redis (%s); retrying in %.1fs",
                            type(error).__name__, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 10)


_feeds = {}
_feeds_lock = threading.Lock()


def run_feed():
    """The feed of this process (a forked child starts its own)."""
    key = (os.getpid(), redis_url())
    with _feeds_lock:
        if key not in _feeds:
            _feeds[key] = RunFeed(key[1])
        return _feeds[key]


class StreamSlots:
    """At most `limit` open streams per user, across every web process: a sorted set per user
    in Redis whose members are the open streams, scored by when they end at the latest. A
    process that died without releasing its slots loses them when their score passes, so a
    crash never locks a user out."""

    CLAIM = """
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
    if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
    redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
    redis.call('EXPIRE', KEYS[1], ARGV[5])
    return 1
    """

    def __init__(self, user_key, limit, seconds):
        self.key = f"lastmile:live-streams:{user_key}"
        self.limit, self.seconds = limit, seconds
        self.token = uuid.uuid4().hex
        self.redis = get_redis()  # kept: the release runs after the request's context

    def claim(self):
        now = time.time()
        grace = self.seconds + 30  # the stream's own end, plus a slow last write
        try:
            script = self.redis.register_script(self.CLAIM)
            return bool(script(keys=[self.key],
                               args=[now, now + grace, self.limit, self.token, int(grace) + 1]))
        except RedisError:
            return False  # no Redis, no live feed either: the page polls

    def release(self):
        try:
            self.redis.zrem(self.key, self.token)
        except RedisError:
            pass  # the slot's score ends it


def stream(run_id, render_fragment):
    """The SSE response for `run_id`. `render_fragment()` returns the HTML to swap in; it is
    sent after every change of the run (and at once if the run changed since the browser's
    version). The caller has authorised the request."""
    config = current_app.config
    # Streams opened together (a deploy, a page opened by many) end at different times, so
    # their reconnections do not arrive all at once.
    seconds = config["LIVE_STREAM_SECONDS"] * random.uniform(0.8, 1.0)
    since = request.args.get("since", type=int)
    slot = StreamSlots(current_user.get_id(), config["LIVE_STREAMS_PER_USER"], seconds)
    if not slot.claim():
        db.session.remove()
        # 204 tells EventSource to stop reconnecting; the page's hx-trigger polling goes on.
        return Response(status=204, headers={"Cache-Control": "no-store"})
    # Watch before reading the version, so that no change slips between the two.
    watch = run_feed().watch(run_id)
    closed = []

    def close():
        if not closed:
            closed.append(True)
            watch.close()
            slot.release()

    signed_in = _session_id()
    try:
        first = render_fragment() if run_version(run_id) != since else None
    except BaseException:
        close()
        raise
    finally:
        db.session.remove()

    def events():
        # Something at once, so that the server sends the headers now: the browser's
        # EventSource counts as open only then.
        yield _event(first) if first is not None else ": open\n\n"
        ends = time.monotonic() + seconds
        while (left := ends - time.monotonic()) > 0:
            if watch.wait(min(HEARTBEAT_SECONDS, left)):
                try:
                    # A stream outlives many page views: a sign-out, a password change or
                    # "sign out everywhere" ends it at its next update.
                    if not _still_signed_in(signed_in):
                        return
                    html = render_fragment()
                finally:
                    db.session.remove()
                yield _event(html)
            elif left > HEARTBEAT_SECONDS:
                yield ": keep-alive\n\n"

    response = Response(stream_with_context(events()), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    # The server closes the response when the stream ends or the client went away (found at
    # the next write at the latest), also when the generator never started.
    response.call_on_close(close)
    return response


def _session_id():
    from app.portals.auth.sessions import current_session
    row = current_session()
    return row.id if row is not None else None


def _still_signed_in(session_id):
    from app.models import UserSession, utcnow
    row = db.session.get(UserSession, session_id) if session_id is not None else None
    return row is not None and row.revoked_at is None and row.expires_at > utcnow()


def _event(html):
    data = "\n".join(f"data: {line}" for line in html.splitlines() or [""])
    return f"event: update\n{data}\n\n"


_warned = False


def _warn_if_psycopg_blocks_the_loop():
    """Under gevent, psycopg must have been imported after the patching (no `--preload`),
    else every query blocks every stream and page of the process."""
    global _warned
    gevent_monkey = sys.modules.get("gevent.monkey")
    if _warned or gevent_monkey is None or not gevent_monkey.is_module_patched("select"):
        return
    try:
        from psycopg import waiting
    except ImportError:
        return
    if getattr(waiting, "wait", None) is getattr(waiting, "wait_c", object()):
        _warned = True
        log.warning("psycopg was imported before gevent patched the standard library: its "
                    "queries block the event loop. Do not run gunicorn with --preload.")


def register_progress_views(blueprint, decorator, owner_column, owner_id):
    """The customer-facing (or partner-facing) view of a run: friendly step names and plain
    messages, no internals, live. `owner_id()` is the signed-in user's customer or partner;
    a run of anybody else is a 404."""
    from flask import abort, render_template, url_for
    from sqlalchemy import select

    from app.extensions import db
    from app.models import StepRun, WorkflowRun

    name = blueprint.name

    def load(run_id, **options):
        run = db.session.execute(select(WorkflowRun).where(
            WorkflowRun.id == run_id, getattr(WorkflowRun, owner_column) == owner_id())
            .execution_options(**options)).scalar_one_or_none()
        if run is None:
            abort(404)
        return run

    def fragment(run_id):
        # The version first: a change committed while the run and its steps are read then
        # shows, or the next render shows it. Read last, the version could claim a change the
        # fragment does not show, and the stream would wait for a newer one that never comes.
        version = run_version(run_id)
        # populate_existing: a run the request loaded before (to authorise it) is read again
        run = load(run_id, populate_existing=True)
        steps = db.session.execute(select(StepRun).where(
            StepRun.run_id == run.id, StepRun.kind != "compensation").order_by(StepRun.index)
        ).scalars().all()
        return render_template("components/run_progress.html", run=run, steps=steps,
                               stream_url=url_for(f"{name}.run_progress_stream", run_id=run.id,
                                                  since=version),
                               poll_url=url_for(f"{name}.run_progress_fragment", run_id=run.id))

    @blueprint.route("/runs/<int:run_id>")
    @decorator
    def run_progress(run_id):
        html = fragment(run_id)  # authorises and loads the run, found next in the session
        return render_template("components/run_progress_page.html",
                               run=db.session.get(WorkflowRun, run_id),
                               layout=f"{name}/base.html", fragment=html)

    @blueprint.route("/runs/<int:run_id>/progress")
    @decorator
    def run_progress_fragment(run_id):
        return fragment(run_id)

    @blueprint.route("/runs/<int:run_id>/stream")
    @decorator
    def run_progress_stream(run_id):
        run_id = load(run_id).id
        return stream(run_id, lambda: fragment(run_id))
