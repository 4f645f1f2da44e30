"""Ordinary pages while N live run pages are open, against the same pages with none open,
measured in the same run. Prints both p95s and their ratio: a ratio near 1 means an open
stream costs the others nothing (ARCHITECTURE rule 8; issue 11's target: <= 1.5 at 1,000).

    .venv/bin/python bench/live_streams.py [--streams 1000] [--seconds 60]

The web app runs as README's "Running in production" says (gunicorn, gevent worker class) on
127.0.0.1 and a free port. Database: a temporary SQLite file, or DATABASE_URL (PostgreSQL; the
database is dropped and made again, so its name must contain "bench"). Redis: REDIS_URL, else
127.0.0.1:6379/14 (flushed). Each stream is a real connection that behaves like a browser's
EventSource: it reconnects when the server ends it, with the version it last received, and
over the per-user cap (204) it retries later. Meanwhile a publisher announces run changes, so
the open streams re-render as they would while workflows run. Everything is bounded: each
phase lasts --seconds, every request has a timeout, and the script stops what it started."""
import argparse
import asyncio
import math
import multiprocessing
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
HOST = "127.0.0.1"
PASSWORD = "bench-password"
REQUEST_TIMEOUT = 20


def options():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=1000, help="open run pages (1000)")
    parser.add_argument("--seconds", type=float, default=60,
                        help="length of each of the three measured phases (60)")
    parser.add_argument("--probe-threads", type=int, default=4,
                        help="clients requesting ordinary pages (4)")
    parser.add_argument("--think", type=float, default=0.1,
                        help="pause between a client's requests, seconds (0.1)")
    parser.add_argument("--publish-rate", type=float, default=10,
                        help="run changes announced per second (10)")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers (2)")
    return parser.parse_args()


# --- set-up -----------------------------------------------------------------------------

