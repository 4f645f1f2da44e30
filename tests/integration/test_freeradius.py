"""A stock Debian FreeRADIUS, pointed at the test database by deploy/freeradius/configure.sh,
authenticates the subscribers the installation workflow provisions (real Access-Requests with
radclient), and rejects them again once the run is cancelled."""
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import select

from app.models import Appointment, IpAddress, IpPool, ServiceInstance, WorkflowRun
from app.workflows import engine
from app.workflows.registry import get_service
from tests.conftest import DATABASE_URL, ROOT, wait_until
from tests.factories import make_customer, make_plan, make_site_survey, make_technician

pytestmark = pytest.mark.postgres_only
RADDB = Path("/etc/freeradius/3.0")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture()
def freeradius(db):
    if not (shutil.which("freeradius") and shutil.which("radclient") and RADDB.exists()):
        pytest.skip("FreeRADIUS is not installed (apt-get install freeradius "
                    "freeradius-postgresql freeradius-utils)")
    directory = Path(tempfile.mkdtemp(prefix="raddb-")) / "raddb"
    shutil.copytree(RADDB, directory, symlinks=True)
    port = free_port()
    subprocess.run([str(ROOT / "deploy/freeradius/configure.sh"), DATABASE_URL, str(directory),
                    "--port", str(port), "--no-inner-tunnel", "--as-current-user"],
                   check=True, capture_output=True)
    log = open(directory / "radiusd.log", "w+")
    server = subprocess.Popen(["freeradius", "-f", "-X", "-d", str(directory)],
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: "Ready to process requests" in (directory / "radiusd.log")
                   .read_text(errors="replace") or server.poll() is not None, timeout=30,
                   message="FreeRADIUS to start")
        assert server.poll() is None, (directory / "radiusd.log").read_text()[-3000:]
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


def access_request(port, username, password):
    answer = subprocess.run(
        ["radclient", "-x", "-r", "1", "-t", "3", f"127.0.0.1:{port}", "auth", "testing123"],
        input=f'User-Name = "{username}", User-Password = "{password}"\n',
        capture_output=True, text=True, timeout=20)
    return answer.stdout + answer.stderr


def test_freeradius_authenticates_provisioned_subscribers(db, workers, freeradius):
    plan = make_plan(kind="internet", code="fibre-radius")
    customer = make_customer(service_area="north")
    make_site_survey(customer)
    make_technician(areas=("north",))
    pool = IpPool(name="radius", prefix="100.64.88.0/29", gateway="100.64.88.1",
                  service_area="north")
    db.session.add(pool)
    db.session.flush()
    db.session.add(IpAddress(pool_id=pool.id, address="100.64.88.2"))
    db.session.commit()
    run = engine.start_run("isp_ticket_to_deployment", {
        "customer_id": customer.id, "bandwidth_plan": plan.code, "service_location": "x"})

    def status(*wanted):
        db.session.expire_all()
        found = db.session.get(WorkflowRun, run.id)
        return found if found.status in wanted else None
    wait_until(lambda: status("waiting", "failed"), timeout=60, message="the run to wait")
    service = db.session.execute(select(ServiceInstance)).scalar_one()
    username = service.pppoe_username
    password = get_service("radius").pppoe_password(username)

    accepted = access_request(freeradius, username, password)
    assert "Access-Accept" in accepted, accepted
    assert "Framed-IP-Address = 100.64.88.2" in accepted
    rate = f"{plan.bandwidth_profile.upload_kbps // 1000}M/" \
           f"{plan.bandwidth_profile.download_kbps // 1000}M"
    assert f'Mikrotik-Rate-Limit = "{rate}"' in accepted

    assert "Access-Reject" in access_request(freeradius, username, password + "x")

    engine.cancel_run(run.id)
    wait_until(lambda: status("cancelled", "failed"), timeout=60, message="compensation")
    assert "Access-Reject" in access_request(freeradius, username, password)
    assert db.session.execute(select(Appointment.status)).scalar() == "cancelled"
