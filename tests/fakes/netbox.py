"""The NetBox REST endpoints Lastmile uses (NetBox 4 API, as pynetbox calls them):

  GET    /api/                                  API root (pynetbox reads API-Version)
  GET    /api/extras/tags/?slug=                list (count/next/previous/results)
  POST   /api/extras/tags/                      201 the tag
  GET    /api/ipam/prefixes/?tag=&status=       list
  POST   /api/ipam/prefixes/<id>/available-ips/ 201 the new IP address, or
                                                409 {"detail": "..."} when the prefix is full
  GET    /api/ipam/ip-addresses/<id>/           the IP address, 404 {"detail": "Not found."}
  DELETE /api/ipam/ip-addresses/<id>/           204
Auth: `Authorization: Token <token>`, else 403 {"detail": "Invalid token"}."""
import ipaddress
import threading


class FakeNetBox:
    def __init__(self, token="nb-token"):
        self.token = token
        self.lock = threading.Lock()
        self.tags, self.prefixes, self.ips = {}, {}, {}
        self.fail_next = 0  # answer that many requests with a 503 first

    def add_prefix(self, prefix, tag, vid=None, gateway=None):
        with self.lock:
            pid = len(self.prefixes) + 1
            self.prefixes[pid] = {
                "id": pid, "url": f"/api/ipam/prefixes/{pid}/", "display": prefix,
                "prefix": prefix, "status": {"value": "active", "label": "Active"},
                "vlan": {"id": pid, "vid": vid, "name": f"VLAN {vid}"} if vid else None,
                "tags": [{"id": 0, "name": tag, "slug": tag}],
                "custom_fields": {"gateway": gateway}}
        return pid

    def handle(self, method, path, query, body, headers):
        if headers.get("Authorization") != f"Token {self.token}":
            return 403, {"detail": "Invalid token"}
        if self.fail_next:
            self.fail_next -= 1
            return 503, {"detail": "Service unavailable"}
        with self.lock:
            return self._route(method, path.rstrip("/") + "/", query, body)

    def _route(self, method, path, query, body):
        one = lambda name: (query.get(name) or [None])[0]  # noqa: E731
        if path == "/api/":
            return 200, {"ipam": "/api/ipam/", "extras": "/api/extras/"}
        if path == "/api/extras/tags/":
            if method == "POST":
                tag = {"id": len(self.tags) + 1, "name": body["name"], "slug": body["slug"]}
                self.tags[tag["slug"]] = tag
                return 201, tag
            found = [t for t in self.tags.values() if t["slug"] == one("slug")]
            return 200, self._page(found)
        if path == "/api/ipam/prefixes/":
            found = [p for p in self.prefixes.values()
                     if (not one("tag") or one("tag") in [t["slug"] for t in p["tags"]])
                     and (not one("status") or p["status"]["value"] == one("status"))]
            return 200, self._page(found)
        parts = path.strip("/").split("/")
        if parts[:3] == ["api", "ipam", "prefixes"] and parts[4:] == ["available-ips"] \
                and method == "POST":
            return self._allocate(int(parts[3]), body)
        if parts[:3] == ["api", "ipam", "ip-addresses"] and len(parts) == 4:
            ip = self.ips.get(int(parts[3]))
            if ip is None:
                return 404, {"detail": "Not found."}
            if method == "DELETE":
                del self.ips[ip["id"]]
                return 204, None
            return 200, ip
        return 404, {"detail": "Not found."}

    def _allocate(self, prefix_id, body):
        prefix = self.prefixes.get(prefix_id)
        if prefix is None:
            return 404, {"detail": "Not found."}
        network = ipaddress.ip_network(prefix["prefix"])
        taken = {ip["address"].split("/")[0] for ip in self.ips.values()}
        gateway = prefix["custom_fields"].get("gateway")
        for host in network.hosts():
            if str(host) not in taken and str(host) != gateway:
                ip_id = max(self.ips, default=0) + 1
                ip = {"id": ip_id, "url": f"/api/ipam/ip-addresses/{ip_id}/",
                      "display": f"{host}/{network.prefixlen}",
                      "address": f"{host}/{network.prefixlen}",
                      "status": {"value": body.get("status", "active")},
                      "description": body.get("description", ""),
                      "tags": [{"id": t} for t in body.get("tags", [])]}
                self.ips[ip_id] = ip
                return 201, ip
        return 409, {"detail": "An insufficient number of IP addresses are available within "
                               f"prefix {prefix['prefix']} (1 requested, 0 available)"}

    @staticmethod
    def _page(results):
        return {"count": len(results), "next": None, "previous": None, "results": results}
