"""The rad* tables in a database of their own (RADIUS_DATABASE_URL)."""
import tempfile

from sqlalchemy import create_engine, func, select, text

from app.models import RadCheck, ServiceInstance
from app.workflows.registry import get_service
from tests.factories import make_customer, make_plan


def test_subscribers_go_to_the_radius_database(app, db):
    url = f"sqlite:///{tempfile.mkdtemp()}/radius.db"
    app.config["RADIUS_DATABASE_URL"] = url
    try:
        assert app.test_cli_runner().invoke(args=["radius", "init-db"]).exit_code == 0
        plan = make_plan(kind="internet")
        customer = make_customer()
        service = ServiceInstance(customer_id=customer.id, plan_id=plan.id,
                                  pppoe_username="c-9-1", ip_address="100.64.1.9")
        db.session.add(service)
        db.session.commit()
        radius = get_service("radius")
        first = radius.create_subscriber(customer.id, service.id, "c-9-1",
                                         plan.bandwidth_profile.code, idempotency_key="k1")
        assert radius.create_subscriber(customer.id, service.id, "c-9-1",
                                        plan.bandwidth_profile.code) == first  # idempotent
        with create_engine(url).connect() as separate:
            assert separate.execute(text(
                "SELECT count(*) FROM radcheck WHERE username='c-9-1'")).scalar() == 2
            assert separate.execute(text("SELECT value FROM radgroupreply")).scalar()
        assert db.session.execute(select(func.count(RadCheck.id))).scalar() == 0
        assert radius.pppoe_password("c-9-1")
        radius.delete_subscriber("c-9-1")
        with create_engine(url).connect() as separate:
            assert separate.execute(text("SELECT count(*) FROM radcheck")).scalar() == 0
    finally:
        app.config["RADIUS_DATABASE_URL"] = None
