"""Pytest fixtures that serve the stand-ins and point the app at them; a test module imports
the ones it uses (`from tests.fakes.fixtures import netbox  # noqa: F401`)."""
import os
import sys
import tempfile
import uuid
from contextlib import contextmanager

import pytest

from tests.conftest import start_worker, stop_worker
from tests.fakes import serve
from tests.fakes.genieacs import FakeGenieAcs
from tests.fakes.netbox import FakeNetBox


@pytest.fixture()
def netbox(app):
    fake = FakeNetBox()
    with serve(fake) as url:
        app.config.update(NETBOX_URL=url, NETBOX_TOKEN=fake.token)
        yield fake, url
    app.config.update(NETBOX_URL=None, NETBOX_TOKEN=None)


@pytest.fixture()
def genieacs(app):
    fake = FakeGenieAcs()
    with serve(fake) as url:
        app.config.update(GENIEACS_URL=url)
        yield fake, url
    app.config.update(GENIEACS_URL=None)


@contextmanager
def own_worker(app, **settings):
    """A worker of its own (on its own queue) with extra settings in its environment, e.g.
    NETBOX_URL pointing at a stand-in: the session's workers were started without them."""
    queue = f"own-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, **{k: str(v) for k, v in settings.items()}, "RQ_QUEUE": queue}
    log = tempfile.TemporaryFile()
    worker = start_worker(queue, env=env, log=log)
    app.config["RQ_QUEUE"] = queue
    try:
        yield worker
    finally:
        # What the worker said (it logs only what went wrong) goes to the test's stderr, which
        # pytest shows when the test fails: a stalled run then says why.
        died = worker.poll() is not None
        log.seek(0)
        sys.stderr.write(f"worker {'died' if died else 'log'}:\n"
                         f"{log.read()[-4000:].decode(errors='replace')}\n")
        log.close()
        app.config["RQ_QUEUE"] = os.environ["RQ_QUEUE"]
        stop_worker(worker)
