"""NetBox IPAM through pynetbox (NETBOX_URL, NETBOX_TOKEN: a v1 token or a v2 `nbt_<key>.<token>`;
pynetbox sends `Token …` or `Bearer …` accordingly).

The prefixes that serve an area are the active ones tagged `area-<area>`, tried in order of
their NetBox id (the order they were added), so an ISP adds capacity by adding a prefix; a
full one (409) passes to the next. The prefix's `gateway` custom field is made a `reserved`
IP object before the first allocation, because NetBox's available-ips skips IP objects only:
without it the gateway would be the first address handed out.

VRFs: a prefix in a VRF allocates from that VRF (NetBox's available-ips gives the new address
the prefix's VRF and counts only that VRF's addresses as taken), so every look-up of an address
is made in the prefix's VRF too (`vrf_id`, `vrf_id=null` for the global table): the gateway
100.64.80.1 of a prefix in VRF cgnat-b is reserved in cgnat-b even when the global table has a
100.64.80.1 of its own.

Exactly once across lost and late replies: every address carries a marker (`lastmile:<key>`)
in its description. Before allocating, the addresses that carry the marker (a 201 that never
arrived, a 502 from a proxy after NetBox created it) are looked up; after a timeout the retry
first waits (in_doubt.settle) so that an allocation NetBox carries out late has landed. Found
or made, the marked addresses are then reconciled: the oldest (lowest id) is kept, any other
deleted, and the kept one is the result. Release deletes every address carrying the marker,
so a compensation gives back all it took.

Errors: a full area is a Conflict; a missing tag or custom field, a refused token, a token that
may not write, a NETBOX_URL that does not lead to NetBox's API, or a bad request is a
DomainError that says what to fix; timeouts, connection errors and 5xx retry."""
import ipaddress
from contextlib import contextmanager
from urllib.parse import urlsplit

import pynetbox
import requests
from pynetbox.core.query import AllocationError

from app.errors import Conflict, DomainError, TransientError
from app.integrations import in_doubt

# What NetBox's database says when two creations of one tag raced past its serializer's
# uniqueness check (a 500, an IntegrityError): the tag exists, look again.
TAG_CONSTRAINTS = ("extras_tag_name_key", "extras_tag_slug_key")


def allocate_ip(config, area, customer_number, description, marker):
    """The address an earlier attempt under this marker got, else the next free address of
    the area's prefixes; reconciled, so that one address carries the marker."""
    _check_url(config)
    with _translated():
        api = _api(config)
        prefixes = _area_prefixes(api, area)
        in_doubt.settle(marker, config["HTTP_TIMEOUT_SECONDS"])
        if not _keep_oldest(api, marker):
            _allocate(api, area, prefixes, f"customer-{customer_number}".lower(),
                      description, marker)
        kept = _keep_oldest(api, marker)
        in_doubt.clear(marker)
        return _result(kept, _containing(prefixes, kept))


def release_ip(config, marker, ip_id=None):
    """Delete every IP carrying the marker, and the IP `ip_id` (an address recorded before
    markers existed). Returns how many were deleted."""
    _check_url(config)
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


def _allocate(api, area, prefixes, tag_slug, description, marker):
    tag = _ensure_tag(api, tag_slug)
    for prefix in prefixes:
        _reserve_gateway(api, prefix)
        try:
            return prefix.available_ips.create({
                # NetBox keeps 200 characters: the marker must survive a cut.
                "description": f"{description[:199 - len(marker)]} {marker}",
                "status": "active",
                "tags": [tag.id]})
        except AllocationError:
            continue  # full: the next prefix of the area
        except (requests.RequestException, pynetbox.RequestError) as error:
            if in_doubt.may_land_late(error):
                in_doubt.note(marker)
            raise
    raise Conflict(f"NetBox has no free address left in area {area} (prefixes "
                   f"{', '.join(str(p.prefix) for p in prefixes)} are full).")


def _keep_oldest(api, marker):
    """Reconcile: of the IPs carrying the marker (a late allocation and its retry's may both
    have landed) the oldest, lowest id, is kept and returned; any other is deleted."""
    marked = _marked(api, marker)
    for extra in marked[1:]:
        extra.delete()
    return marked[0] if marked else None


