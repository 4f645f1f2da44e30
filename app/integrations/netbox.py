"""NetBox IPAM through pynetbox (NETBOX_URL, NETBOX_TOKEN).

The prefix that serves a service location is the one tagged `area-<area>` (e.g.
area-north) with status active. Allocation asks NetBox for the prefix's next available IP
(POST /api/ipam/prefixes/<id>/available-ips/), tagged with the customer's number; release
deletes that IP address. A full prefix (409) is a business error; timeouts and 5xx retry."""
import pynetbox
import requests
from pynetbox.core.query import AllocationError

from app.errors import Conflict, DomainError, TransientError


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


def _translate(error):
    if isinstance(error, AllocationError):  # pynetbox's name for NetBox's 409 here
        return Conflict(f"NetBox has no free address left in that prefix "
                        f"({error.req.json().get('detail', 'prefix full')}).")
    if isinstance(error, pynetbox.RequestError):
        status = error.req.status_code
        if status == 409:
            return Conflict(f"NetBox has no free address left in that prefix: {error.error}")
        if status >= 500:
            return TransientError(f"NetBox answered {status}")
        return DomainError(f"NetBox refused the request ({status}): {error.error}")
    return TransientError(f"NetBox could not be reached: {error}")


def allocate_ip(config, area, customer_number, description):
    try:
        api = _api(config)
        tag = _ensure_tag(api, f"customer-{customer_number}".lower())
        prefix = api.ipam.prefixes.get(tag=f"area-{area}", status="active")
        if prefix is None:
            raise DomainError(f"NetBox has no active prefix tagged area-{area}.")
        address = prefix.available_ips.create({"description": description,
                                               "status": "active", "tags": [tag.id]})
        gateway = prefix.custom_fields.get("gateway") if prefix.custom_fields else None
        vlan = prefix.vlan.vid if getattr(prefix, "vlan", None) else None
        return {"ip_id": address.id, "prefix_id": prefix.id,
                "address": str(address.address).split("/")[0], "gateway": gateway,
                "vlan_id": vlan}
    except (AllocationError, pynetbox.RequestError, requests.RequestException) as error:
        raise _translate(error) from error


def release_ip(config, ip_id):
    try:
        address = _api(config).ipam.ip_addresses.get(ip_id)
        if address is not None:
            address.delete()
    except (pynetbox.RequestError, requests.RequestException) as error:
        raise _translate(error) from error


def _ensure_tag(api, slug):
    tag = api.extras.tags.get(slug=slug)
    return tag or api.extras.tags.create({"name": slug, "slug": slug})
