"""NetBox as it really answers (tests/fakes/netbox.py follows the real server): both token
formats, the gateway, reserved addresses, several prefixes per area, VRFs, a missing tag, a
duplicate tag, configuration mistakes, and replies lost or late after NetBox did the work."""
import threading

import pytest
import requests
from flask import current_app
from sqlalchemy import select

from app.errors import Conflict, DomainError, TransientError
from app.integrations import netbox as adapter
from app.models import ServiceInstance
from app.services.network import netbox_marker
from app.workflows.registry import get_service
from tests.factories import make_customer, make_plan
from tests.fakes import serve
from tests.fakes.fixtures import netbox  # noqa: F401 (fixture)
from tests.fakes.netbox import V1_TOKEN, V2_TOKEN, FakeNetBox


def _allocate(key=None, area="north"):
    customer = make_customer(service_area=area)
    return get_service("network").allocate_resources(
        customer.id, "1 Main St", make_plan(kind="internet").code, idempotency_key=key)


def _customer_ips(fake):
    return sorted(ip["address"] for ip in fake.ips.values() if ip["status"]["value"] == "active")


@pytest.mark.parametrize("token", [V1_TOKEN, V2_TOKEN], ids=["v1", "v2"])
def test_v1_and_v2_tokens_are_accepted_and_a_wrong_one_is_a_clear_error(app, db, netbox,
                                                                         token):
    fake, _ = netbox
    fake.add_prefix("100.64.50.0/29", "area-north")
    app.config["NETBOX_TOKEN"] = token
    assert _allocate("run1:alloc")["ip_address"] == "100.64.50.1"
    v2 = token.startswith("nbt_")
    # pynetbox sends the header NetBox expects for each kind of token.
    assert {scheme for *_, scheme in fake.requests} == {"Bearer" if v2 else "Token"}
    wrong = token[:-4] + "0000"
    app.config["NETBOX_TOKEN"] = wrong
    with pytest.raises(DomainError) as refused:
        _allocate("run2:alloc")
    assert f"Invalid {'v2' if v2 else 'v1'} token" in refused.value.message
    assert "NETBOX_TOKEN" in refused.value.message and wrong not in refused.value.message


def test_the_fake_answers_tokens_as_netbox_does(netbox):
    fake, url = netbox
    get = lambda header: requests.get(f"{url}/api/ipam/prefixes/",  # noqa: E731
                                      headers={"Authorization": header} if header else {})
    assert get(f"Token {V1_TOKEN}").status_code == 200
    assert get(f"Bearer {V2_TOKEN}").status_code == 200
    assert get(None).json() == {"detail": "Authentication credentials were not provided."}
    assert get("Bearer nbt_nodot").json()["detail"].startswith("Invalid authorization header")
    assert get(f"Bearer {V2_TOKEN}x").status_code == 403


def test_the_gateway_is_reserved_in_netbox_and_never_handed_out(db, netbox):
    fake, _ = netbox
    fake.add_prefix("100.64.50.0/29", "area-north", vid=150, gateway="100.64.50.1")
    first = _allocate("run1:alloc")
    assert first["ip_address"] == "100.64.50.2" and first["gateway"] == "100.64.50.1"
    gateway = [ip for ip in fake.ips.values() if ip["address"] == "100.64.50.1/29"]
    assert len(gateway) == 1 and gateway[0]["status"]["value"] == "reserved"
    assert _allocate("run2:alloc")["ip_address"] == "100.64.50.3"
    assert len([ip for ip in fake.ips.values() if ip["address"] == "100.64.50.1/29"]) == 1


def test_the_fake_hands_out_the_gateway_when_it_is_not_an_ip_object(netbox):
    """What hid the bug: NetBox does not read the custom field; only an IP object stops it."""
    fake, url = netbox
    prefix = fake.add_prefix("100.64.50.0/29", "area-north", gateway="100.64.50.1")
    answer = requests.post(f"{url}/api/ipam/prefixes/{prefix}/available-ips/", json={},
                           headers={"Authorization": f"Token {fake.token}"})
    assert answer.status_code == 201 and answer.json()["address"] == "100.64.50.1/29"


def test_reserved_addresses_are_skipped(db, netbox):
    fake, _ = netbox
    fake.add_prefix("100.64.50.0/29", "area-north", gateway="100.64.50.1")
    fake.add_ip("100.64.50.2/29", status="reserved", description="OLT management")
    assert _allocate("run1:alloc")["ip_address"] == "100.64.50.3"


