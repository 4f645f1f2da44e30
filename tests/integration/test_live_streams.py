"""Live run pages (ARCHITECTURE rule 8): an open stream holds no database connection, is fed by
the process's one Redis subscription, and a user holds at most LIVE_STREAMS_PER_USER of them.
Through the app on a real port (a threaded server, as in the browser tests) and a real Redis."""
import re
import socket
import threading
from urllib.parse import urlsplit

import pytest
import redis as redis_lib
import requests

from app.models import RunEvent, StepRun, WorkflowRun
from app.portals.live import run_feed, run_version
from tests.conftest import REDIS_URL, wait_until
from tests.factories import PASSWORD, make_customer, make_user

DEFINITION = {"steps": [{"name": "check_things", "title": "Check things"},
                        {"name": "do_things", "title": "Do things"}]}


def make_run(db, customer=None, status="running"):
    run = WorkflowRun(workflow="lead_to_customer_onboarding", version=1, definition=DEFINITION,
                      status=status, inputs={}, started_from="staff",
                      customer_id=customer.id if customer else None)
    db.session.add(run)
    db.session.flush()
    for index, step in enumerate(DEFINITION["steps"]):
        db.session.add(StepRun(run_id=run.id, index=index, name=step["name"], kind="action",
                               operation="crm.noop", status="pending"))
    db.session.add(RunEvent(run_id=run.id, kind="run.started", message="started"))
    db.session.commit()
    return run


def advance(db, run, step_name, status):
    """What the engine does on a transition: commit, append an event, publish."""
    db.session.execute(db.update(StepRun).where(StepRun.run_id == run.id,
                                                StepRun.name == step_name).values(status=status))
    db.session.add(RunEvent(run_id=run.id, step_name=step_name, kind=f"step.{status}"))
    db.session.commit()
    redis_lib.Redis.from_url(REDIS_URL).publish(f"run:{run.id}", "{}")


def sign_in(base, email, portal="staff"):
    path = {"staff": "/staff/login", "customer": "/portal/login"}[portal]
    http = requests.Session()
    token = re.search(r'name="csrf-token" content="([^"]+)"', http.get(base + path).text)
    assert http.post(base + path, data={"email": email, "password": PASSWORD,
                                        "csrf_token": token.group(1)}).ok
    return http


class OpenStream:
    """An EventSource's connection, on a plain socket (which the test can cut, as a closed tab
    does): reads the stream in a thread and keeps what arrived."""

    def __init__(self, http, url):
        parts = urlsplit(url)
        cookies = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
        self.sock.sendall(f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                          f"Accept: text/event-stream\r\nCookie: {cookies}\r\n\r\n".encode())
        self.received = ""
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(4096)
        head, _, rest = head.partition(b"\r\n\r\n")
        self.head, self.received = head.decode(), rest.decode()
        self.status = int(self.head.split()[1])
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            while chunk := self.sock.recv(65536):
                self.received += chunk.decode()
        except OSError:
            pass  # cut by the test
        self.ended = True

    ended = False

    def updates(self):
        return self.received.count("event: update")

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def checked_out(db):
    db.session.remove()  # the test's own session gives its connection back first
    return db.engine.pool.checkedout()


def test_an_open_stream_holds_no_database_connection(db, live_server):
    user = make_user(role="ops")
    run = make_run(db)
    http = sign_in(live_server, user.email)
    before = run_feed().open_streams()
    stream = OpenStream(http, f"{live_server}/staff/runs/{run.id}/stream"
                              f"?since={run_version(run.id)}")
    try:
        assert stream.status == 200 and "text/event-stream" in stream.head
        wait_until(lambda: run_feed().open_streams() == before + 1, timeout=10,
                   message="the stream to wait on the feed")
        assert checked_out(db) == 0
        assert stream.updates() == 0  # the browser's version is current: nothing to send

        advance(db, run, "check_things", "succeeded")
        wait_until(lambda: stream.updates() == 1, timeout=10, message="the update")
        assert 'id="run-live"' in stream.received and "succeeded" in stream.received
        # The render gave its connection back before the stream waits again.
        wait_until(lambda: checked_out(db) == 0, timeout=5, message="the connection back")

        advance(db, run, "do_things", "running")
        wait_until(lambda: stream.updates() == 2, timeout=10, message="the second update")
        wait_until(lambda: checked_out(db) == 0, timeout=5, message="the connection back")
    finally:
        stream.close()


def test_a_revoked_sign_in_ends_its_stream_at_the_next_update(db, live_server):
    from app.models import UserSession, utcnow
    user = make_user(role="ops")
    run = make_run(db)
    http = sign_in(live_server, user.email)
    stream = OpenStream(http, f"{live_server}/staff/runs/{run.id}/stream"
                              f"?since={run_version(run.id)}")
    try:
        assert stream.status == 200
        # "Sign out everywhere", from another browser.
        db.session.execute(db.update(UserSession).where(UserSession.user_id == user.id)
                           .values(revoked_at=utcnow()))
        db.session.commit()
        advance(db, run, "check_things", "succeeded")
        wait_until(lambda: stream.ended, timeout=10, message="the stream to end")
        assert stream.updates() == 0
    finally:
        stream.close()


def test_a_stream_sends_the_fragment_at_once_when_the_page_is_behind(db, live_server):
    user = make_user(role="ops")
    run = make_run(db)
    http = sign_in(live_server, user.email)
    stream = OpenStream(http, f"{live_server}/staff/runs/{run.id}/stream?since=0")
    try:
        wait_until(lambda: stream.updates() == 1, timeout=10, message="the first fragment")
        assert f"/staff/runs/{run.id}/stream?since={run_version(run.id)}" in stream.received
    finally:
        stream.close()


