"""`make run`: the web app and an RQ worker (with its scheduler) in one terminal, plus an
embedded Redis when REDIS_URL is not set. Ctrl-C (SIGINT), SIGTERM or SIGHUP stops them all,
and so does the end of the process that started this one (`make`, killed on its own)."""
import os
import signal
import subprocess
import sys
import time

from scripts.embedded_redis import ensure_embedded_redis, stop_embedded_redis

HOST = os.environ.get("HOST", "127.0.0.1")
PORT = os.environ.get("PORT", "5000")
# What the workflow codes in the demo logins stand for (README, "The five workflows").
WORKFLOWS = ("W1 lead → customer (Convert lead) · W2 quote → order · W3 partner provisions "
             "a customer · W4 renewal · W5 installation → live service (Deploy service) · "
             "W6 overdue invoice → suspension")


class Stop(Exception):
    pass


def _stop(signum, _frame):
    raise Stop(signal.Signals(signum).name)


def main():
    for name in ("SIGTERM", "SIGHUP"):
        signal.signal(getattr(signal, name), _stop)
    parent = os.getppid()
    env = dict(os.environ)
    embedded = not env.get("REDIS_URL")
    processes = []
    try:
        if embedded:
            env["REDIS_URL"] = ensure_embedded_redis()
        env.setdefault("PUBLIC_BASE_URL", f"http://{HOST}:{PORT}")
        queue = env.get("RQ_QUEUE", "lastmile")
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "jobs.worker", "--url", env["REDIS_URL"], queue], env=env))
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "run", "--host", HOST,
             "--port", PORT, "--no-reload"], env=env))
        from app.seed import DEMO_LOGINS
        print(f"\nLastmile is running at http://{HOST}:{PORT}/ (set HOST and PORT to change "
              f"it)\n\nDemo logins:", flush=True)
        for portal, email, password, what in DEMO_LOGINS:
            print(f"  {portal:<9} {email:<34} {password:<19} {what}")
        print(f"\nWorkflows: {WORKFLOWS}.\n\nCtrl-C stops everything.\n", flush=True)
        while all(p.poll() is None for p in processes) and os.getppid() == parent:
            time.sleep(0.5)
    except (KeyboardInterrupt, Stop):
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second signal must not cut this short
        for p in processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in processes:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if embedded:
            stop_embedded_redis()
        print("Stopped: web, worker" + (" and the embedded Redis." if embedded else "."),
              flush=True)


if __name__ == "__main__":
    main()