def test_every_active_prefix_of_the_area_is_used_in_id_order(app, db):
    # One result per page, so that the area's prefixes only come all through pagination.
    fake = FakeNetBox(max_page_size=1)
    with serve(fake) as url:
        app.config.update(NETBOX_URL=url, NETBOX_TOKEN=fake.token)
        try:
            fake.add_prefix("100.64.60.0/30", "area-north", vid=160)  # 2 hosts, added first
            fake.add_prefix("100.64.10.0/30", "area-north", vid=110)  # NetBox lists it first
            fake.add_prefix("100.64.70.0/30", "area-north", status="deprecated")
            fake.add_prefix("100.64.80.0/30", "area-south")
            got = [_allocate(f"run{n}:alloc") for n in range(4)]
            assert [g["ip_address"] for g in got] == ["100.64.60.1", "100.64.60.2",
                                                      "100.64.10.1", "100.64.10.2"]
            assert [g["vlan_id"] for g in got] == [160, 160, 110, 110]
            with pytest.raises(Conflict, match="no free address left in area north"):
                _allocate("run9:alloc")
        finally:
            app.config.update(NETBOX_URL=None, NETBOX_TOKEN=None)


@pytest.mark.parametrize("how", ["drop", 502, 2.5], ids=["dropped", "proxy-502", "late"])
def test_a_lost_reply_is_adopted_on_retry_not_allocated_twice(app, db, netbox, how):
    fake, _ = netbox
    fake.add_prefix("100.64.50.0/29", "area-north", gateway="100.64.50.1")
    timeout, app.config["HTTP_TIMEOUT_SECONDS"] = app.config["HTTP_TIMEOUT_SECONDS"], 1
    customer = make_customer(service_area="north")
    plan = make_plan(kind="internet")
    network = get_service("network")
    fake.lose_next_reply("POST", "available-ips", how=how)
    try:
        with pytest.raises(TransientError):
            network.allocate_resources(customer.id, "x", plan.code, idempotency_key="run7:alloc")
        assert _customer_ips(fake) == ["100.64.50.2/29"]  # NetBox did allocate it
        assert db.session.execute(select(ServiceInstance)).first() is None
        again = network.allocate_resources(customer.id, "x", plan.code,
                                           idempotency_key="run7:alloc")  # the engine's retry
    finally:
        app.config["HTTP_TIMEOUT_SECONDS"] = timeout
    assert again["ip_address"] == "100.64.50.2" and _customer_ips(fake) == ["100.64.50.2/29"]
    # A key that merely starts like this one is another allocation.
    other = network.allocate_resources(customer.id, "x", plan.code,
                                       idempotency_key="run7:alloc2")
    assert other["ip_address"] == "100.64.50.3"
    network.release_resources(again["service_id"])
    assert _customer_ips(fake) == ["100.64.50.3/29"]


def test_release_frees_every_address_carrying_the_marker(db, netbox):
    fake, _ = netbox
    fake.add_prefix("100.64.50.0/29", "area-north")
    first = _allocate("run3:alloc")
    # An address the same allocation took in an earlier life (e.g. before a crash).
    fake.add_ip("100.64.50.5/29", status="active", description="C-1 x lastmile:run3:alloc")
    get_service("network").release_resources(first["service_id"])
    assert fake.ips == {}


def test_an_area_without_its_tag_is_a_clear_error(db, netbox):
    fake, url = netbox
    fake.add_prefix("100.64.50.0/29", "area-north")
    answer = requests.get(f"{url}/api/ipam/prefixes/?tag=area-west",
                          headers={"Authorization": f"Token {fake.token}"})
    assert answer.status_code == 400 and answer.json() == {"tag": [
        "Select a valid choice. area-west is not one of the available choices."]}
    with pytest.raises(DomainError) as missing:
        _allocate("run1:alloc", area="west")
    assert "no tag area-west" in missing.value.message and "{" not in missing.value.message
    fake.add_tag("area-west")  # the tag, but no prefix carries it
    with pytest.raises(DomainError, match="no active prefix tagged area-west"):
        _allocate("run2:alloc", area="west")


