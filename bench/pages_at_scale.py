"""Staff pages at 100,000 customers and 1,000,000 step rows, against the same pages at 1,000
customers and 14,000 step rows. Prints each page's time and the ratio: a ratio near 1 means
the page's cost does not grow with the tables (indexes, bounded counts, keyset paging, no
N+1). Issue 11's target: every ratio <= 2 on PostgreSQL.

    .venv/bin/python bench/pages_at_scale.py [BIG] [SMALL] [BIG_STEPS] [SMALL_STEPS]

The small and the big data live in two databases, measured in turns (small, big, small, big…),
so that whatever else the machine does at the time weighs on both alike. Databases: two
temporary SQLite files, or DATABASE_URL and the same name with "_small" (PostgreSQL: both are
dropped and made again, so the name must contain "bench", e.g.
postgresql://postgres@127.0.0.1:5432/lastmile_bench_pages). REDIS_URL: else
127.0.0.1:6379/14."""
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIG = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
SMALL = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000
BIG_STEPS = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
# 2,000 runs: enough that every filtered run list fills its page in the small phase too.
SMALL_STEPS = int(sys.argv[4]) if len(sys.argv) > 4 else 14_000
STEPS_PER_RUN = 7
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
ROUNDS = 5

PAGES = [("customers list", "/staff/customers"),
         ("customers page 40", "/staff/customers?page=40"),
         ("customers page 41 (Next)", "/staff/customers?page=41&after={after}"),
         ("customer search", "/staff/customers?q=customer%2077"),
         ("customer detail", "/staff/customers/{last}"),
         ("dashboard", "/staff/"),
         ("run monitor", "/staff/runs"),
         ("runs: failed", "/staff/runs?status=failed"),
         ("runs: one workflow", "/staff/runs?workflow=customer_renewal_process"),
         ("runs: workflow+status",
          "/staff/runs?workflow=customer_renewal_process&status=running"),
         ("runs: of a customer", "/staff/runs?customer={run_customer}"),
         ("runs: customer name", "/staff/runs?q=customer%2077"),
         ("run page", "/staff/runs/{last_run}")]

WORKFLOWS = ("lead_to_customer_onboarding", "quote_accepted_to_order",
             "partner_customer_provisioning", "customer_renewal_process",
             "isp_ticket_to_deployment", "overdue_invoice_to_suspension")
DEFINITION = {"title": "Bench", "steps": [{"name": f"step_{i}", "title": f"Step {i}"}
                                          for i in range(STEPS_PER_RUN)]}


def timed(client, url, repeat=3):
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    return samples


def addresses(app):
    from app.extensions import db
    from app.models import Customer, WorkflowRun
    with app.app_context():
        last = db.session.execute(db.select(db.func.max(Customer.id))).scalar()
        after = db.session.execute(db.select(Customer.id).order_by(Customer.id.desc())
                                   .offset(40 * 25 - 1).limit(1)).scalar()
        last_run, run_customer = db.session.execute(
            db.select(WorkflowRun.id, WorkflowRun.customer_id)
            .order_by(WorkflowRun.id.desc()).limit(1)).one()
    return {name: url.format(last=last, after=after, last_run=last_run,
                             run_customer=run_customer) for name, url in PAGES}


