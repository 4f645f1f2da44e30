"""The GenieACS northbound interface (GENIEACS_URL, default port 7557).

  GET  /devices/?query=<JSON>                      find a device by serial
  POST /devices/<id>/tags/<tag>                    tag it
  POST /devices/<id>/tasks?connection_request&timeout=3000   push a task
Task answers: 200 = done on the device; 202 = queued (device offline, or it faulted):
not done, so a TransientError and the engine retries with backoff. Device ids contain
characters such as '-' and '%', so they are always percent-encoded in paths.

A lost reply needs no marker here: both effects are harmless when sent again. Tags are a set
on the ACS ($addToSet), and a setParameterValues sets the same values again; so a retry
after a timeout or a 5xx simply sends both again."""
import json
from urllib.parse import quote

import requests

from app.errors import DomainError, TransientError


def _request(config, method, path, **kwargs):
    auth = (config["GENIEACS_USERNAME"], config["GENIEACS_PASSWORD"]) \
        if config.get("GENIEACS_USERNAME") else None
    try:
        response = requests.request(method, config["GENIEACS_URL"].rstrip("/") + path,
                                    auth=auth, timeout=config["HTTP_TIMEOUT_SECONDS"] + 5,
                                    **kwargs)
    except requests.RequestException as error:
        raise TransientError(f"GenieACS could not be reached: {error}") from error
    if response.status_code >= 500:
        raise TransientError(f"GenieACS answered {response.status_code}")
    return response


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


def set_parameters(config, device_id, parameter_values):
    response = _request(config, "POST", f"/devices/{quote(device_id, safe='')}/tasks",
                        params={"connection_request": "", "timeout": "3000"},
                        json={"name": "setParameterValues",
                              "parameterValues": parameter_values})
    if response.status_code == 404:
        raise TransientError("The device is not known to the ACS yet.")
    if response.status_code == 202:
        raise TransientError("The device is offline or faulted: the task is queued on the ACS "
                             "and will be checked again.")
    if response.status_code != 200:
        raise DomainError(f"GenieACS refused the task ({response.status_code}).")
    return response.json().get("_id")
