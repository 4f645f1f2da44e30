"""An external provisioner: POST the tenant to PROVISIONING_WEBHOOK_URL (bearer
PROVISIONING_WEBHOOK_TOKEN); it answers 201/202 with {"id", "status", "url"}; then GET
<url>/<id> until status is "ready" (or "failed"). DELETE <url>/<id> deprovisions.
A provisioner still working is a TransientError, so the engine polls with backoff.

Exactly once when a reply is lost: the slug is the marker (unique on both sides, and the
same on every retry of the same step, see tenants._slug). Before creating, `GET <url>?slug=`
asks whether an earlier POST, whose answer never came back, made the tenant already; if so
that tenant is adopted instead of a second one being made."""
import requests

from app.errors import DomainError, TransientError


def _call(config, method, path="", **kwargs):
    url = config["PROVISIONING_WEBHOOK_URL"].rstrip("/") + path
    headers = {"Authorization": f"Bearer {config.get('PROVISIONING_WEBHOOK_TOKEN') or ''}"}
    try:
        response = requests.request(method, url, headers=headers,
                                    timeout=config["HTTP_TIMEOUT_SECONDS"], **kwargs)
    except requests.Timeout as error:
        raise TransientError("The provisioner did not answer in time.") from error
    except requests.RequestException as error:
        raise TransientError(f"The provisioner could not be reached "
                             f"({type(error).__name__}).") from error
    if response.status_code >= 500:
        raise TransientError(f"The provisioner answered {response.status_code}")
    if response.status_code in (401, 403):
        raise DomainError(f"The provisioner refused our token ({response.status_code}): "
                          "check PROVISIONING_WEBHOOK_TOKEN.")
    if response.status_code >= 400:
        raise DomainError(f"The provisioner refused the tenant ({response.status_code}): "
                          f"{_reason(response)}")
    try:
        return response.json() if response.content else {}
    except ValueError as error:  # an HTML page from a proxy, say
        raise TransientError("The provisioner's answer was not JSON.") from error


def _reason(response):
    try:
        body = response.json()
    except ValueError:
        return "no reason given"
    return (body.get("error") or body.get("detail") if isinstance(body, dict) else None) \
        or "no reason given"


def provision(config, tenant):
    if tenant.external_id:
        return check(config, tenant)
    answer = _find(config, tenant.slug) or _call(config, "POST", json={
        "slug": tenant.slug, "customer": tenant.customer.number,
        "deployment_type": tenant.deployment_type, "license_key": tenant.license_key,
        "branding": tenant.branding})
    tenant.external_id = str(answer["id"])
    return _status(answer)


def check(config, tenant):
    if not tenant.external_id:  # saved before the POST's answer arrived: look it up first
        return provision(config, tenant)
    return _status(_call(config, "GET", f"/{tenant.external_id}"))


def deprovision(config, tenant):
    if not tenant.external_id:
        found = _find(config, tenant.slug)
        tenant.external_id = str(found["id"]) if found else None
    if tenant.external_id:
        try:
            _call(config, "DELETE", f"/{tenant.external_id}")
        except DomainError:
            # 404: gone already (our earlier DELETE whose answer was lost): that is the goal.
            if _find(config, tenant.slug):
                raise


def _find(config, slug):
    found = _call(config, "GET", params={"slug": slug})
    return next((t for t in found if t.get("slug") == slug), None) \
        if isinstance(found, list) else None


def _status(answer):
    status = answer.get("status")
    if status == "ready":
        return {"status": "active", "url": answer.get("url"), "external_id": answer.get("id")}
    if status == "failed":
        raise DomainError(f"The provisioner could not create the tenant: "
                          f"{answer.get('error') or 'no reason given'}")
    return {"status": "provisioning", "url": answer.get("url"),
            "external_id": answer.get("id")}