def database_urls():
    """(small, big) database URLs, made empty."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        folder = tempfile.mkdtemp(prefix="lastmile-bench-")
        return f"sqlite:///{folder}/small.db", f"sqlite:///{folder}/big.db"
    import psycopg
    from sqlalchemy.engine import make_url
    big = make_url(url)
    if "bench" not in (big.database or ""):
        sys.exit(f"refusing to recreate {big.database!r}: use a database named *bench*")
    small = big.set(database=f"{big.database}_small")
    admin = big.set(database="postgres", drivername="postgresql").render_as_string(
        hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in (small.database, big.database):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    return (small.render_as_string(hide_password=False),
            big.render_as_string(hide_password=False))


def make_app(url, customers, step_rows):
    from flask_migrate import upgrade

    from app import create_app
    from app.config import Config, _database_url
    from app.extensions import db
    from app.models import User
    from app.portals.passwords import hash_password
    from app.seed import seed_bulk_customers

    class BenchConfig(Config):
        SQLALCHEMY_DATABASE_URI = _database_url(url)
        WTF_CSRF_ENABLED = False
        # Admins sign in with a second factor: the bench reads as one who may skip it.
        TWO_FACTOR_REQUIRED_ROLES = ()
    app = create_app(BenchConfig)
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        db.session.add(User(email="bench@example.test", name="Bench", portal="staff",
                            role="admin", password_hash=hash_password("bench-password")))
        db.session.commit()
        seed_bulk_customers(customers)
        seed_runs(step_rows)
    client = app.test_client()
    client.post("/staff/login", data={"email": "bench@example.test",
                                      "password": "bench-password"})
    return app, client


def seed_runs(step_rows):
    """`step_rows` more step rows: runs of 7 steps (mostly succeeded, some failed, running or
    waiting; every workflow; spread over the customers), one event per step. In SQL, so that
    a million rows take seconds."""
    from sqlalchemy import text

    from app.extensions import db
    runs = max(1, step_rows // STEPS_PER_RUN)
    postgres = db.engine.dialect.name == "postgresql"
    as_json = "CAST(:{} AS json)" if postgres else ":{}"
    first, customers = db.session.execute(text(
        "SELECT coalesce(max(id), 0) + 1 FROM workflow_runs")).scalar(), \
        db.session.execute(text("SELECT min(id), count(*) FROM customers")).one()
    workflow = "CASE n % 6 " + " ".join(f"WHEN {i} THEN '{w}'" for i, w in enumerate(WORKFLOWS)) \
        + " END"
    db.session.execute(text(f"""
        WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :runs)
        INSERT INTO workflow_runs (workflow, version, definition, status, inputs, customer_id,
                                   started_from, created_at)
        SELECT {workflow}, 1, {as_json.format('definition')},
               CASE n % 20 WHEN 0 THEN 'failed' WHEN 1 THEN 'running' WHEN 2 THEN 'waiting'
                           WHEN 3 THEN 'compensated' ELSE 'succeeded' END,
               {as_json.format('inputs')}, :first_customer + (n * 7919) % :customers, 'staff',
               CURRENT_TIMESTAMP
        FROM g"""), {"runs": runs, "definition": json.dumps(DEFINITION), "inputs": "{}",
                     "first_customer": customers[0], "customers": customers[1]})
    steps = " UNION ALL ".join(f"SELECT {i} AS i" for i in range(STEPS_PER_RUN))
    db.session.execute(text(f"""
        INSERT INTO step_runs (run_id, "index", name, kind, operation, status, attempts, round,
                               max_attempts)
        SELECT r.id, s.i, 'step_' || s.i, 'action', 'crm.noop', 'succeeded', 1, 0, 5
        FROM workflow_runs r CROSS JOIN ({steps}) s WHERE r.id >= :first"""), {"first": first})
    db.session.execute(text(f"""
        INSERT INTO run_events (run_id, step_name, kind, message, data, created_at)
        SELECT r.id, 'step_' || s.i, 'step.succeeded', 'done', {as_json.format('data')},
               CURRENT_TIMESTAMP
        FROM workflow_runs r CROSS JOIN ({steps}) s WHERE r.id >= :first"""),
        {"first": first, "data": "{}"})
    db.session.commit()
    # As autovacuum would after a bulk load (and then not in the middle of the measuring).
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if postgres else "ANALYZE"))


def main():
    small_url, big_url = database_urls()
    print(f"seeding {SMALL:,} customers and {SMALL_STEPS:,} step rows, then {BIG:,} customers "
          f"and {BIG_STEPS:,} step rows…", flush=True)
    small_app, small_client = make_app(small_url, SMALL, SMALL_STEPS)
    big_app, big_client = make_app(big_url, BIG, BIG_STEPS)
    small_urls, big_urls = addresses(small_app), addresses(big_app)
    samples = {(side, name): [] for side in ("small", "big") for name, _ in PAGES}
    for round_ in range(ROUNDS + 1):  # round 0 warms up: templates compiled, caches filled
        for name, _ in PAGES:
            for side, client, urls in (("small", small_client, small_urls),
                                       ("big", big_client, big_urls)):
                taken = timed(client, urls[name])
                if round_:
                    samples[side, name] += taken
    print(f"{'page':<28}{'small':>12}{'big':>12}{'ratio':>8}"
          f"   (median of {ROUNDS * 3}; small: {SMALL:,} customers, {SMALL_STEPS:,} step rows;"
          f" big: {BIG:,} customers, {BIG_STEPS:,} step rows)")
    worst = 0
    for name, _ in PAGES:
        small, big = (statistics.median(samples[side, name]) for side in ("small", "big"))
        worst = max(worst, big / small)
        print(f"{name:<28}{small * 1000:>10.1f}ms{big * 1000:>10.1f}ms{big / small:>8.2f}")
    print(f"worst ratio: {worst:.2f}   (target <= 2)")


if __name__ == "__main__":
    main()
