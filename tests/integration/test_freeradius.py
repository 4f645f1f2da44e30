"""A stock Debian FreeRADIUS, pointed at the test database by deploy/freeradius/configure.sh,
authenticates the subscribers the installation workflow provisions (real Access-Requests with
radclient), and rejects them again once the run is cancelled; writes accounting (Start,
Interim-Update, Stop) to radacct; and answers a subscriber suspended by dunning (W6) with the
walled-garden rate."""
import shutil
import socket
import subprocess
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.models import Appointment, IpAddress, IpPool, ServiceInstance, StepRun, WorkflowRun
from app.workflows import engine
from app.workflows.registry import get_service
from tests.conftest import DATABASE_URL, ROOT, wait_until
from tests.factories import make_customer, make_plan, make_site_survey, make_technician
from tests.integration.test_dunning import nas  # noqa: F401 (the NAS stand-in fixture)

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


def accounting(port, attributes):
    """An Accounting-Request as a NAS sends it, to FreeRADIUS's accounting port."""
    answer = subprocess.run(
        ["radclient", "-x", "-r", "1", "-t", "3", f"127.0.0.1:{port + 1}", "acct", "testing123"],
        input=", ".join(f"{k} = {v}" for k, v in attributes.items()) + "\n",
        capture_output=True, text=True, timeout=20)
    return answer.stdout + answer.stderr


def test_accounting_start_interim_and_stop_are_written_to_radacct(db, freeradius):
    from app.models import RadAcct
    from tests.factories import make_internet_service
    service = make_internet_service(ip_address="100.64.91.2")
    session = {"User-Name": f'"{service.pppoe_username}"', "Acct-Session-Id": '"acct-1"',
               "NAS-IP-Address": "10.0.0.1", "Framed-IP-Address": "100.64.91.2",
               "NAS-Port-Id": '"pppoe-1"'}
    assert "Accounting-Response" in accounting(freeradius, {**session,
                                                            "Acct-Status-Type": "Start"})
    db.session.expire_all()
    row = db.session.execute(select(RadAcct)).scalar_one()
    assert row.username == service.pppoe_username and row.acctstoptime is None
    assert str(row.nasipaddress) == "10.0.0.1" and str(row.framedipaddress) == "100.64.91.2"
    assert get_service("radius").open_session(service.pppoe_username).radacctid == row.radacctid

    assert "Accounting-Response" in accounting(freeradius, {
        **session, "Acct-Status-Type": "Interim-Update", "Acct-Session-Time": "600",
        "Acct-Input-Octets": "1000000", "Acct-Output-Octets": "25000000"})
    db.session.expire_all()
    row = db.session.execute(select(RadAcct)).scalar_one()
    assert (row.acctinputoctets, row.acctoutputoctets) == (1_000_000, 25_000_000)
    assert row.acctupdatetime is not None and row.acctstoptime is None

    assert "Accounting-Response" in accounting(freeradius, {
        **session, "Acct-Status-Type": "Stop", "Acct-Session-Time": "900",
        "Acct-Input-Octets": "2000000", "Acct-Output-Octets": "50000000",
        "Acct-Terminate-Cause": "User-Request"})
    db.session.expire_all()
    row = db.session.execute(select(RadAcct)).scalar_one()
    assert row.acctstoptime is not None and row.acctsessiontime == 900
    assert row.acctoutputoctets == 50_000_000 and row.acctterminatecause == "User-Request"
    assert get_service("radius").open_session(service.pppoe_username) is None
    today = row.acctstoptime.date()
    usage = get_service("radius").usage_by_day(service.pppoe_username, today,
                                               today + timedelta(days=1))
    assert usage == [(today, 50_000_000, 2_000_000)]


def test_a_suspended_subscriber_is_accepted_with_the_walled_garden_rate(db, workers,
                                                                        freeradius, nas):
    """W6 never paid: FreeRADIUS's accounting names the session, the NAS gets one
    Disconnect-Request for it, and the next Access-Accept carries the suspended rate; paid,
    the plan's rate comes back."""
    from app.models import DunningCase
    from app.workflows import dunning_signals
    from jobs.dunning import advance_dunning, start_dunning
    from tests.factories import make_internet_service, make_invoice
    service = make_internet_service(ip_address="100.64.92.2")
    username = service.pppoe_username
    password = get_service("radius").pppoe_password(username)
    profile = service.plan.bandwidth_profile
    normal_rate = f"{profile.upload_kbps // 1000}M/{profile.download_kbps // 1000}M"
    assert f'Mikrotik-Rate-Limit = "{normal_rate}"' in access_request(freeradius, username,
                                                                       password)
    accounting(freeradius, {"User-Name": f'"{username}"', "Acct-Session-Id": '"bras-77"',
                            "NAS-IP-Address": nas.address, "Framed-IP-Address": "100.64.92.2",
                            "Acct-Status-Type": "Start"})
    nas.open_session(username, "bras-77")
    invoice = make_invoice(service.customer, due_days_ago=10)
    from tests.integration.test_dunning import started_run
    run_id = started_run(db, start_dunning)

    def due_now():
        db.session.expire_all()
        case = db.session.execute(select(DunningCase)).scalar_one()
        case.next_due_at = datetime.utcnow() - timedelta(seconds=1)
        db.session.commit()
        return run_id in advance_dunning()["advanced"]

    def step(name):
        db.session.expire_all()
        return db.session.execute(select(StepRun.status).filter_by(run_id=run_id, name=name)
                                  ).scalar()
    wait_until(lambda: step("await_payment") == "waiting", timeout=60)
    assert due_now()
    wait_until(lambda: step("await_payment_again") == "waiting", timeout=60)
    assert due_now()
    wait_until(lambda: step("await_payment_while_suspended") == "waiting", timeout=60,
               message="the suspension")
    assert [r["Acct-Session-Id"] for r in nas.requests] == ["bras-77"]
    accepted = access_request(freeradius, username, password)
    assert "Access-Accept" in accepted and 'Mikrotik-Rate-Limit = "64k/64k"' in accepted

    get_service("billing").record_bank_transfer(invoice.id, "LATE-1")
    assert dunning_signals.invoice_paid(invoice.id)
    wait_until(lambda: step("restore_service") == "succeeded", timeout=60)
    assert f'Mikrotik-Rate-Limit = "{normal_rate}"' in access_request(freeradius, username,
                                                                       password)
