"""The GenieACS northbound interface (GENIEACS_URL, default port 7557).

  GET    /devices/?query=<JSON>                    find a device by serial
  POST   /devices/<id>/tags/<tag>                  tag it
  POST   /devices/<id>/tasks?connection_request&timeout=3000   push a task
  GET    /tasks/?query=<JSON>, DELETE /tasks/<id>  the device's queued tasks
Task answers: 200 = done on the device; 202 = queued (device offline, or it faulted):
not done, so a TransientError and the engine retries with backoff. Device ids contain
characters such as '-' and '%', so they are always percent-encoded in paths.

Exactly once across lost and late replies: tags are a set on the ACS ($addToSet), so a tag
sent again is harmless. The configuration task carries a marker as its `uniqueKey`, with which
GenieACS replaces a task still queued for the device instead of queueing a second one. After a
timeout the retry first waits (in_doubt.settle) for a task the ACS may still be storing; and
after each push the tasks carrying the marker are reconciled: while ours is queued the oldest
stays and any other is deleted; once the device applied ours, a twin still queued is deleted
too (it would set the same values again)."""
import json
from urllib.parse import quote

import requests

from app.errors import DomainError, TransientError
from app.integrations import in_doubt


def _request(config, method, path, marker=None, **kwargs):
    auth = (config["GENIEACS_USERNAME"], config["GENIEACS_PASSWORD"]) \
        if config.get("GENIEACS_USERNAME") else None
    try:
        response = requests.request(method, config["GENIEACS_URL"].rstrip("/") + path,
                                    auth=auth, timeout=_timeout(config), **kwargs)
    except requests.RequestException as error:
        if marker and in_doubt.may_land_late(error):
            in_doubt.note(marker)
        raise TransientError(f"GenieACS could not be reached: {error}") from error
    if marker and response.status_code == 504:
        in_doubt.note(marker)
    if response.status_code >= 500:
        raise TransientError(f"GenieACS answered {response.status_code}")
    return response


def _timeout(config):
    """A connection request makes GenieACS wait for the device's session before it answers."""
    return config["HTTP_TIMEOUT_SECONDS"] + 5


def find_device(config, serial):
    query = json.dumps({"_deviceId._SerialNumber": serial})
    response = _request(config, "GET", "/devices/", params={"query": query,
                                                            "projection": "_id"})
    if response.status_code != 200:
        raise DomainError(f"GenieACS refused the device search ({response.status_code}).")
    devices = response.json()
    if not devices:
        raise TransientError(f"The CPE {serial} has not contacted the ACS yet; it will be "
                             "looked for again.")
    return devices[0]["_id"]


def tag_device(config, device_id, tag):
    response = _request(config, "POST", f"/devices/{quote(device_id, safe='')}/tags/"
                                        f"{quote(tag, safe='')}")
    if response.status_code not in (200, 204):
        raise DomainError(f"GenieACS could not tag the device ({response.status_code}).")


def set_parameters(config, device_id, parameter_values, marker):
    """Push the values as one task (uniqueKey `marker`) with a connection request. Returns the
    task's id once the device applied it; a task only queued is a TransientError."""
    in_doubt.settle(marker, _timeout(config))
    _keep_oldest_task(config, device_id, marker)
    response = _request(config, "POST", f"/devices/{quote(device_id, safe='')}/tasks",
                        marker=marker, params={"connection_request": "", "timeout": "3000"},
                        json={"name": "setParameterValues", "uniqueKey": marker,
                              "parameterValues": parameter_values})
    if response.status_code == 404:
        raise TransientError("The device is not known to the ACS yet.")
    if response.status_code not in (200, 202):
        raise DomainError(f"GenieACS refused the task ({response.status_code}).")
    in_doubt.clear(marker)
    if response.status_code == 202:
        _keep_oldest_task(config, device_id, marker)
        raise TransientError("The device is offline or faulted: the task is queued on the ACS "
                             "and will be checked again.")
    _keep_oldest_task(config, device_id, marker, keep=0)  # ours is applied: no twin waits
    return response.json().get("_id")


def _keep_oldest_task(config, device_id, marker, keep=1):
    """Reconcile: of the device's queued tasks carrying the marker, the oldest `keep` stay and
    the others are deleted (a late task and its retry's may both have been stored)."""
    response = _request(config, "GET", "/tasks/", params={
        "query": json.dumps({"device": device_id, "uniqueKey": marker})})
    if response.status_code != 200:
        raise DomainError(f"GenieACS refused the task search ({response.status_code}).")
    for task in sorted(response.json(), key=lambda task: task["_id"])[keep:]:
        _request(config, "DELETE", f"/tasks/{quote(task['_id'], safe='')}")