def database_url():
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{tempfile.mkdtemp(prefix='lastmile-bench-')}/live.db"
    import psycopg
    from sqlalchemy.engine import make_url
    parsed = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    if "bench" not in (parsed.database or ""):
        sys.exit(f"refusing to recreate {parsed.database!r}: use a database named *bench*")
    admin = parsed.set(database="postgres", drivername="postgresql").render_as_string(
        hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{parsed.database}"')
    return url


def prepare(streams, per_user):
    """Schema, one admin who reads ordinary pages, the stream users (`per_user` streams
    each, under the cap), one running run per stream, and 1,000 customers to list."""
    from flask_migrate import upgrade
    from sqlalchemy import insert, select

    from app import create_app
    from app.extensions import db
    from app.models import RunEvent, StepRun, User, WorkflowRun
    from app.portals.passwords import hash_password
    from app.seed import seed_bulk_customers

    app = create_app()
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        password_hash = hash_password(PASSWORD)  # one Argon2 hash serves every bench user
        users = [{"email": "reader@bench.test", "name": "Reader", "portal": "staff",
                  "role": "admin", "password_hash": password_hash}]
        users += [{"email": f"watcher{n}@bench.test", "name": f"Watcher {n}", "portal": "staff",
                   "role": "ops", "password_hash": password_hash}
                  for n in range(math.ceil(streams / per_user))]
        db.session.execute(insert(User), users)
        definition = {"title": "Bench", "steps": [{"name": f"step_{i}", "title": f"Step {i}"}
                                                  for i in range(7)]}
        db.session.execute(insert(WorkflowRun), [
            {"workflow": "lead_to_customer_onboarding", "version": 1, "definition": definition,
             "status": "running", "inputs": {}, "started_from": "staff"}
            for _ in range(max(streams, 1))])
        run_ids = db.session.execute(select(WorkflowRun.id).order_by(WorkflowRun.id)
                                     ).scalars().all()
        db.session.execute(insert(StepRun), [
            {"run_id": run_id, "index": i, "name": f"step_{i}", "kind": "action",
             "operation": "crm.noop", "status": "succeeded" if i < 3 else "pending",
             "attempts": 0, "round": 0, "max_attempts": 5}
            for run_id in run_ids for i in range(7)])
        db.session.execute(insert(RunEvent), [
            {"run_id": run_id, "kind": "run.started", "message": "started", "data": {}}
            for run_id in run_ids])
        db.session.commit()
        versions = dict(db.session.execute(
            select(RunEvent.run_id, db.func.max(RunEvent.id)).group_by(RunEvent.run_id)).all())
        seed_bulk_customers(1000)
    return [u["email"] for u in users], run_ids, versions


def free_port():
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_web(env, port, workers, streams):
    """README's production command, on a local port."""
    command = [sys.executable, "-m", "gunicorn", "--worker-class", "gevent",
               "--worker-connections", str(streams + 500), "-w", str(workers),
               "-b", f"{HOST}:{port}", "--log-level", "warning", "wsgi:app"]
    process = subprocess.Popen(command, cwd=str(ROOT), env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://{HOST}:{port}/staff/login", timeout=2).ok:
                return process
        except requests.RequestException:
            pass
        if process.poll() is not None:
            sys.exit("gunicorn did not start")
        time.sleep(0.3)
    process.terminate()
    sys.exit("gunicorn did not answer within 60 s")


def sign_in(base, email):
    http = requests.Session()
    page = http.get(f"{base}/staff/login", timeout=REQUEST_TIMEOUT).text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    answer = http.post(f"{base}/staff/login", timeout=REQUEST_TIMEOUT, data={
        "email": email, "password": PASSWORD, "csrf_token": token})
    if not answer.ok or "/login" in answer.url:
        sys.exit(f"could not sign in {email}")
    return http


# --- the open streams (a process of their own: they must not slow the measuring client) ---

def hold_streams(port, targets, counters, stop, results, lifetime):
    """Keeps each (cookie, run id, version) open as a browser's EventSource would. Pages open
    since a while have streams of every age: each first connection is closed by the client
    after a random part of a stream's lifetime (as if opened that long ago), so that
    reconnections arrive at their steady rate, N / lifetime, from the start."""
    async def one(cookie, run_id, since, gate):
        first_ends = time.monotonic() + random.uniform(0, lifetime)
        while not stop.is_set():
            try:
                async with gate:
                    asked = time.monotonic()
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection(HOST, port), REQUEST_TIMEOUT)
                    writer.write((f"GET /staff/runs/{run_id}/stream?since={since} HTTP/1.1\r\n"
                                  f"Host: {HOST}:{port}\r\nAccept: text/event-stream\r\n"
                                  f"Cookie: {cookie}\r\n\r\n").encode())
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"),
                                                  REQUEST_TIMEOUT)
                status = int(head.split(b" ", 2)[1])
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
                with counters["errors"].get_lock():
                    counters["errors"].value += 1
                await asyncio.sleep(3)
                continue
            if status != 200:
                writer.close()
                key = "refused" if status == 204 else "errors"
                with counters[key].get_lock():
                    counters[key].value += 1
                await asyncio.sleep(3 + random.random() * 3)  # the SSE extension's backoff
                continue
            with counters["open"].get_lock():
                counters["open"].value += 1
            connect_times.append(time.monotonic() - asked)
            try:
                while not stop.is_set():
                    # Wait on the socket itself (no polling: 1,000 timers a second would
                    # load this machine's two cores and count against the server).
                    if first_ends:
                        try:
                            chunk = await asyncio.wait_for(
                                reader.read(65536), max(0.0, first_ends - time.monotonic()))
                        except asyncio.TimeoutError:
                            first_ends = None
                            break  # this page's stream reached its age: reconnect
                    else:
                        chunk = await reader.read(65536)
                    if not chunk:
                        first_ends = None
                        break  # the server ended the stream: reconnect
                    text = chunk.decode(errors="replace")
                    if "event: update" in text:
                        with counters["updates"].get_lock():
                            counters["updates"].value += text.count("event: update")
                        found = re.findall(r"stream\?since=(\d+)", text)
                        since = found[-1] if found else since  # the swapped-in version
            except OSError:
                pass
            finally:
                with counters["open"].get_lock():
                    counters["open"].value -= 1
                writer.close()
            await asyncio.sleep(random.random() * 3)  # EventSource's reconnection delay

    async def main():
        gate = asyncio.Semaphore(100)  # connections being set up at once
        tasks = [asyncio.create_task(one(cookie, run_id, since, gate))
                 for cookie, run_id, since in targets]
        while not stop.is_set():
            await asyncio.sleep(0.5)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    connect_times = []
    asyncio.run(main())
    times = sorted(connect_times)
    if times:
        results.put((len(times), statistics.median(times), times[int(len(times) * 0.95) - 1
                                                              if len(times) >= 20 else -1]))
    else:
        results.put((0, 0.0, 0.0))


