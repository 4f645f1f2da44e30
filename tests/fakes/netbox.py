"""NetBox 4.x's REST API as far as Lastmile uses it, answering as the real server does.

It follows NetBox's REST API documentation (docs/integrations/rest-api.md: the
{count, next, previous, results} envelope, limit/offset with PAGINATE_COUNT 50 and
MAX_PAGE_SIZE 1000, `limit=0` for the largest page) and NetBox's own source:
- netbox/api/authentication.py: `Authorization: Token <40 hex>` (v1) and, since 4.5,
  `Authorization: Bearer nbt_<key>.<token>` (v2); the version is read from the `nbt_` prefix;
  an unknown token is 403 {"detail": "Invalid v1 token"} (or v2); no credentials, 403.
- ipam/models/ip.py (Prefix.usable_ip_bounds, get_available_ips): available-ips skips
  existing IP objects only (whatever their status, `reserved` included) and, in an IPv4
  prefix shorter than /31 that is not a pool, the network and broadcast addresses. It does
  NOT skip a custom field such as the prefix's `gateway`.
- ipam/api/views.py (AvailableObjectsView): a full prefix is 409 {"detail": "Insufficient
  resources are available to satisfy the request"}.
- extras/filters.py (TagFilter): filtering on a tag slug that does not exist is 400
  {"tag": ["Select a valid choice. <slug> is not one of the available choices."]}.
- Tag name and slug are unique: 400 {"name": ["tag with this name already exists."], ...}.
- ENFORCE_GLOBAL_UNIQUE (true by default since 3.7): a duplicate IP is 400 {"address": [...]}.
- Default orderings: prefixes by (vrf, prefix), IP addresses by address, tags by name: not
  by id.

  GET    /api/                                   API root (header API-Version)
  GET    /api/extras/tags/?slug=&name=           list
  POST   /api/extras/tags/                       201 the tag
  GET    /api/ipam/prefixes/?tag=&status=&id=    list
  POST   /api/ipam/prefixes/<id>/available-ips/  201 the new IP address, or 409
  GET    /api/ipam/ip-addresses/?q=&address=&description=&tag=&status=&parent=   list
  POST   /api/ipam/ip-addresses/                 201 the IP address
  GET    /api/ipam/ip-addresses/<id>/            the IP address, or 404
  DELETE /api/ipam/ip-addresses/<id>/            204
"""
import ipaddress
import itertools
import threading
from urllib.parse import urlencode

from tests.fakes import LosesReplies

V1_TOKEN = "0123456789abcdef0123456789abcdef01234567"
V2_TOKEN = "nbt_lastmile4aXk2q.Zr8mW3pQv7NcT1yHs9LdE6bFgJ0uKoAi"
NOT_FOUND = (404, {"detail": "Not found."})
IP_STATUSES = ("active", "reserved", "deprecated", "dhcp", "slaac")
PREFIX_STATUSES = ("container", "active", "reserved", "deprecated")


def _choice(value):
    return {"value": value, "label": value.capitalize()}


def _invalid_choice(field, value):
    return 400, {field: [f"Select a valid choice. {value} is not one of the available "
                         "choices."]}


