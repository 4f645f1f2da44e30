"""NetBox IPAM through pynetbox (NETBOX_URL, NETBOX_TOKEN: a v1 token or a v2 `nbt_<key>.<token>`;
pynetbox sends `Token …` or `Bearer …` accordingly).

The prefixes that serve an area are the active ones tagged `area-<area>`, tried in order of
their NetBox id (the order they were added), so an ISP adds capacity by adding a prefix; a
full one (409) passes to the next. The prefix's `gateway` custom field is made a `reserved`
IP object before the first allocation, because NetBox's available-ips skips IP objects only:
without it the gateway would be the first address handed out.

Exactly once across lost replies: every address carries a marker (`lastmile:<key>`) in its
description. Before allocating, the IP that already carries the marker (a 201 that never
arrived, a 502 from a proxy after NetBox created it) is adopted; release deletes every IP
carrying it, so a compensation gives back all it took.

Errors: a full area is a Conflict, a missing tag, a refused token or a bad request a
DomainError with words for the operator; timeouts, connection errors and 5xx retry."""
import ipaddress
from contextlib import contextmanager

import pynetbox
import requests
from pynetbox.core.query import AllocationError

from app.errors import Conflict, DomainError, TransientError


def allocate_ip(config, area, customer_number, description, marker):
    """The marked IP if one exists, else the next free address of the area's prefixes."""
    with _translated():
        api = _api(config)
        prefixes = _area_prefixes(api, area)
        adopted = _marked(api, marker)
        if adopted:
            return _result(adopted[0], _containing(prefixes, adopted[0]))
        tag = _ensure_tag(api, f"customer-{customer_number}".lower())
        for prefix in prefixes:
            _reserve_gateway(api, prefix)
            try:
                address = prefix.available_ips.create({
                    # NetBox keeps 200 characters: the marker must survive a cut.
                    "description": f"{description[:199 - len(marker)]} {marker}",
                    "status": "active",
                    "tags": [tag.id]})
            except AllocationError:
                continue  # full: the next prefix of the area
            return _result(address, prefix)
        raise Conflict(f"NetBox has no free address left in area {area} (prefixes "
                       f"{', '.join(str(p.prefix) for p in prefixes)} are full).")


def release_ip(config, marker, ip_id=None):
    """Delete every IP carrying the marker, and the IP `ip_id` (an address recorded before
    markers existed). Returns how many were deleted."""
    with _translated():
        api = _api(config)
        addresses = {address.id: address for address in _marked(api, marker)}
        if ip_id and ip_id not in addresses:
            known = api.ipam.ip_addresses.get(ip_id)
            if known is not None:
                addresses[ip_id] = known
        for address in addresses.values():
            address.delete()
        return len(addresses)


def _api(config):
    api = pynetbox.api(config["NETBOX_URL"], token=config["NETBOX_TOKEN"])
    session = requests.Session()
    session.request = _with_timeout(session.request, config["HTTP_TIMEOUT_SECONDS"])
    api.http_session = session
    return api


def _with_timeout(request, seconds):
    def call(*args, **kwargs):
        kwargs.setdefault("timeout", seconds)
        return request(*args, **kwargs)
    return call


def _area_prefixes(api, area):
    tag = f"area-{area}"
    try:
        prefixes = list(api.ipam.prefixes.filter(tag=tag, status="active"))
    except pynetbox.RequestError as error:
        if error.req.status_code == 400 and "tag" in _json(error):
            raise DomainError(f"NetBox has no tag {tag}: create it and put it on the active "
                              f"prefixes that serve area {area}.") from error
        raise
    if not prefixes:
        raise DomainError(f"NetBox has no active prefix tagged {tag}.")
    return sorted(prefixes, key=lambda prefix: prefix.id)


