"""The webhook provisioning contract (README, "Tenant provisioning"): POST / creates a
tenant (202 {"id", "status": "provisioning", "url"}), GET /<id> reports it, and it turns
"ready" after `polls_until_ready` looks; DELETE /<id> removes it."""


class FakeProvisioner:
    def __init__(self, token="prov-token", polls_until_ready=2, fail=False):
        self.token, self.polls_until_ready, self.fail = token, polls_until_ready, fail
        self.tenants = {}

    def handle(self, method, path, query, body, headers):
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"error": "unauthorized"}
        if method == "POST" and path in ("", "/"):
            tenant_id = str(len(self.tenants) + 1)
            self.tenants[tenant_id] = {"id": tenant_id, "slug": body["slug"], "polls": 0,
                                       "status": "provisioning",
                                       "url": f"https://{body['slug']}.tenants.example"}
            return 202, self._public(tenant_id)
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

    def _public(self, tenant_id):
        tenant = self.tenants[tenant_id]
        answer = {k: tenant[k] for k in ("id", "status", "url")}
        if tenant["status"] == "failed":
            answer["error"] = "no capacity in region"
        return answer