def test_a_duplicate_tag_is_refused_and_a_lost_tag_reply_is_harmless(db, netbox):
    fake, url = netbox
    fake.add_prefix("100.64.50.0/29", "area-north")
    headers = {"Authorization": f"Token {fake.token}"}
    again = requests.post(f"{url}/api/extras/tags/", json={"name": "area-north",
                                                          "slug": "area-north"},
                          headers=headers)
    assert again.status_code == 400 and again.json() == {
        "name": ["tag with this name already exists."],
        "slug": ["tag with this slug already exists."]}
    # The customer's tag is created but its reply is lost: the retry finds it, makes no other.
    customer, plan = make_customer(service_area="north"), make_plan(kind="internet")
    network = get_service("network")
    fake.lose_next_reply("POST", "/api/extras/tags/")
    with pytest.raises(TransientError):
        network.allocate_resources(customer.id, "x", plan.code, idempotency_key="run1:alloc")
    result = network.allocate_resources(customer.id, "x", plan.code,
                                        idempotency_key="run1:alloc")
    assert result["ip_address"] == "100.64.50.1"
    slug = f"customer-{customer.number.lower()}"
    assert [t["slug"] for t in fake.tags.values()].count(slug) == 1
    assert [t["slug"] for t in fake.ips[result_ip_id(fake)]["tags"]] == [slug]


def result_ip_id(fake):
    return next(i for i, ip in fake.ips.items() if ip["status"]["value"] == "active")


def test_an_unreachable_netbox_is_retried_with_a_plain_message(app, db):
    app.config.update(NETBOX_URL="http://127.0.0.1:9", NETBOX_TOKEN=V1_TOKEN)
    try:
        with pytest.raises(TransientError, match="NetBox could not be reached") as failed:
            _allocate("run1:alloc")
        assert V1_TOKEN not in failed.value.message
    finally:
        app.config.update(NETBOX_URL=None, NETBOX_TOKEN=None)


# -- round 2 (issue 24): what a real NetBox 4.6.8 showed --

def test_a_prefix_in_a_vrf_reserves_its_gateway_in_that_vrf(db, netbox):
    """The gateway 100.64.80.1 of a prefix in VRF cgnat-b is reserved in cgnat-b although the
    global table has a 100.64.80.1 of its own; customers get addresses of cgnat-b only."""
    fake, _ = netbox
    cgnat = fake.add_vrf("cgnat-b", rd="64500:80")
    fake.add_prefix("100.64.80.0/29", "area-north", gateway="100.64.80.1", vrf=cgnat)
    fake.add_ip("100.64.80.1/24", status="active", description="another network's router")
    fake.add_ip("100.64.80.2/24", status="active", description="global, not in cgnat-b")
    first = _allocate("run1:alloc")
    assert first["ip_address"] == "100.64.80.2" and first["gateway"] == "100.64.80.1"
    assert fake.ips_in(cgnat) == ["100.64.80.1/29", "100.64.80.2/29"]
    assert fake.ips_in(cgnat, status="reserved") == ["100.64.80.1/29"]
    assert fake.ips_in(None) == ["100.64.80.1/24", "100.64.80.2/24"]  # untouched
    # A retry finds its address in the VRF and adopts it, with the VRF's prefix and gateway.
    service = db.session.get(ServiceInstance, first["service_id"])
    again = adapter.allocate_ip(current_app.config, "north", "C-1", "x", netbox_marker(service))
    assert (again["address"], again["gateway"]) == ("100.64.80.2", "100.64.80.1")
    assert fake.ips_in(cgnat) == ["100.64.80.1/29", "100.64.80.2/29"]


def test_slow_netbox_leaves_one_address_and_the_service_holds_it(app, db, netbox):
    """NetBox carries the allocation out after the client's timeout (it holds its
    available-ips lock meanwhile): the retry waits, and whatever it then finds or makes is
    reconciled to one address, the oldest, which the service records."""
    fake, _ = netbox
    fake.add_prefix("100.64.50.0/29", "area-north", gateway="100.64.50.1")
    customer, plan = make_customer(service_area="north"), make_plan(kind="internet")
    network = get_service("network")
    timeout, app.config["HTTP_TIMEOUT_SECONDS"] = app.config["HTTP_TIMEOUT_SECONDS"], 1
    fake.slow_down_next("POST", "available-ips", seconds=2.5)
    try:
        with pytest.raises(TransientError, match="did not answer in time"):
            network.allocate_resources(customer.id, "x", plan.code, idempotency_key="run9:alloc")
        assert _customer_ips(fake) == []  # not yet: NetBox is still at it
        result = network.allocate_resources(customer.id, "x", plan.code,
                                            idempotency_key="run9:alloc")  # the retry
    finally:
        app.config["HTTP_TIMEOUT_SECONDS"] = timeout
    assert _customer_ips(fake) == ["100.64.50.2/29"]
    (kept,) = [ip for ip in fake.ips.values() if ip["status"]["value"] == "active"]
    assert "lastmile:run9:alloc" in kept["description"].split()
    service = db.session.get(ServiceInstance, result["service_id"])
    assert (service.ip_address, service.netbox_ip_id) == ("100.64.50.2", kept["id"])


