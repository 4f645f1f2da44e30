"""List and detail pages at 100,000 customers, against the same pages at 1,000 customers
measured in the same run. Prints each page's time and the ratio: a ratio near 1 means the
page's cost does not grow with the table (pagination, indexes, no N+1).

    .venv/bin/python bench/pages_at_scale.py [BIG] [SMALL]

Uses a temporary SQLite file (or DATABASE_URL) and REDIS_URL (else 127.0.0.1:6379/14)."""
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
os.environ.setdefault("DATABASE_URL", f"sqlite:///{tempfile.mkdtemp()}/pages.db")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")

PAGES = [("customers list", "/staff/customers"),
         ("customers page 40", "/staff/customers?page=40"),
         ("customer search", "/staff/customers?q=customer%2077"),
         ("customer detail", "/staff/customers/{last}"),
         ("dashboard", "/staff/")]


def timed(client, url, repeat=7):
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(samples)


def measure(app, client):
    from app.extensions import db
    from app.models import Customer
    with app.app_context():
        last = db.session.execute(db.select(db.func.max(Customer.id))).scalar()
    return {name: timed(client, url.format(last=last)) for name, url in PAGES}


def main():
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.models import User
    from app.portals.passwords import hash_password
    from app.seed import seed_bulk_customers

    app = create_app()
    app.config["WTF_CSRF_ENABLED"] = False
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        db.session.add(User(email="bench@example.test", name="Bench", portal="staff",
                            role="admin", password_hash=hash_password("bench-password")))
        db.session.commit()
        seed_bulk_customers(SMALL)
    client = app.test_client()
    client.post("/staff/login", data={"email": "bench@example.test",
                                      "password": "bench-password"})
    small = measure(app, client)
    with app.app_context():
        seed_bulk_customers(BIG - SMALL)
    big = measure(app, client)
    print(f"{'page':<20}{SMALL:>10} rows{BIG:>10} rows{'ratio':>8}")
    for name, _ in PAGES:
        print(f"{name:<20}{small[name] * 1000:>11.1f}ms{big[name] * 1000:>11.1f}ms"
              f"{big[name] / small[name]:>8.2f}")


if __name__ == "__main__":
    main()