def _check_url(config):
    path = urlsplit(config["NETBOX_URL"]).path.rstrip("/")
    if path.endswith("/api"):
        raise DomainError(f"NETBOX_URL ends in /api ({config['NETBOX_URL']}): set it to "
                          "NetBox's own address without /api (e.g. https://netbox.example.net)"
                          "; pynetbox adds /api itself.")


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
    fields = prefix.custom_fields or {}
    if "gateway" not in fields:  # NetBox lists every custom field defined, null when unset
        raise DomainError(
            "NetBox has no custom field `gateway` on prefixes: create it (Customization > "
            "Custom Fields: name gateway, type Text, object type IPAM > Prefix) and fill in "
            f"the gateway of prefix {prefix.prefix} and the area's other prefixes.")
    value = fields["gateway"]
    return str(value).split("/")[0] if value else None


def _vrf_id(record):
    """The id of the VRF a prefix or IP address is in; None for the global table."""
    vrf = getattr(record, "vrf", None)
    return vrf.id if vrf else None


def _reserve_gateway(api, prefix):
    """Make the gateway an IP object (status reserved) in the prefix's VRF, so that
    available-ips skips it."""
    gateway = _gateway(prefix)
    if not gateway:
        return
    network = ipaddress.ip_network(str(prefix.prefix))
    if ipaddress.ip_address(gateway) not in network:
        raise DomainError(f"The gateway {gateway} of NetBox prefix {prefix.prefix} is not in "
                          "that prefix: correct its `gateway` custom field.")
    vrf = _vrf_id(prefix)
    if list(api.ipam.ip_addresses.filter(address=gateway, vrf_id=vrf or "null")):
        return
    try:
        api.ipam.ip_addresses.create({
            "address": f"{gateway}/{network.prefixlen}", "status": "reserved", "vrf": vrf,
            "description": f"gateway of {prefix.prefix} (reserved by Lastmile)"})
    except pynetbox.RequestError as error:
        # Someone else reserved it between our look and our create: reserved it is.
        if not (error.req.status_code == 400 and "address" in _json(error)):
            raise


def _containing(prefixes, address):
    host = ipaddress.ip_interface(str(address.address)).ip
    return next((p for p in prefixes if host in ipaddress.ip_network(str(p.prefix))
                 and _vrf_id(p) == _vrf_id(address)), None)


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
        # Made meanwhile by a concurrent allocation (NetBox answers 400 "already exists", or
        # 500 when both passed its check at once), or by ours whose reply got lost: look again.
        taken = error.req.status_code == 400 or (
            error.req.status_code == 500 and any(c in error.req.text for c in TAG_CONSTRAINTS))
        tag = api.extras.tags.get(slug=slug) if taken else None
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
        raise _from_status(error.req, _json(error)) from error
    except requests.Timeout as error:
        raise TransientError("NetBox did not answer in time.") from error
    except requests.RequestException as error:
        raise TransientError(f"NetBox could not be reached ({type(error).__name__}).") \
            from error


def _from_status(response, body):
    status = response.status_code
    detail = body.get("detail") if isinstance(body, dict) else None
    if status == 403 and "permission" in str(detail):
        doing, permission = _permission(response.request)
        return DomainError(f"NetBox's token may not {doing} ({detail}): in NetBox, give the "
                           f"token's user the permission {permission} and make sure the token "
                           "is Write enabled.")
    if status in (401, 403):
        return DomainError(f"NetBox refused the token ({detail or status}): check NETBOX_TOKEN "
                           "(a v1 token, or a v2 token written nbt_<key>.<token>).")
    if status == 404 and not body:  # a web page, not the API's JSON
        return DomainError("NETBOX_URL does not lead to NetBox's REST API (404 for "
                           f"{urlsplit(response.url).path}): set it to the address you open "
                           "NetBox at, without /api.")
    if status == 409:
        return Conflict("NetBox has no free address left in that prefix.")
    if status >= 500:
        return TransientError(f"NetBox answered {status}; it will be tried again.")
    return DomainError(f"NetBox refused the request ({status}): {detail or _fields(body)}")


def _permission(request):
    """What a request refused for want of permission was doing, in words and as NetBox's
    permission name (app.action_model)."""
    parts = urlsplit(request.url).path.strip("/").split("/")
    action = {"GET": "view", "POST": "add", "PATCH": "change", "PUT": "change",
              "DELETE": "delete"}.get(request.method, "view")
    if "tags" in parts:
        return f"{action} tags", f"extras.{action}_tag"
    if "ip-addresses" in parts or "available-ips" in parts:
        return f"{action} IP addresses", f"ipam.{action}_ipaddress"
    return f"{action} prefixes", f"ipam.{action}_prefix"


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
