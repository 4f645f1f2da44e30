"""NetBox 4.6's REST API as far as Lastmile uses it, answering as the real server does.

It follows NetBox's REST API documentation (docs/integrations/rest-api.md: the
{count, next, previous, results} envelope, limit/offset with PAGINATE_COUNT 50 and
MAX_PAGE_SIZE 1000, `limit=0` for the largest page) and NetBox v4.6.8's own source:
- netbox/api/authentication.py: `Authorization: Token <40 hex>` (v1) and, since 4.5,
  `Authorization: Bearer nbt_<key>.<token>` (v2); the version is read from the `nbt_` prefix;
  an unknown token is 403 {"detail": "Invalid v1 token"} (or v2); no credentials, 403.
  TokenPermissions: a token that is not write-enabled, or whose user lacks the model's
  permission (`ipam.add_ipaddress`, `extras.add_tag`, ...), is 403 {"detail": "You do not have
  permission to perform this action."} (Django REST framework's PermissionDenied).
- ipam/models/ip.py: Prefix.get_child_ips counts the IP addresses *of the prefix's VRF* only
  (a global-table container counts every VRF); available-ips skips those IP objects (whatever
  their status, `reserved` included) and, in an IPv4 prefix shorter than /31 that is not a
  pool, the network and broadcast addresses. It does NOT skip a custom field such as the
  prefix's `gateway`. IPAddress.clean: a duplicate address is refused within one VRF
  ("Duplicate IP address found in VRF cgnat-b: ..." / "... in global table: ..."), only when
  that VRF enforces unique space (ENFORCE_GLOBAL_UNIQUE, true by default, for the global table).
- ipam/api/views.py (AvailableObjectsView.post, AvailableIPAddressesView): the body is first
  read by AvailableIPRequestSerializer (only `prefix_length`), then, under the `available-ips`
  advisory lock, a full prefix is 409 {"detail": "Insufficient resources are available to
  satisfy the request"} before the IP address itself is validated; that validation
  (IPAddressSerializer, one object for a dict body) answers 400 with a dict
  {"status": [...]} ; the new address gets the prefix's VRF whatever the body says.
- netbox/models PrimaryModel.description: max_length 200 ("Ensure this field has no more than
  200 characters.").
- ipam/filtersets.py: `vrf_id` filters IP addresses and prefixes by VRF; `vrf_id=null` is the
  global table (FILTERS_NULL_CHOICE_VALUE); an unknown id is 400 "Select a valid choice."
- extras/filters.py (TagFilter): filtering on a tag slug that does not exist is 400
  {"tag": ["Select a valid choice. <slug> is not one of the available choices."]}.
- Tags (taggit's TagBase): name and slug unique. The serializer's check answers a duplicate with
  400 {"name": ["tag with this name already exists."], ...}; two creations at once both pass
  that check and the second INSERT fails on the database's constraint: an IntegrityError, which
  netbox/middleware.py answers as 500 {"error": "duplicate key value violates unique
  constraint \"extras_tag_name_key\" ...", "exception": "IntegrityError", ...}
  (utilities/error_handlers.py handle_rest_api_exception). IP addresses have no such
  constraint: two creations of one address at once both succeed.
- A path no URL matches (e.g. /api/api/... when NETBOX_URL ends in /api) is Django's HTML 404
  page, not JSON.
- Default orderings: prefixes by (vrf, prefix), IP addresses by address, tags by name: not
  by id.

  GET    /api/                                   API root (header API-Version)
  GET    /api/extras/tags/?slug=&name=           list
  POST   /api/extras/tags/                       201 the tag
  GET    /api/ipam/prefixes/?tag=&status=&id=&vrf_id=   list
  POST   /api/ipam/prefixes/<id>/available-ips/  201 the new IP address, or 409
  GET    /api/ipam/ip-addresses/?q=&address=&description=&tag=&status=&parent=&vrf_id=   list
  POST   /api/ipam/ip-addresses/                 201 the IP address
  GET    /api/ipam/ip-addresses/<id>/            the IP address, or 404
  DELETE /api/ipam/ip-addresses/<id>/            204
"""
import ipaddress
import itertools
import threading
import time
from urllib.parse import urlencode