class FakeNetBox(LosesReplies):
    def __init__(self, v1_token=V1_TOKEN, v2_token=V2_TOKEN, max_page_size=1000):
        self.token = v1_token or v2_token  # what the tests configure by default
        self.v1_tokens = {v1_token} if v1_token else set()
        self.v2_tokens = dict([v2_token[4:].split(".", 1)]) if v2_token else {}
        self.max_page_size = max_page_size
        self.lock = threading.RLock()
        self.tags, self.prefixes, self.ips = {}, {}, {}
        self._ids = itertools.count(1)
        self.fail_next = 0  # answer that many requests with a 503 first
        self.requests = []  # (method, path, query, auth scheme) of every authenticated one

    # -- set-up helpers (what an operator does in NetBox's UI) --

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

    def add_prefix(self, prefix, tag, vid=None, gateway=None, status="active", is_pool=False):
        with self.lock:
            nested = self._nested_tag(self.add_tag(tag))
            pid = next(self._ids)
            self.prefixes[pid] = {
                "id": pid, "url": f"/api/ipam/prefixes/{pid}/", "display": prefix,
                "family": {"value": 4, "label": "IPv4"}, "prefix": prefix, "vrf": None,
                "vlan": {"id": pid, "url": f"/api/ipam/vlans/{pid}/", "vid": vid,
                         "name": f"VLAN {vid}"} if vid else None,
                "status": _choice(status), "role": None, "is_pool": is_pool,
                "mark_utilized": False, "description": "", "tags": [nested],
                "custom_fields": {"gateway": gateway}}
            return pid

    def add_ip(self, address, status="reserved", description=""):
        with self.lock:
            return self._create_ip(address, status, description, [])

    # -- the HTTP side --

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

    def _route(self, method, path, query, body, base):
        parts = path.strip("/").split("/")
        if path == "/api/":
            return 200, {"extras": f"{base}/api/extras/", "ipam": f"{base}/api/ipam/"}
        if path == "/api/extras/tags/":
            return self._create_tag(body) if method == "POST" else \
                self._list(self._tags(query), query, path, base)
        if path == "/api/ipam/prefixes/" and method == "GET":
            found = self._prefixes(query)
            return found if isinstance(found, tuple) else self._list(found, query, path, base)
        if parts[:3] == ["api", "ipam", "prefixes"] and parts[4:] == ["available-ips"] \
                and method == "POST":
            return self._allocate(parts[3], body)
        if path == "/api/ipam/ip-addresses/":
            if method == "POST":
                return self._create_ip_from(body)
            found = self._ip_list(query)
            return found if isinstance(found, tuple) else self._list(found, query, path, base)
        if parts[:3] == ["api", "ipam", "ip-addresses"] and len(parts) == 4:
            ip = self.ips.get(int(parts[3])) if parts[3].isdigit() else None
            if ip is None:
                return 404, {"detail": "No IPAddress matches the given query."}
            if method == "DELETE":
                del self.ips[ip["id"]]
                return 204, None
            return 200, ip
        return NOT_FOUND

    # -- tags --

    def _tags(self, query):
        found = [t for t in self.tags.values()
                 if all(str(t[field]) in query[field] for field in ("slug", "name", "id")
                        if field in query)]
        return sorted(found, key=lambda t: t["name"])

    def _create_tag(self, body):
        errors = {}
        for field in ("name", "slug"):
            if not body.get(field):
                errors[field] = ["This field is required."]
            elif any(t[field] == body[field] for t in self.tags.values()):
                errors[field] = [f"tag with this {field} already exists."]
        if errors:
            return 400, errors
        tag = self.add_tag(body["slug"], body["name"])
        return 201, tag

    def _nested_tag(self, tag):
        return {k: tag[k] for k in ("id", "url", "display", "name", "slug", "color")}

    def _tag_filter(self, query):
        """The tags a `tag=` filter names, or NetBox's 400 for one that does not exist."""
        slugs = {t["slug"] for t in self.tags.values()}
        for slug in query.get("tag", []):
            if slug not in slugs:
                return _invalid_choice("tag", slug)
        return set(query.get("tag", []))

    # -- prefixes and addresses --

    def _prefixes(self, query):
        tags = self._tag_filter(query)
        if isinstance(tags, tuple):
            return tags
        for status in query.get("status", []):
            if status not in PREFIX_STATUSES:
                return _invalid_choice("status", status)
        found = [p for p in self.prefixes.values()
                 if tags <= {t["slug"] for t in p["tags"]}
                 and ("status" not in query or p["status"]["value"] in query["status"])
                 and ("id" not in query or str(p["id"]) in query["id"])]
        return sorted(found, key=lambda p: (ipaddress.ip_network(p["prefix"]), p["id"]))

    def _ip_list(self, query):
        tags = self._tag_filter(query)
        if isinstance(tags, tuple):
            return tags
        q = (query.get("q") or [""])[0].strip().lower()
        hosts = {str(ipaddress.ip_interface(a).ip) if "/" in a else a
                 for a in query.get("address", [])}
        parents = [ipaddress.ip_network(p, strict=False) for p in query.get("parent", [])]

        def matches(ip):
            host = ipaddress.ip_interface(ip["address"]).ip
            return (not q or q in ip["description"].lower() or q in ip["dns_name"].lower()
                    or ip["address"].lower().startswith(q)) \
                and (not hosts or str(host) in hosts) \
                and (not parents or any(host in p for p in parents)) \
                and ("description" not in query or ip["description"] in query["description"]) \
                and ("status" not in query or ip["status"]["value"] in query["status"]) \
                and tags <= {t["slug"] for t in ip["tags"]}
        found = [ip for ip in self.ips.values() if matches(ip)]
        return sorted(found, key=lambda ip: (ipaddress.ip_interface(ip["address"]), ip["id"]))

    def _usable_hosts(self, prefix):
        network = ipaddress.ip_network(prefix["prefix"])
        if prefix["is_pool"] or network.prefixlen >= network.max_prefixlen - 1:
            return list(network)
        return list(network)[1:-1] if network.version == 4 else list(network)[1:]

    def _allocate(self, prefix_id, body):
        prefix = self.prefixes.get(int(prefix_id)) if prefix_id.isdigit() else None
        if prefix is None:
            return 404, {"detail": "No Prefix matches the given query."}
        request = body if isinstance(body, dict) else {}
        status = request.get("status", "active")
        if status not in IP_STATUSES:
            return 400, [{"status": [f'"{status}" is not a valid choice.']}]
        tags = self._resolve_tags(request.get("tags", []))
        if isinstance(tags, tuple):
            return tags
        network = ipaddress.ip_network(prefix["prefix"])
        taken = {ipaddress.ip_interface(ip["address"]).ip for ip in self.ips.values()}
        for host in self._usable_hosts(prefix):
            if host not in taken:
                ip = self._create_ip(f"{host}/{network.prefixlen}", status,
                                     request.get("description", ""), tags)
                return 201, ip
        return 409, {"detail": "Insufficient resources are available to satisfy the request"}

    def _create_ip_from(self, body):
        try:
            address = ipaddress.ip_interface(body.get("address") or "")
        except ValueError:
            return 400, {"address": ["Enter a valid IPv4 or IPv6 address with optional mask."]}
        status = body.get("status", "active")
        if status not in IP_STATUSES:
            return 400, {"status": [f'"{status}" is not a valid choice.']}
        if any(ipaddress.ip_interface(ip["address"]).ip == address.ip
               for ip in self.ips.values()):
            return 400, {"address": ["Duplicate IP address found in global table: "
                                     f"{address}"]}
        tags = self._resolve_tags(body.get("tags", []))
        if isinstance(tags, tuple):
            return tags
        return 201, self._create_ip(str(address), status, body.get("description", ""), tags)

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

    def _create_ip(self, address, status, description, tags):
        ip_id = next(self._ids)
        self.ips[ip_id] = {"id": ip_id, "url": f"/api/ipam/ip-addresses/{ip_id}/",
                           "display": address, "family": {"value": 4, "label": "IPv4"},
                           "address": address, "vrf": None, "status": _choice(status),
                           "role": None, "dns_name": "", "description": description,
                           "tags": tags, "custom_fields": {}}
        return self.ips[ip_id]

    # -- pagination --

    def _list(self, results, query, path, base):
        """NetBox's limit/offset pagination: 50 by default, `limit=0` means the largest page
        (MAX_PAGE_SIZE); `next`/`previous` are absolute links that keep the filters."""
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
    if isinstance(payload, dict):
        return {k: (base + v if k == "url" and isinstance(v, str) and v.startswith("/")
                    else _absolute(v, base)) for k, v in payload.items()}
    if isinstance(payload, list):
        return [_absolute(v, base) for v in payload]
    return payload
