"""An external provisioner: POST the tenant to PROVISIONING_WEBHOOK_URL (bearer
PROVISIONING_WEBHOOK_TOKEN); it answers 201/202 with {"id", "status", "url"}; then GET
<url>/<id> until status is "ready" (or "failed"). DELETE <url>/<id> deprovisions.
A provisioner still working is a TransientError, so the engine polls with backoff.

Exactly once when a reply is lost or late: the slug is the marker (the same on every retry of
the same step, see tenants._slug). Before creating, `GET <url>?slug=` asks whether an earlier
POST, whose answer never came back, made the tenant already; if so that tenant is adopted
instead of a second one being made (a POST answered 409, "that slug exists", is adopted the
same way). After a timeout the retry first waits (in_doubt.settle) for a POST the provisioner
may still be carrying out. And whenever the tenant is looked at (created, adopted, polled)
the tenants with its slug are reconciled: the oldest (listed first) is kept and recorded, any
other deleted, for a provisioner that made a second tenant for a late POST."""
import requests

from app.errors import DomainError, TransientError
from app.integrations import in_doubt


def _call(config, method, path="", marker=None, **kwargs):
    url = config["PROVISIONING_WEBHOOK_URL"].rstrip("/") + path
    headers = {"Authorization": f"Bearer {config.get('PROVISIONING_WEBHOOK_TOKEN') or ''}"}
    try:
        response = requests.request(method, url, headers=headers,
                                    timeout=config["HTTP_TIMEOUT_SECONDS"], **kwargs)
    except requests.RequestException as error:
        if marker and in_doubt.may_land_late(error):
            in_doubt.note(marker)
        if isinstance(error, requests.Timeout):
            raise TransientError("The provisioner did not answer in time.") from error
        raise TransientError(f"The provisioner could not be reached "
                             f"({type(error).__name__}).") from error
    if marker and response.status_code == 504:
        in_doubt.note(marker)
    if response.status_code == 409 and method == "POST":
        return None  # that slug exists already: the caller looks it up
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
    marker = _marker(tenant)
    in_doubt.settle(marker, config["HTTP_TIMEOUT_SECONDS"])
    if not _keep_oldest(config, tenant.slug):
        _call(config, "POST", marker=marker, json={
            "slug": tenant.slug, "customer": tenant.customer.number,
            "deployment_type": tenant.deployment_type, "license_key": tenant.license_key,
            "branding": tenant.branding})
    kept = _keep_oldest(config, tenant.slug)
    if kept is None:
        raise TransientError("The provisioner did not list the tenant it made yet.")
    in_doubt.clear(marker)
    tenant.external_id = str(kept["id"])
    return _status(kept)


def check(config, tenant):
    if not tenant.external_id:  # saved before the POST's answer arrived: look it up first
        return provision(config, tenant)
    # A late POST may have made a second tenant since: the oldest is the one we follow.
    kept = _keep_oldest(config, tenant.slug)
    if kept is not None:
        tenant.external_id = str(kept["id"])
    return _status(_call(config, "GET", f"/{tenant.external_id}"))


def deprovision(config, tenant):
    """Delete every tenant with the slug (a late POST's too), and the one we recorded."""
    ids = {str(t["id"]) for t in _with_slug(config, tenant.slug)}
    ids.update([tenant.external_id] if tenant.external_id else [])
    for tenant_id in ids:
        try:
            _call(config, "DELETE", f"/{tenant_id}")
        except DomainError:
            # 404: gone already (our earlier DELETE whose answer was lost): that is the goal.
            if any(str(t["id"]) == tenant_id for t in _with_slug(config, tenant.slug)):
                raise


def _keep_oldest(config, slug):
    """Reconcile: of the tenants with the slug the oldest (the provisioner lists them oldest
    first) is kept and returned; any other is deleted. None when there is none."""
    found = _with_slug(config, slug)
    for extra in found[1:]:
        _call(config, "DELETE", f"/{extra['id']}")
    return found[0] if found else None


def _with_slug(config, slug):
    found = _call(config, "GET", params={"slug": slug})
    return [t for t in found if t.get("slug") == slug] if isinstance(found, list) else []


def _marker(tenant):
    return f"provisioner:{tenant.slug}"


def _status(answer):
    status = answer.get("status")
    if status == "ready":
        return {"status": "active", "url": answer.get("url"), "external_id": answer.get("id")}
    if status == "failed":
        raise DomainError(f"The provisioner could not create the tenant: "
                          f"{answer.get('error') or 'no reason given'}")
    return {"status": "provisioning", "url": answer.get("url"),
            "external_id": answer.get("id")}