def _marked(api, marker):
    """The IPs whose description carries the marker as a word (NetBox's `q` searches
    descriptions by substring: run5:… must not find run55:…), oldest first."""
    found = api.ipam.ip_addresses.filter(q=marker)
    return sorted((a for a in found if marker in (a.description or "").split()),
                  key=lambda address: address.id)


def _gateway(prefix):
    value = (prefix.custom_fields or {}).get("gateway")
    return str(value).split("/")[0] if value else None


def _reserve_gateway(api, prefix):
    """Make the gateway an IP object (status reserved) so that available-ips skips it."""
    gateway = _gateway(prefix)
    if not gateway:
        return
    network = ipaddress.ip_network(str(prefix.prefix))
    if ipaddress.ip_address(gateway) not in network:
        raise DomainError(f"The gateway {gateway} of NetBox prefix {prefix.prefix} is not in "
                          "that prefix: correct its `gateway` custom field.")
    if list(api.ipam.ip_addresses.filter(address=gateway)):
        return
    try:
        api.ipam.ip_addresses.create({
            "address": f"{gateway}/{network.prefixlen}", "status": "reserved",
            "vrf": prefix.vrf.id if getattr(prefix, "vrf", None) else None,
            "description": f"gateway of {prefix.prefix} (reserved by Lastmile)"})
    except pynetbox.RequestError as error:
        # Someone else reserved it between our look and our create: reserved it is.
        if not (error.req.status_code == 400 and "address" in _json(error)):
            raise


def _containing(prefixes, address):
    host = ipaddress.ip_interface(str(address.address)).ip
    return next((p for p in prefixes if host in ipaddress.ip_network(str(p.prefix))), None)


def _result(address, prefix):
    vlan = getattr(prefix, "vlan", None) if prefix else None
    return {"ip_id": address.id, "prefix_id": prefix.id if prefix else None,
            "address": str(address.address).split("/")[0],
            "gateway": _gateway(prefix) if prefix else None,
            "vlan_id": vlan.vid if vlan else None}


def _ensure_tag(api, slug):
    tag = api.extras.tags.get(slug=slug)
    if tag:
        return tag
    try:
        return api.extras.tags.create({"name": slug, "slug": slug})
    except pynetbox.RequestError as error:
        # 400 "already exists": made by a concurrent allocation, or by ours whose reply got lost.
        tag = api.extras.tags.get(slug=slug) if error.req.status_code == 400 else None
        if tag is None:
            raise
        return tag


@contextmanager
def _translated():
    """pynetbox's and requests' errors as DomainError/TransientError with words for people:
    never NetBox's raw JSON, never the token."""
    try:
        yield
    except (AllocationError, pynetbox.RequestError) as error:
        raise _from_status(error.req.status_code, _json(error)) from error
    except requests.Timeout as error:
        raise TransientError("NetBox did not answer in time.") from error
    except requests.RequestException as error:
        raise TransientError(f"NetBox could not be reached ({type(error).__name__}).") \
            from error


def _from_status(status, body):
    detail = body.get("detail") if isinstance(body, dict) else None
    if status in (401, 403):
        return DomainError(f"NetBox refused the token ({detail or status}): check NETBOX_TOKEN "
                           "(a v1 token, or a v2 token written nbt_<key>.<token>).")
    if status == 409:
        return Conflict("NetBox has no free address left in that prefix.")
    if status >= 500:
        return TransientError(f"NetBox answered {status}; it will be tried again.")
    return DomainError(f"NetBox refused the request ({status}): {detail or _fields(body)}")


def _fields(body):
    """NetBox's field errors, {"field": ["message"]} (or a list of such), in one line."""
    items = body if isinstance(body, list) else [body]
    return "; ".join(f"{field}: {' '.join(map(str, _listed(messages)))}"
                     for item in items if isinstance(item, dict)
                     for field, messages in item.items()) or "no reason given"


def _listed(value):
    return value if isinstance(value, list) else [value]


def _json(error):
    try:
        return error.req.json()
    except ValueError:
        return {}
