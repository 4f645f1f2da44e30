"""HTTP stand-ins for services that cannot run here. Each follows the real service's API
(paths, status codes, payloads), because the same client code talks to the real thing.

Every stand-in can also lose a reply after its effect happened (`lose_next_reply`): the
request is handled in full (the IP created, the tenant made, the card charged) and only then
is the answer lost, as when a proxy times out or a connection drops on the way back."""
import json
from http import HTTPStatus
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class LosesReplies:
    """Mixin for a stand-in's state: the switch that loses replies after the effect."""

    def lose_next_reply(self, method, path_contains="", how="drop", times=1):
        """The next `times` successful (2xx) replies to `method` on a path containing
        `path_contains` are lost. `how`: "drop" closes the connection without an answer (the
        client sees the connection reset); an int >= 500 answers that status instead, like a
        proxy in front of the server (502, 504); a float delays the real answer that many
        seconds (set it past the client's timeout)."""
        rules = self.__dict__.setdefault("_lost_replies", [])
        rules.append({"method": method, "path": path_contains, "how": how, "times": times})

    def take_lost_reply(self, method, path, status):
        for rule in self.__dict__.get("_lost_replies", []):
            if 200 <= status < 300 and rule["times"] and rule["method"] == method \
                    and rule["path"] in path:
                rule["times"] -= 1
                return rule["how"]
        return None


class JsonHandler(BaseHTTPRequestHandler):
    """Routes "METHOD /path" to methods of the stand-in; answers JSON. `handle` may return
    (status, payload) or (status, payload, extra headers)."""
    state = None  # set per server

    def log_message(self, *args):
        pass

    def _dispatch(self, method):
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        content_type = self.headers.get("Content-Type", "")
        try:
            if "json" in content_type and raw:
                body = json.loads(raw)
            elif raw:
                body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            else:
                body = {}
        except ValueError:
            return self._send(400, {"detail": "JSON parse error"}, {})
        answer = self.state.handle(method, url.path, parse_qs(url.query,
                                   keep_blank_values=True), body, self.headers)
        status, payload, headers = (*answer, {}) if len(answer) == 2 else answer
        lost = getattr(self.state, "take_lost_reply", lambda *a: None)(method, url.path,
                                                                      status)
        if lost == "drop":
            self.close_connection = True  # the effect happened; the answer never leaves
            return None
        if isinstance(lost, int):
            phrase = HTTPStatus(lost).phrase
            return self._send(lost, None, {}, text=f"<html><body><h1>{lost} {phrase}</h1>"
                                                  "</body></html>")
        if isinstance(lost, float):
            time.sleep(lost)
        return self._send(status, payload, headers)

    def _send(self, status, payload, headers, text=None):
        if text is not None:
            data, kind = text.encode(), "text/html"
        else:
            data = json.dumps(payload).encode() if payload is not None else b""
            kind = "application/json"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_PATCH(self):
        self._dispatch("PATCH")


@contextmanager
def serve(state):
    """Run `state` (an object with handle(method, path, query, body, headers)) on a free
    port of 127.0.0.1; yields the base URL."""
    handler = type("Handler", (JsonHandler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True  # a delayed reply must not hold the test's end
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