# --- the ordinary pages -----------------------------------------------------------------

def probe(base, http, pages, seconds, threads, think):
    """Latencies of ordinary page views by `threads` clients for `seconds`."""
    latencies, failures = [], {"timeouts": 0, "errors": 0}
    lock = threading.Lock()
    ends = time.monotonic() + seconds

    def client(offset):
        session = requests.Session()
        session.cookies.update(http.cookies)
        n = offset
        while time.monotonic() < ends:
            url = base + pages[n % len(pages)]
            n += 1
            started = time.perf_counter()
            try:
                ok = session.get(url, timeout=REQUEST_TIMEOUT).status_code == 200
                elapsed = time.perf_counter() - started
                with lock:
                    if ok:
                        latencies.append(elapsed)
                    else:
                        failures["errors"] += 1
            except requests.Timeout:
                with lock:
                    failures["timeouts"] += 1
            except requests.RequestException:
                with lock:
                    failures["errors"] += 1
            time.sleep(think)

    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return latencies, failures


def publisher(redis_client, run_ids, rate, stop):
    """Run changes as the engine announces them (ARCHITECTURE rule 8)."""
    while not stop.is_set() and rate > 0:
        redis_client.publish(f"run:{random.choice(run_ids)}", "{}")
        stop.wait(1 / rate)


def p95(samples):
    return statistics.quantiles(samples, n=20)[18] if len(samples) >= 20 else max(samples)


