"""`make run`: the web app and an RQ worker (with its scheduler) in one terminal, plus an
embedded Redis when REDIS_URL is not set. Ctrl-C stops them all."""
import os
import signal
import subprocess
import sys
import time

from scripts.embedded_redis import ensure_embedded_redis

HOST = os.environ.get("HOST", "127.0.0.1")
PORT = os.environ.get("PORT", "5000")


def main():
    env = dict(os.environ)
    if not env.get("REDIS_URL"):
        env["REDIS_URL"] = ensure_embedded_redis()  # lives as long as this process
    env.setdefault("PUBLIC_BASE_URL", f"http://{HOST}:{PORT}")
    queue = env.get("RQ_QUEUE", "lastmile")
    processes = [
        subprocess.Popen([sys.executable, "-m", "jobs.worker", "--url", env["REDIS_URL"],
                          queue], env=env),
        subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "run",
                          "--host", HOST, "--port", PORT, "--no-reload"], env=env),
    ]
    from app.seed import DEMO_LOGINS
    print(f"\nLastmile is running at http://{HOST}:{PORT}/\n\nDemo logins:", flush=True)
    for portal, email, password, what in DEMO_LOGINS:
        print(f"  {portal:<9} {email:<34} {password:<14} {what}")
    print("\nCtrl-C stops it.\n", flush=True)
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for p in processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in processes:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
