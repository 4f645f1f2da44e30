"""The NetBox stand-in answers as NetBox v4.6.8 does where it used to differ (issue 24), each
checked against NetBox's source (named in tests/fakes/netbox.py's docstring): VRFs, a full
prefix's 409 before the body is validated, a description over 200 characters, field errors
as a dict, a duplicate tag created twice at once, a path that is no API URL, and a token that
may not write. Raw HTTP, as any client would see it."""
import threading

import pytest
import requests

from tests.fakes.fixtures import netbox  # noqa: F401 (fixture)


@pytest.fixture()
def api(netbox):  # noqa: F811
    fake, url = netbox
    session = requests.Session()
    session.headers["Authorization"] = f"Token {fake.token}"
    return fake, lambda method, path, **kw: session.request(method, f"{url}/api/{path}", **kw)


def test_vrfs_scope_available_ips_duplicates_and_filters(api):
    fake, call = api
    cgnat = fake.add_vrf("cgnat-b", rd="64500:80")
    prefix = fake.add_prefix("100.64.80.0/29", "area-north", vrf=cgnat)
    fake.add_ip("100.64.80.1/24", status="active")  # the global table's, not cgnat-b's
    # available-ips counts only the prefix's VRF as taken, and puts the address in it.
    made = call("POST", f"ipam/prefixes/{prefix}/available-ips/", json={}).json()
    assert made["address"] == "100.64.80.1/29" and made["vrf"]["name"] == "cgnat-b"
    # vrf_id filters, `null` being the global table.
    listed = lambda **q: [ip["address"] for ip in call(  # noqa: E731
        "GET", "ipam/ip-addresses/", params=q).json()["results"]]
    assert listed(address="100.64.80.1", vrf_id=cgnat) == ["100.64.80.1/29"]
    assert listed(address="100.64.80.1", vrf_id="null") == ["100.64.80.1/24"]
    assert listed(address="100.64.80.1") == ["100.64.80.1/24", "100.64.80.1/29"]
    assert call("GET", "ipam/ip-addresses/", params={"vrf_id": 999}).json() == {
        "vrf_id": ["Select a valid choice. 999 is not one of the available choices."]}
    # A duplicate is refused within a VRF, not across VRFs.
    again = call("POST", "ipam/ip-addresses/", json={"address": "100.64.80.1/29", "vrf": cgnat})
    assert again.status_code == 400 and again.json() == {"address": [
        "Duplicate IP address found in VRF cgnat-b (64500:80): 100.64.80.1/29"]}
    other = call("POST", "ipam/ip-addresses/", json={"address": "100.64.80.2/29"})
    assert other.status_code == 201 and other.json()["vrf"] is None


def test_a_full_prefix_is_409_before_the_body_is_validated(api):
    fake, call = api
    prefix = fake.add_prefix("100.64.81.0/31", "area-north", is_pool=True)
    fake.add_ip("100.64.81.0/31", status="active")
    fake.add_ip("100.64.81.1/31", status="active")
    full = call("POST", f"ipam/prefixes/{prefix}/available-ips/",
                json={"status": "no-such-status", "description": "x" * 300})
    assert full.status_code == 409 and full.json() == {
        "detail": "Insufficient resources are available to satisfy the request"}


def test_a_description_over_200_characters_is_refused(api):
    fake, call = api
    prefix = fake.add_prefix("100.64.82.0/29", "area-north")
    long = call("POST", f"ipam/prefixes/{prefix}/available-ips/", json={"description": "x" * 201})
    assert long.status_code == 400 and long.json() == {
        "description": ["Ensure this field has no more than 200 characters."]}
    assert call("POST", f"ipam/prefixes/{prefix}/available-ips/",
                json={"description": "x" * 200}).status_code == 201


def test_a_bad_status_is_a_dict_of_field_errors(api):
    fake, call = api
    prefix = fake.add_prefix("100.64.83.0/29", "area-north")
    bad = call("POST", f"ipam/prefixes/{prefix}/available-ips/", json={"status": "bogus"})
    assert bad.status_code == 400 and bad.json() == {"status": ['"bogus" is not a valid choice.']}


def test_a_tag_created_twice_at_once_is_a_500_naming_the_constraint(api):
    fake, call = api
    fake.save_seconds = 0.3  # both requests pass the uniqueness check before either saves
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(call(
        "POST", "extras/tags/", json={"name": "customer-c-9", "slug": "customer-c-9"})))
        for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [201, 500]
    error = next(a for a in answers if a.status_code == 500).json()
    assert error["exception"] == "IntegrityError"
    assert 'unique constraint "extras_tag_name_key"' in error["error"]
    # One after the other, NetBox's own check answers 400.
    again = call("POST", "extras/tags/", json={"name": "customer-c-9", "slug": "customer-c-9"})
    assert again.status_code == 400 and again.json()["name"] == [
        "tag with this name already exists."]


def test_a_path_no_url_matches_is_an_html_404(api):
    _, call = api
    answer = call("GET", "api/ipam/prefixes/")  # NETBOX_URL ending in /api: /api/api/...
    assert answer.status_code == 404
    assert answer.headers["Content-Type"].startswith("text/html")


def test_a_token_that_may_not_write_is_403_with_drfs_message(api):
    fake, call = api
    fake.write_enabled = False
    assert call("GET", "extras/tags/").status_code == 200  # reading is allowed
    refused = call("POST", "extras/tags/", json={"name": "x", "slug": "x"})
    assert refused.status_code == 403 and refused.json() == {
        "detail": "You do not have permission to perform this action."}