def test_two_addresses_with_one_marker_are_reconciled_to_the_oldest(db, netbox):
    """What a late allocation and its retry leave behind, whichever order they landed in."""
    fake, _ = netbox
    fake.add_prefix("100.64.50.0/29", "area-north")
    fake.add_ip("100.64.50.4/29", status="active", description="C-1 c-1-1 lastmile:run4:alloc")
    fake.add_ip("100.64.50.3/29", status="active", description="C-1 c-1-1 lastmile:run4:alloc")
    result = _allocate("run4:alloc")
    assert result["ip_address"] == "100.64.50.4"  # the lowest id, not the lowest address
    assert _customer_ips(fake) == ["100.64.50.4/29"]


def test_ten_allocations_for_one_new_customer_at_once_need_no_retry(app, db, netbox):
    """Their tag creations race: NetBox answers all but one with a 500 naming the tag's
    unique constraint, which means "it exists now": look again, no retry needed."""
    fake, _ = netbox
    fake.add_prefix("100.64.50.0/27", "area-north")
    fake.save_seconds = 0.3  # all ten pass NetBox's uniqueness check before any INSERT
    got, failed = [], []

    def allocate(n):
        with app.app_context():
            try:
                got.append(adapter.allocate_ip(app.config, "north", "C-77", "C-77",
                                               f"lastmile:run{n}:alloc")["address"])
            except Exception as error:  # noqa: BLE001 - asserted below
                failed.append(error)
    threads = [threading.Thread(target=allocate, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failed == [] and len(set(got)) == 10
    assert [t["slug"] for t in fake.tags.values()].count("customer-c-77") == 1


def test_netbox_url_ending_in_api_says_what_to_fix(app, db, netbox):
    fake, url = netbox
    fake.add_prefix("100.64.50.0/29", "area-north")
    app.config["NETBOX_URL"] = f"{url}/api/"
    with pytest.raises(DomainError) as wrong:
        _allocate("run1:alloc")
    assert "NETBOX_URL ends in /api" in wrong.value.message
    assert "without /api" in wrong.value.message
    # Any other address that is not NetBox's says so too (a web server's 404 page).
    app.config["NETBOX_URL"] = f"{url}/netbox"
    with pytest.raises(DomainError, match="NETBOX_URL does not lead to NetBox's REST API"):
        _allocate("run2:alloc")


@pytest.mark.parametrize("refusal", ["read-only token", "no ipam.add_ipaddress"])
def test_a_token_that_may_not_write_says_which_permission_is_missing(db, netbox, refusal):
    fake, _ = netbox
    fake.add_prefix("100.64.50.0/29", "area-north", gateway="100.64.50.1")
    if refusal == "read-only token":
        fake.write_enabled = False
        missing, doing = "extras.add_tag", "add tags"  # the first write: the customer's tag
    else:
        fake.denied.add("ipam.add_ipaddress")
        missing, doing = "ipam.add_ipaddress", "add IP addresses"
    with pytest.raises(DomainError) as refused:
        _allocate("run1:alloc")
    message = refused.value.message
    assert f"may not {doing}" in message and missing in message
    assert "Write enabled" in message and fake.token not in message


def test_a_missing_gateway_custom_field_says_how_to_create_it(app, db):
    fake = FakeNetBox(custom_fields=())  # nobody created the custom field
    with serve(fake) as url:
        app.config.update(NETBOX_URL=url, NETBOX_TOKEN=fake.token)
        try:
            fake.add_prefix("100.64.50.0/29", "area-north", gateway="100.64.50.1")
            with pytest.raises(DomainError) as missing:
                _allocate("run1:alloc")
        finally:
            app.config.update(NETBOX_URL=None, NETBOX_TOKEN=None)
    assert "no custom field `gateway` on prefixes" in missing.value.message
    assert "IPAM > Prefix" in missing.value.message
    assert fake.ips == {}  # nothing allocated without knowing the gateway