def test_many_streams_share_one_redis_subscription(db, live_server):
    user = make_user(role="ops")
    runs = [make_run(db) for _ in range(3)]
    http = sign_in(live_server, user.email)
    client = redis_lib.Redis.from_url(REDIS_URL)
    subscribers = client.pubsub_numpat()
    streams = [OpenStream(http, f"{live_server}/staff/runs/{run.id}/stream"
                                f"?since={run_version(run.id)}") for run in runs]
    try:
        wait_until(lambda: run_feed().open_streams() >= 3, timeout=10, message="three streams")
        assert client.pubsub_numpat() <= max(subscribers, 1)
        advance(db, runs[1], "check_things", "running")
        wait_until(lambda: streams[1].updates() == 1, timeout=10, message="the update")
        assert streams[0].updates() == streams[2].updates() == 0  # only the run that moved
    finally:
        for stream in streams:
            stream.close()


@pytest.fixture()
def cap_of_two(app):
    # Ids start again at 1 on SQLite: forget the slots earlier tests' users left behind.
    client = redis_lib.Redis.from_url(REDIS_URL)
    for key in client.scan_iter("lastmile:live-streams:*"):
        client.delete(key)
    previous = app.config["LIVE_STREAMS_PER_USER"]
    app.config["LIVE_STREAMS_PER_USER"] = 2
    yield 2
    app.config["LIVE_STREAMS_PER_USER"] = previous


def test_a_user_holds_at_most_the_cap_of_open_streams(db, client, cap_of_two):
    # The stream gives the session back, and the test client shares this test's session:
    # keep plain values, not objects.
    user, other = make_user(role="ops").email, make_user(role="ops").email
    run = make_run(db)
    url = f"/staff/runs/{run.id}/stream?since={run_version(run.id)}"
    run_id = run.id
    client.login(user, PASSWORD)
    open_ = [client.http.get(url, buffered=False) for _ in range(cap_of_two)]
    assert [r.status_code for r in open_] == [200, 200]

    refused = client.http.get(url, buffered=False)
    # 204: the browser's EventSource stops reconnecting; the page's polling carries on.
    assert refused.status_code == 204 and refused.data == b""
    assert client.get(f"/staff/runs/{run_id}/timeline").status_code == 200  # the poll

    other_client = type(client)(client.http.application.test_client())
    other_client.login(other, PASSWORD)
    other_stream = other_client.http.get(url, buffered=False)
    assert other_stream.status_code == 200  # the cap is per user
    other_stream.close()

    # A closed stream frees its slot. (Streams that share the test's thread close in reverse
    # order: each holds its request context.)
    open_[1].close()
    again = client.http.get(url, buffered=False)
    assert again.status_code == 200
    again.close()
    open_[0].close()


def test_a_customer_streams_only_their_own_runs(db, client):
    customer, stranger = make_customer(), make_customer()
    email = make_user(portal="customer", customer_id=customer.id).email
    own, theirs = make_run(db, customer).id, make_run(db, stranger).id
    client.login(email, PASSWORD, portal="customer")
    assert client.get(f"/portal/runs/{theirs}/stream").status_code == 404
    mine = client.http.get(f"/portal/runs/{own}/stream?since=0", buffered=False)
    assert mine.status_code == 200
    first = next(mine.response)
    assert "event: update" in (first.decode() if isinstance(first, bytes) else first)
    mine.close()


@pytest.mark.parametrize("portal", ["staff", "customer"])
def test_a_fragment_never_claims_a_version_newer_than_it_shows(db, client, portal):
    """A step moves on while a fragment is being read. The fragment carries its version to the
    stream (`?since=`), which sends a newer fragment only if the run moved on since then: a
    version that already counts a change the fragment does not show would keep the page stale
    until the next change, if one ever comes (a run left waiting)."""
    from sqlalchemy import event, insert, update
    customer = make_customer()
    user = (make_user(role="ops") if portal == "staff"
            else make_user(portal="customer", customer_id=customer.id))
    email, run_id = user.email, make_run(db, customer).id
    shown = run_version(run_id)
    url = {"staff": f"/staff/runs/{run_id}/timeline",
           "customer": f"/portal/runs/{run_id}/progress"}[portal]
    client.login(email, PASSWORD, portal=portal)

    moved = []

    def move_on_once_the_steps_are_read(conn, cursor, statement, *args):
        if not moved and statement.lstrip().upper().startswith("SELECT") \
                and "step_runs" in statement:
            moved.append(True)
            with db.engine.begin() as other:  # another worker's transaction, committed
                other.execute(update(StepRun).where(StepRun.run_id == run_id,
                                                    StepRun.name == "check_things")
                              .values(status="succeeded"))
                other.execute(insert(RunEvent).values(run_id=run_id, step_name="check_things",
                                                      kind="step.succeeded", message=""))
    event.listen(db.engine, "after_cursor_execute", move_on_once_the_steps_are_read)
    try:
        html = client.get(url).get_data(as_text=True)
    finally:
        event.remove(db.engine, "after_cursor_execute", move_on_once_the_steps_are_read)
    assert moved
    assert f"stream?since={shown}" in html.replace("&amp;", "&")
    assert run_version(run_id) > shown  # the change is still to be sent
