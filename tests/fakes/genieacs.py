"""The GenieACS NBI endpoints Lastmile uses (https://docs.genieacs.com, NBI API reference), as
GenieACS 1.2's lib/nbi.ts and lib/api-functions.ts answer them:

  GET    /devices/?query=<JSON>&projection=_id   200 [devices]
  POST   /devices/<id>/tags/<tag>                200; tags are a set (a MongoDB $addToSet on
                                                 _tags), so tagging twice is harmless;
                                                 404 "No such device"
  POST   /devices/<id>/tasks?connection_request&timeout=3000
         the task is stored (insertTasks: `device` and `timestamp` set; a task with a
         `uniqueKey` first deletes the device's pending task with the same uniqueKey, so a
         task sent again replaces the one still queued instead of queueing a second); then
         200 and the task when the device applied it in the session the connection request
         started (an applied task is removed from the queue), 202 "Task queued but not
         processed" when the device is offline (the task stays queued until it connects);
         404 "No such device".
  GET    /tasks/?query=<JSON>                    200 [pending tasks] matching the query
  DELETE /tasks/<id>                             200; 404 "Task not found"
Device ids arrive percent-encoded in paths. Task ids are MongoDB ObjectIds (24 hex digits,
ascending in creation order)."""
import itertools
import json
import threading
import time
from urllib.parse import unquote

from tests.fakes import LosesReplies


class FakeGenieAcs(LosesReplies):
    def __init__(self):
        self.devices = {}  # id -> {"_id", "serial", "tags", "online", "params"}
        self.tasks = {}  # the pending (queued) tasks, by _id
        self.applied = []  # every task a device applied, in order
        self.lock = threading.Lock()
        self._ids = itertools.count(1)

    def add_device(self, device_id, serial, online=True):
        self.devices[device_id] = {"_id": device_id, "serial": serial, "tags": [],
                                   "online": online, "params": {}}

    def connect(self, device_id):
        """The device comes online and informs: it applies its queued tasks, oldest first."""
        with self.lock:
            device = self.devices[device_id]
            device["online"] = True
            for task_id in sorted(t for t, task in self.tasks.items()
                                  if task["device"] == device_id):
                self._apply(device, self.tasks.pop(task_id))

    def handle(self, method, path, query, body, headers):
        with self.lock:
            return self._route(method, path, query, body)

    def _route(self, method, path, query, body):
        if method == "GET" and path.rstrip("/") == "/devices":
            wanted = json.loads(query["query"][0]).get("_deviceId._SerialNumber")
            return 200, [{"_id": d["_id"]} for d in self.devices.values()
                         if d["serial"] == wanted]
        if method == "GET" and path.rstrip("/") == "/tasks":
            wanted = json.loads((query.get("query") or ["{}"])[0])
            return 200, [task for _, task in sorted(self.tasks.items())
                         if all(task.get(k) == v for k, v in wanted.items())]
        parts = path.split("/")  # "", "devices", <id>, ...
        if parts[1:2] == ["tasks"] and len(parts) == 3 and method == "DELETE":
            return (200, None) if self.tasks.pop(parts[2], None) else (404, None)
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
            return self._insert(device, body, "connection_request" in query)
        return 404, None

    def _insert(self, device, body, connection_request):
        task = {**body, "device": device["_id"], "timestamp": time.time()}
        if task.get("uniqueKey"):
            for task_id in [t for t, queued in self.tasks.items()
                            if queued["device"] == device["_id"]
                            and queued.get("uniqueKey") == task["uniqueKey"]]:
                del self.tasks[task_id]
        task["_id"] = f"{next(self._ids):024x}"
        self.tasks[task["_id"]] = task
        if connection_request and device["online"]:
            self._apply(device, self.tasks.pop(task["_id"]))
            return 200, task
        return 202, task

    def _apply(self, device, task):
        for name, value, *_type in task.get("parameterValues", []):
            device["params"][name] = value
        self.applied.append(task)