def main():
    args = options()
    cap = int(os.environ.get("LIVE_STREAMS_PER_USER", "10"))
    # The server's own setting (app/config.py), jittered there between 0.8 and 1 of it.
    lifetime = 0.9 * int(os.environ.get("LIVE_STREAM_SECONDS", "300"))
    per_user = max(1, cap // 2)  # under the cap: a reconnect never races its own slot
    os.environ["DATABASE_URL"] = database_url()
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
    import redis
    redis_client = redis.Redis.from_url(os.environ["REDIS_URL"])
    redis_client.flushdb()

    print(f"preparing {args.streams} runs and {math.ceil(args.streams / per_user)} users "
          f"on {os.environ['DATABASE_URL'].split('://')[0]}…", flush=True)
    emails, run_ids, versions = prepare(args.streams, per_user)
    port = free_port()
    base = f"http://{HOST}:{port}"
    env = dict(os.environ, SECRET_KEY="bench-secret", TWO_FACTOR_REQUIRED_ROLES="",
               LIVE_STREAMS_PER_USER=str(cap), LOGIN_MAX_ATTEMPTS_PER_ADDRESS="100000",
               PUBLIC_BASE_URL=base)
    web = start_web(env, port, args.web_workers, args.streams)
    stop_streams = multiprocessing.Event()
    stop_publishing = threading.Event()
    holder = None
    try:
        reader = sign_in(base, emails[0])
        pages = ["/staff/", "/staff/customers", "/staff/customers?q=bulk+customer+77",
                 "/staff/customers?page=3", "/staff/runs", f"/staff/runs/{run_ids[0]}",
                 f"/staff/runs/{run_ids[0]}/timeline"]
        threading.Thread(target=publisher, daemon=True,
                         args=(redis_client, run_ids, args.publish_rate, stop_publishing)
                         ).start()

        print(f"measuring ordinary pages for {args.seconds:.0f}s with no stream open…",
              flush=True)
        quiet, quiet_failures = probe(base, reader, pages, args.seconds, args.probe_threads,
                                      args.think)

        print(f"signing in {len(emails) - 1} watchers…", flush=True)
        cookies = []
        for email in emails[1:]:
            session = sign_in(base, email)
            cookies.append("; ".join(f"{c.name}={c.value}" for c in session.cookies))
        targets = [(cookies[i // per_user], run_id, versions[run_id])
                   for i, run_id in enumerate(run_ids[:args.streams])]
        counters = {name: multiprocessing.Value("i", 0)
                    for name in ("open", "refused", "errors", "updates")}
        connects = multiprocessing.Queue()
        holder = multiprocessing.Process(target=hold_streams, daemon=True,
                                         args=(port, targets, counters, stop_streams,
                                               connects, lifetime))
        holder.start()
        deadline = time.monotonic() + 120
        while counters["open"].value < args.streams and time.monotonic() < deadline:
            time.sleep(0.5)
        opened = counters["open"].value
        print(f"{opened} streams open; measuring ordinary pages for {args.seconds:.0f}s…",
              flush=True)
        lowest = [opened]

        measuring = threading.Event()
        measuring.set()

        def watch_open():
            while measuring.is_set():
                lowest[0] = min(lowest[0], counters["open"].value)
                time.sleep(0.5)
        threading.Thread(target=watch_open, daemon=True).start()
        busy, busy_failures = probe(base, reader, pages, args.seconds, args.probe_threads,
                                    args.think)
        measuring.clear()
        still_open = counters["open"].value
        stop_streams.set()
        try:
            connected = connects.get(timeout=15)
        except Exception:  # the holder died: say so below
            connected = (0, 0.0, 0.0)
        holder.join(timeout=15)
        # The machine is shared: measure "none open" again afterwards, and compare with both.
        time.sleep(3)
        print(f"streams closed; measuring ordinary pages for {args.seconds:.0f}s again…",
              flush=True)
        after, after_failures = probe(base, reader, pages, args.seconds, args.probe_threads,
                                      args.think)
    finally:
        stop_publishing.set()
        stop_streams.set()
        if holder is not None and holder.is_alive():
            holder.terminate()
        web.terminate()
        try:
            web.wait(timeout=20)
        except subprocess.TimeoutExpired:
            web.kill()

    print()
    print(f"streams: {args.streams} asked, {opened} open when measuring started, "
          f"{lowest[0]}..{still_open} open while measuring (reconnects in between), "
          f"{counters['updates'].value} updates received, {counters['refused'].value} refused "
          f"(cap), {counters['errors'].value} failed connections")
    print(f"stream (re)connections: {connected[0]}, time to the first byte median "
          f"{connected[1] * 1000:.0f}ms, p95 {connected[2] * 1000:.0f}ms")
    print(f"{'ordinary pages':<28}{'requests':>9}{'median':>10}{'p95':>10}"
          f"{'timeouts':>10}{'errors':>8}")
    none = quiet + after
    for label, samples, failures in (
            ("none open (before)", quiet, quiet_failures),
            (f"{opened} streams open", busy, busy_failures),
            ("none open (after)", after, after_failures)):
        print(f"{label:<28}{len(samples):>9}{statistics.median(samples) * 1000:>8.1f}ms"
              f"{p95(samples) * 1000:>8.1f}ms{failures['timeouts']:>10}{failures['errors']:>8}")
    print(f"p95 ratio, streams open / none open (before and after together): "
          f"{p95(busy) / p95(none):.2f}   (target <= 1.5, no timeouts)")


if __name__ == "__main__":
    main()
