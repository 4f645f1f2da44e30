"""The webhook provisioning contract (README, "Tenant provisioning"), as a provisioner must
answer it:

  GET    /?slug=<slug>   200 [{"id", "slug", "status", "url"}]: the tenants with that slug,
                         oldest first (empty when none); how a client whose POST's reply was
                         lost finds the tenant it made before it creates one again
  POST   /               202 {"id", "slug", "status": "provisioning", "url"};
                         409 {"error"} when that slug exists already (a provisioner "should"
                         refuse it: `unique_slugs=False` is one that does not, and makes a
                         second tenant)
  GET    /<id>           200 the tenant; it turns "ready" after `polls_until_ready` looks
                         (or "failed" with an "error"); 404 unknown
  DELETE /<id>           204; 404 unknown
Auth: `Authorization: Bearer <token>`, else 401."""
import itertools
import threading

from tests.fakes import LosesReplies


class FakeProvisioner(LosesReplies):
    def __init__(self, token="prov-token", polls_until_ready=2, fail=False, unique_slugs=True):
        self.token, self.polls_until_ready, self.fail = token, polls_until_ready, fail
        self.unique_slugs = unique_slugs
        self.tenants = {}  # by id, oldest first
        self.posts = 0  # how many tenants were asked for
        self.lock = threading.Lock()
        self._ids = itertools.count(1)

    def handle(self, method, path, query, body, headers):
        with self.lock:
            return self._route(method, path, query, body, headers)

    def _route(self, method, path, query, body, headers):
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"error": "unauthorized"}
        if path in ("", "/"):
            if method == "GET":
                slugs = query.get("slug", [])
                return 200, [self._public(t) for t, tenant in self.tenants.items()
                             if not slugs or tenant["slug"] in slugs]
            if method == "POST":
                return self._create(body)
            return 405, {"error": "method not allowed"}
        tenant_id = path.strip("/")
        if tenant_id not in self.tenants:
            return 404, {"error": "not found"}
        if method == "GET":
            tenant = self.tenants[tenant_id]
            tenant["polls"] += 1
            if tenant["polls"] >= self.polls_until_ready:
                tenant["status"] = "failed" if self.fail else "ready"
            return 200, self._public(tenant_id)
        if method == "DELETE":
            self.tenants.pop(tenant_id)
            return 204, None
        return 405, {"error": "method not allowed"}

    def _create(self, body):
        self.posts += 1
        slug = body.get("slug") if isinstance(body, dict) else None
        if not slug:
            return 400, {"error": "slug is required"}
        if self.unique_slugs and any(t["slug"] == slug for t in self.tenants.values()):
            return 409, {"error": f"a tenant with slug {slug} exists already"}
        tenant_id = str(next(self._ids))
        self.tenants[tenant_id] = {"id": tenant_id, "slug": slug, "polls": 0,
                                   "status": "provisioning",
                                   "url": f"https://{slug}.tenants.example"}
        return 202, self._public(tenant_id)

    def _public(self, tenant_id):
        tenant = self.tenants[tenant_id]
        answer = {k: tenant[k] for k in ("id", "slug", "status", "url")}
        if tenant["status"] == "failed":
            answer["error"] = "no capacity in region"
        return answer
