"""The GenieACS NBI endpoints Lastmile uses (https://docs.genieacs.com, NBI API reference):

  GET  /devices/?query=<JSON>&projection=_id   200 [devices]
  POST /devices/<id>/tags/<tag>                200; tags are a set (GenieACS's NBI does a
                                               MongoDB $addToSet on _tags), so tagging twice
                                               is harmless; 404 "No such device"
  POST /devices/<id>/tasks?connection_request&timeout=3000
       200 the task when the device applied it in time; 202 when it was only queued
       (device offline) or faulted; 404 unknown device.
Device ids arrive percent-encoded in paths. A setParameterValues sent again sets the same
values again: the device ends in the same state."""
import itertools
import json
from urllib.parse import unquote

from tests.fakes import LosesReplies


class FakeGenieAcs(LosesReplies):
    def __init__(self):
        self.devices = {}  # id -> {"_id", "serial", "tags", "online", "params"}
        self.tasks = []
        self._ids = itertools.count(1)

    def add_device(self, device_id, serial, online=True):
        self.devices[device_id] = {"_id": device_id, "serial": serial, "tags": [],
                                   "online": online, "params": {}}

    def handle(self, method, path, query, body, headers):
        if method == "GET" and path.rstrip("/") == "/devices":
            wanted = json.loads(query["query"][0]).get("_deviceId._SerialNumber")
            return 200, [{"_id": d["_id"]} for d in self.devices.values()
                         if d["serial"] == wanted]
        parts = path.split("/")  # "", "devices", <id>, ...
        if len(parts) < 4 or parts[1] != "devices":
            return 404, None
        device = self.devices.get(unquote(parts[2]))
        if device is None:
            return 404, None
        if method == "POST" and parts[3] == "tags" and len(parts) == 5:
            if unquote(parts[4]) not in device["tags"]:
                device["tags"].append(unquote(parts[4]))
            return 200, None
        if method == "POST" and parts[3] == "tasks":
            task = {"_id": f"task{next(self._ids)}", "device": device["_id"], **body}
            self.tasks.append(task)
            if "connection_request" in query and device["online"]:
                for name, value, _type in body.get("parameterValues", []):
                    device["params"][name] = value
                return 200, task
            return 202, task
        return 404, None