from tests.fakes import Html, LosesReplies

V1_TOKEN = "0123456789abcdef0123456789abcdef01234567"
V2_TOKEN = "nbt_lastmile4aXk2q.Zr8mW3pQv7NcT1yHs9LdE6bFgJ0uKoAi"
IP_STATUSES = ("active", "reserved", "deprecated", "dhcp", "slaac")
PREFIX_STATUSES = ("container", "active", "reserved", "deprecated")
NO_PERMISSION = (403, {"detail": "You do not have permission to perform this action."})
DJANGO_404 = Html("<!DOCTYPE html><html><head><title>Page not found</title></head><body>"
                  "<h1>Page Not Found</h1><p>The requested page does not exist.</p>"
                  "</body></html>")


def _choice(value):
    return {"value": value, "label": value.capitalize()}


def _invalid_choice(field, value):
    return 400, {field: [f"Select a valid choice. {value} is not one of the available "
                         "choices."]}


class FakeNetBox(LosesReplies):
    def __init__(self, v1_token=V1_TOKEN, v2_token=V2_TOKEN, max_page_size=1000,
                 custom_fields=("gateway",)):
        self.token = v1_token or v2_token  # what the tests configure by default
        self.v1_tokens = {v1_token} if v1_token else set()
        self.v2_tokens = dict([v2_token[4:].split(".", 1)]) if v2_token else {}
        self.max_page_size = max_page_size
        self.custom_fields = custom_fields  # the prefix custom fields defined in NetBox
        self.write_enabled = True  # the token's "Write enabled"
        self.denied = set()  # permissions the token's user lacks, e.g. "ipam.add_ipaddress"
        # How long NetBox takes between validating a new object and saving it: two creations
        # inside that window both pass validation (see the tags above).
        self.save_seconds = 0.0
        self.lock = threading.RLock()
        self.advisory_lock = threading.Lock()  # ADVISORY_LOCK_KEYS["available-ips"]
        self.vrfs, self.tags, self.prefixes, self.ips = {}, {}, {}, {}
        self._ids = itertools.count(1)
        self.fail_next = 0  # answer that many requests with a 503 first
        self.requests = []  # (method, path, query, auth scheme) of every authenticated one

    # -- set-up helpers (what an operator does in NetBox's UI) --

    def add_vrf(self, name, rd=None, enforce_unique=True):
        with self.lock:
            vrf_id = next(self._ids)
            self.vrfs[vrf_id] = {"id": vrf_id, "url": f"/api/ipam/vrfs/{vrf_id}/",
                                 "display": f"{name} ({rd})" if rd else name, "name": name,
                                 "rd": rd, "description": "", "enforce_unique": enforce_unique}
            return vrf_id

    def add_tag(self, slug, name=None):
        with self.lock:
            found = [t for t in self.tags.values() if t["slug"] == slug]
            if found:
                return found[0]
            tag_id = next(self._ids)
            self.tags[tag_id] = {"id": tag_id, "url": f"/api/extras/tags/{tag_id}/",
                                 "display": name or slug, "name": name or slug, "slug": slug,
                                 "color": "9e9e9e"}
            return self.tags[tag_id]

    def add_prefix(self, prefix, tag, vid=None, gateway=None, status="active", is_pool=False,
                   vrf=None):
        with self.lock:
            nested = self._nested_tag(self.add_tag(tag))
            pid = next(self._ids)
            self.prefixes[pid] = {
                "id": pid, "url": f"/api/ipam/prefixes/{pid}/", "display": prefix,
                "family": {"value": 4, "label": "IPv4"}, "prefix": prefix,
                "vrf": self._nested_vrf(vrf),
                "vlan": {"id": pid, "url": f"/api/ipam/vlans/{pid}/", "vid": vid,
                         "name": f"VLAN {vid}"} if vid else None,
                "status": _choice(status), "role": None, "is_pool": is_pool,
                "mark_utilized": False, "description": "", "tags": [nested],
                # NetBox lists every custom field defined for prefixes, null when unset.
                "custom_fields": {name: gateway if name == "gateway" else None
                                  for name in self.custom_fields}}
            return pid

    def add_ip(self, address, status="reserved", description="", vrf=None):
        with self.lock:
            return self._create_ip(address, status, description, [], vrf)

    def ips_in(self, vrf=None, status=None):
        """The addresses (with mask) in a VRF (None: the global table), for assertions."""
        return sorted(ip["address"] for ip in self.ips.values()
                      if (ip["vrf"] or {}).get("id") == vrf
                      and (status is None or ip["status"]["value"] == status))

    # -- the HTTP side --

    def carry_out(self, method, path, work, delay):
        """available-ips works under NetBox's advisory lock (one allocation at a time, all
        prefixes): a slow allocation holds up the next one, which then sees its address."""
        if method == "POST" and path.rstrip("/").endswith("/available-ips"):
            with self.advisory_lock:
                time.sleep(delay)
                return work()
        return super().carry_out(method, path, work, delay)

    def handle(self, method, path, query, body, headers):
        refused = self._authenticate(headers.get("Authorization"))
        if refused:
            return 403, {"detail": refused}
        if self.fail_next:
            self.fail_next -= 1
            return 503, {"detail": "Service unavailable"}
        base = f"http://{headers.get('Host')}"
        with self.lock:
            self.requests.append((method, path, query,
                                  headers.get("Authorization", "").split()[0]))
            permission = self._permission(method, path.rstrip("/") + "/")
        if permission and (permission in self.denied
                           or (method != "GET" and not self.write_enabled)):
            return NO_PERMISSION
        answer = self._route(method, path.rstrip("/") + "/", query, body, base)
        if answer[0] == 200 and path.rstrip("/") == "/api":
            return (*answer, {"API-Version": "4.6"})
        return answer[0], _absolute(answer[1], base)

    def _authenticate(self, header):
        """NetBox's TokenAuthentication, message for message."""
        parts = (header or "").split()
        if not parts or parts[0].lower() not in ("token", "bearer"):
            return "Authentication credentials were not provided."
        if len(parts) != 2:
            return ('Invalid authorization header: Must be in the form "Bearer <key>.<token>" '
                    'or "Token <token>"')
        if not parts[1].startswith("nbt_"):
            return None if parts[1] in self.v1_tokens else "Invalid v1 token"
        key, dot, plaintext = parts[1][4:].partition(".")
        if not dot:
            return ("Invalid authorization header: Could not parse key from v2 token. Did you "
                    "mean to use 'Token' instead of 'Bearer'?")
        return None if key in self.v2_tokens and self.v2_tokens[key] == plaintext \
            else "Invalid v2 token"

    @staticmethod
    def _permission(method, path):
        """The model permission TokenPermissions asks of this request's user."""
        action = {"GET": "view", "POST": "add", "PATCH": "change", "DELETE": "delete"}[method]
        parts = path.strip("/").split("/")
        if parts[:3] == ["api", "extras", "tags"]:
            return f"extras.{action}_tag"
        if parts[:3] == ["api", "ipam", "ip-addresses"] or parts[4:] == ["available-ips"]:
            return f"ipam.{action}_ipaddress"
        if parts[:3] == ["api", "ipam", "prefixes"]:
            return f"ipam.{action}_prefix"
        return None

    def _route(self, method, path, query, body, base):
        parts = path.strip("/").split("/")
        if path == "/api/":
            return 200, {"extras": f"{base}/api/extras/", "ipam": f"{base}/api/ipam/"}
        if path == "/api/extras/tags/":
            return self._create_tag(body) if method == "POST" else \
                self._listed(self._tags(query), query, path, base)
        if path == "/api/ipam/prefixes/" and method == "GET":
            return self._listed(self._prefixes(query), query, path, base)
        if parts[:3] == ["api", "ipam", "prefixes"] and parts[4:] == ["available-ips"] \
                and method == "POST":
            return self._allocate(parts[3], body)
        if path == "/api/ipam/ip-addresses/":
            if method == "POST":
                return self._create_ip_from(body)
            return self._listed(self._ip_list(query), query, path, base)
        if parts[:3] == ["api", "ipam", "ip-addresses"] and len(parts) == 4:
            with self.lock:
                ip = self.ips.get(int(parts[3])) if parts[3].isdigit() else None
                if ip is None:
                    return 404, {"detail": "No IPAddress matches the given query."}
                if method == "DELETE":
                    del self.ips[ip["id"]]
                    return 204, None
                return 200, ip
        return 404, DJANGO_404

    # -- tags --

    def _tags(self, query):
        with self.lock:
            found = [t for t in self.tags.values()
                     if all(str(t[field]) in query[field] for field in ("slug", "name", "id")
                            if field in query)]
        return sorted(found, key=lambda t: t["name"])

    def _create_tag(self, body):
        with self.lock:  # the serializer's UniqueValidator: a SELECT before the INSERT
            errors = {}
            for field in ("name", "slug"):
                if not body.get(field):
                    errors[field] = ["This field is required."]
                elif any(t[field] == body[field] for t in self.tags.values()):
                    errors[field] = [f"tag with this {field} already exists."]
            if errors:
                return 400, errors
        time.sleep(self.save_seconds)
        with self.lock:  # the INSERT, checked by the database's unique constraints
            for field in ("name", "slug"):
                taken = next((t for t in self.tags.values() if t[field] == body[field]), None)
                if taken:
                    return 500, {
                        "error": f'duplicate key value violates unique constraint '
                                 f'"extras_tag_{field}_key"\nDETAIL:  Key ({field})='
                                 f'({body[field]}) already exists.\n',
                        "exception": "IntegrityError", "netbox_version": "4.6.8",
                        "python_version": "3.12.3"}
            return 201, self.add_tag(body["slug"], body["name"])

    def _nested_tag(self, tag):
        return {k: tag[k] for k in ("id", "url", "display", "name", "slug", "color")}

    def _tag_filter(self, query):
        """The tags a `tag=` filter names, or NetBox's 400 for one that does not exist."""
        slugs = {t["slug"] for t in self.tags.values()}
        for slug in query.get("tag", []):
            if slug not in slugs:
                return _invalid_choice("tag", slug)
        return set(query.get("tag", []))

    # -- VRFs --

    def _nested_vrf(self, vrf_id):
        vrf = self.vrfs.get(vrf_id)
        return {k: vrf[k] for k in ("id", "url", "display", "name", "rd", "description")} \
            if vrf else None

    def _vrf_filter(self, query):
        """The VRF ids a `vrf_id=` filter names (None for `null`, the global table), or
        NetBox's 400 for an id that is no VRF."""
        wanted = set()
        for value in query.get("vrf_id", []):
            if value == "null":
                wanted.add(None)
            elif value.isdigit() and int(value) in self.vrfs:
                wanted.add(int(value))
            else:
                return _invalid_choice("vrf_id", value)
        return wanted

    @staticmethod
    def _vrf_id(obj):
        return (obj["vrf"] or {}).get("id")

    # -- prefixes and addresses --

    def _prefixes(self, query):
        with self.lock:
            tags, vrfs = self._tag_filter(query), self._vrf_filter(query)
            for found in (tags, vrfs):
                if isinstance(found, tuple):
                    return found
            for status in query.get("status", []):
                if status not in PREFIX_STATUSES:
                    return _invalid_choice("status", status)
            found = [p for p in self.prefixes.values()
                     if tags <= {t["slug"] for t in p["tags"]}
                     and ("status" not in query or p["status"]["value"] in query["status"])
                     and ("id" not in query or str(p["id"]) in query["id"])
                     and (not vrfs or self._vrf_id(p) in vrfs)]
        return sorted(found, key=lambda p: (self._vrf_id(p) is not None, self._vrf_id(p) or 0,
                                            ipaddress.ip_network(p["prefix"]), p["id"]))

    def _ip_list(self, query):
        with self.lock:
            tags, vrfs = self._tag_filter(query), self._vrf_filter(query)
            for found in (tags, vrfs):
                if isinstance(found, tuple):
                    return found
            q = (query.get("q") or [""])[0].strip().lower()
            hosts = {str(ipaddress.ip_interface(a).ip) if "/" in a else a
                     for a in query.get("address", [])}
            parents = [ipaddress.ip_network(p, strict=False) for p in query.get("parent", [])]

            def matches(ip):
                host = ipaddress.ip_interface(ip["address"]).ip
                return (not q or q in ip["description"].lower()
                        or q in ip["dns_name"].lower()
                        or ip["address"].lower().startswith(q)) \
                    and (not hosts or str(host) in hosts) \
                    and (not parents or any(host in p for p in parents)) \
                    and ("description" not in query
                         or ip["description"] in query["description"]) \
                    and ("status" not in query or ip["status"]["value"] in query["status"]) \
                    and tags <= {t["slug"] for t in ip["tags"]} \
                    and (not vrfs or self._vrf_id(ip) in vrfs)
            found = [ip for ip in self.ips.values() if matches(ip)]
        return sorted(found, key=lambda ip: (ipaddress.ip_interface(ip["address"]), ip["id"]))

    def _usable_hosts(self, prefix):
        network = ipaddress.ip_network(prefix["prefix"])
        if prefix["is_pool"] or network.prefixlen >= network.max_prefixlen - 1:
            return list(network)
        return list(network)[1:-1] if network.version == 4 else list(network)[1:]

    def _child_ips(self, prefix):
        """Prefix.get_child_ips: the prefix's VRF only, unless it is a global container."""
        network = ipaddress.ip_network(prefix["prefix"])
        every_vrf = prefix["vrf"] is None and prefix["status"]["value"] == "container"
        return [ip for ip in self.ips.values()
                if ipaddress.ip_interface(ip["address"]).ip in network
                and (every_vrf or self._vrf_id(ip) == self._vrf_id(prefix))]

    def _allocate(self, prefix_id, body):
        """Called under the advisory lock (carry_out)."""
        with self.lock:
            prefix = self.prefixes.get(int(prefix_id)) if prefix_id.isdigit() else None
            if prefix is None:
                return 404, {"detail": "No Prefix matches the given query."}
            request = body if isinstance(body, dict) else {}
            length = request.get("prefix_length")
            if length is not None and not str(length).isdigit():
                return 400, [{"prefix_length": ["A valid integer is required."]}]
            network = ipaddress.ip_network(prefix["prefix"])
            taken = {ipaddress.ip_interface(ip["address"]).ip for ip in self._child_ips(prefix)}
            free = next((h for h in self._usable_hosts(prefix) if h not in taken), None)
            if free is None:
                return 409, {"detail": "Insufficient resources are available to satisfy "
                                       "the request"}
            fields = self._ip_fields(request)
            if isinstance(fields, tuple):
                return fields
            return 201, self._create_ip(f"{free}/{length or network.prefixlen}",
                                        vrf=self._vrf_id(prefix), **fields)

    def _ip_fields(self, body):
        """IPAddressSerializer's checks of status, description and tags: a dict of them, or
        the 400 with NetBox's dict of field errors."""
        status = body.get("status", "active")
        if status not in IP_STATUSES:
            return 400, {"status": [f'"{status}" is not a valid choice.']}
        description = body.get("description", "")
        if len(description) > 200:
            return 400, {"description": ["Ensure this field has no more than 200 "
                                         "characters."]}
        tags = self._resolve_tags(body.get("tags", []))
        return tags if isinstance(tags, tuple) else dict(status=status,
                                                          description=description, tags=tags)

    def _create_ip_from(self, body):
        with self.lock:
            try:
                address = ipaddress.ip_interface(body.get("address") or "")
            except ValueError:
                return 400, {"address": ["Enter a valid IPv4 or IPv6 address with optional "
                                         "mask."]}
            vrf_id = body.get("vrf")
            vrf_id = vrf_id.get("id") if isinstance(vrf_id, dict) else vrf_id
            if vrf_id is not None and vrf_id not in self.vrfs:
                return 400, {"vrf": ["Related object not found using the provided numeric "
                                     f"ID: {vrf_id}"]}
            fields = self._ip_fields(body)
            if isinstance(fields, tuple):
                return fields
            vrf = self.vrfs.get(vrf_id)
            if vrf is None or vrf["enforce_unique"]:  # ENFORCE_GLOBAL_UNIQUE, or the VRF's
                duplicate = next((ip for ip in self.ips.values()
                                  if ipaddress.ip_interface(ip["address"]).ip == address.ip
                                  and self._vrf_id(ip) == vrf_id), None)
                if duplicate:
                    table = f"VRF {vrf['display']}" if vrf else "global table"
                    return 400, {"address": [f"Duplicate IP address found in {table}: "
                                             f"{duplicate['address']}"]}
        time.sleep(self.save_seconds)  # no database constraint: a concurrent twin is saved too
        with self.lock:
            return 201, self._create_ip(str(address), vrf=vrf_id, **fields)

    def _resolve_tags(self, wanted):
        nested = []
        for tag in wanted:
            if isinstance(tag, int) or (isinstance(tag, dict) and "id" in tag):
                tag_id = tag if isinstance(tag, int) else tag["id"]
                found = self.tags.get(tag_id)
                if found is None:
                    return 400, {"tags": ["Related object not found using the provided "
                                          f"numeric ID: {tag_id}"]}
            else:
                found = next((t for t in self.tags.values()
                              if t["slug"] == tag.get("slug") or t["name"] == tag.get("name")),
                             None)
                if found is None:
                    return 400, {"tags": [f"Related object not found using the provided "
                                          f"attributes: {tag}"]}
            nested.append(self._nested_tag(found))
        return nested

    def _create_ip(self, address, status, description, tags, vrf=None):
        ip_id = next(self._ids)
        self.ips[ip_id] = {"id": ip_id, "url": f"/api/ipam/ip-addresses/{ip_id}/",
                           "display": address, "family": {"value": 4, "label": "IPv4"},
                           "address": address, "vrf": self._nested_vrf(vrf),
                           "status": _choice(status), "role": None, "dns_name": "",
                           "description": description, "tags": tags, "custom_fields": {}}
        return self.ips[ip_id]

    # -- pagination --

    def _listed(self, results, query, path, base):
        """NetBox's limit/offset pagination: 50 by default, `limit=0` means the largest page
        (MAX_PAGE_SIZE); `next`/`previous` are absolute links that keep the filters."""
        if isinstance(results, tuple):  # a filter's 400
            return results
        limit = int((query.get("limit") or ["50"])[0] or 50)
        limit = self.max_page_size if limit == 0 else min(limit, self.max_page_size)
        offset = int((query.get("offset") or ["0"])[0] or 0)

        def link(start):
            params = {k: v for k, v in query.items() if k not in ("limit", "offset")}
            params.update(limit=[str(limit)], offset=[str(start)])
            return f"{base}{path}?{urlencode(params, doseq=True)}"
        return 200, {"count": len(results),
                     "next": link(offset + limit) if offset + limit < len(results) else None,
                     "previous": link(max(offset - limit, 0)) if offset else None,
                     "results": results[offset:offset + limit]}


def _absolute(payload, base):
    """NetBox's `url` fields are absolute; the state keeps them relative to the server."""
    if isinstance(payload, Html):
        return payload
    if isinstance(payload, dict):
        return {k: (base + v if k == "url" and isinstance(v, str) and v.startswith("/")
                    else _absolute(v, base)) for k, v in payload.items()}
    if isinstance(payload, list):
        return [_absolute(v, base) for v in payload]
    return payload
