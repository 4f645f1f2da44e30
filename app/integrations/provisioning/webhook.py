"""An external provisioner: POST the tenant to PROVISIONING_WEBHOOK_URL (bearer
PROVISIONING_WEBHOOK_TOKEN); it answers 201/202 with {"id", "status", "url"}; then GET
<url>/<id> until status is "ready" (or "failed"). DELETE <url>/<id> deprovisions.
A provisioner still working is a TransientError, so the engine polls with backoff."""
import requests

from app.errors import DomainError, TransientError


def _call(config, method, path="", **kwargs):
    url = config["PROVISIONING_WEBHOOK_URL"].rstrip("/") + path
    headers = {"Authorization": f"Bearer {config.get('PROVISIONING_WEBHOOK_TOKEN') or ''}"}
    try:
        response = requests.request(method, url, headers=headers,
                                    timeout=config["HTTP_TIMEOUT_SECONDS"], **kwargs)
    except requests.RequestException as error:
        raise TransientError(f"The provisioner could not be reached: {error}") from error
    if response.status_code >= 500:
        raise TransientError(f"The provisioner answered {response.status_code}")
    if response.status_code >= 400:
        raise DomainError(f"The provisioner refused the tenant ({response.status_code}): "
                          f"{response.text[:200]}")
    return response.json() if response.content else {}


def provision(config, tenant):
    if tenant.external_id:
        return check(config, tenant)
    answer = _call(config, "POST", json={
        "slug": tenant.slug, "customer": tenant.customer.number,
        "deployment_type": tenant.deployment_type, "license_key": tenant.license_key,
        "branding": tenant.branding})
    tenant.external_id = str(answer["id"])
    return _status(answer)


def check(config, tenant):
    return _status(_call(config, "GET", f"/{tenant.external_id}"))


def deprovision(config, tenant):
    if tenant.external_id:
        _call(config, "DELETE", f"/{tenant.external_id}")


def _status(answer):
    status = answer.get("status")
    if status == "ready":
        return {"status": "active", "url": answer.get("url"), "external_id": answer.get("id")}
    if status == "failed":
        raise DomainError(f"The provisioner could not create the tenant: "
                          f"{answer.get('error') or 'no reason given'}")
    return {"status": "provisioning", "url": answer.get("url"),
            "external_id": answer.get("id")}
