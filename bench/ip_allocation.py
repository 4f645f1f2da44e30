"""Local IPAM: the cost of one allocation with a nearly empty pool against a nearly full one
(65,000 addresses), measured in the same run. A ratio near 1 means the cost does not grow
with the addresses already given out.

    .venv/bin/python bench/ip_allocation.py [POOL_SIZE] [SAMPLES]"""
import ipaddress
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SIZE = int(sys.argv[1]) if len(sys.argv) > 1 else 65_000
SAMPLES = int(sys.argv[2]) if len(sys.argv) > 2 else 50
os.environ.setdefault("DATABASE_URL", f"sqlite:///{tempfile.mkdtemp()}/ip.db")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")


def main():
    from flask_migrate import upgrade
    from sqlalchemy import insert, update

    from app import create_app
    from app.extensions import db
    from app.models import Customer, IpAddress, IpPool, Plan
    from app.workflows.registry import get_service

    app = create_app()
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        pool = IpPool(name="bench", prefix="10.0.0.0/16", gateway="10.0.0.1",
                      service_area="bench")
        plan = Plan(code="bench", name="Bench", kind="internet", price=1)
        customer = Customer(number="C-BENCH", name="Bench", email="b@x", service_area="bench")
        db.session.add_all([pool, plan, customer])
        db.session.flush()
        hosts = list(ipaddress.ip_network("10.0.0.0/16").hosts())[1:SIZE + 1]
        db.session.execute(insert(IpAddress), [{"pool_id": pool.id, "address": str(h)}
                                               for h in hosts])
        db.session.commit()
        network = get_service("network")

        def sample():
            times = []
            for _ in range(SAMPLES):
                started = time.perf_counter()
                network.allocate_resources(customer.id, "x", "bench")
                times.append(time.perf_counter() - started)
            return statistics.median(times)

        empty = sample()
        # Give out all but the last addresses in one statement (as if by earlier services;
        # the unique column wants a distinct value each), then measure again.
        free_ids = db.session.execute(db.select(IpAddress.id).where(
            IpAddress.service_instance_id.is_(None)).order_by(IpAddress.id)).scalars().all()
        taken = free_ids[:-SAMPLES - 10]
        db.session.commit()
        if db.engine.dialect.name == "sqlite":  # the stand-in services do not exist
            db.session.execute(db.text("PRAGMA foreign_keys=OFF"))
        else:
            db.session.execute(db.text("SET session_replication_role = replica"))
        for start in range(0, len(taken), 5000):
            db.session.execute(update(IpAddress).where(IpAddress.id.in_(
                taken[start:start + 5000])).values(service_instance_id=-IpAddress.id))
        db.session.commit()
        full = sample()
    print(f"allocation in a pool of {SIZE} addresses ({os.environ['DATABASE_URL'].split(':')[0]})")
    print(f"nearly empty: {empty * 1000:7.2f} ms")
    print(f"nearly full : {full * 1000:7.2f} ms")
    print(f"ratio       : {full / empty:7.2f}")


if __name__ == "__main__":
    main()
