"""HTTP stand-ins for services that cannot run here. Each follows the real service's API
(paths, status codes, payloads), because the same client code talks to the real thing.

Every stand-in can also lose a reply after its effect happened (`lose_next_reply`): the
request is handled in full (the IP created, the tenant made, the card charged) and only then
is the answer lost, as when a proxy times out or a connection drops on the way back. And it can
be slow (`slow_down_next`): the request is carried out late, after the client gave up waiting,
so its effect lands while the client's retry is already under way."""
import json
from http import HTTPStatus
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class LosesReplies:
    """Mixin for a stand-in's state: the switches that lose replies after the effect, or make
    the server slow."""

    def lose_next_reply(self, method, path_contains="", how="drop", times=1):
        """The next `times` successful (2xx) replies to `method` on a path containing
        `path_contains` are lost. `how`: "drop" closes the connection without an answer (the
        client sees the connection reset); an int >= 500 answers that status instead, like a
        proxy in front of the server (502, 504); a float delays the real answer that many
        seconds (set it past the client's timeout)."""
        rules = self.__dict__.setdefault("_lost_replies", [])
        rules.append({"method": method, "path": path_contains, "how": how, "times": times})

    def slow_down_next(self, method, path_contains="", seconds=5.0, times=1):
        """The next `times` requests of `method` on a path containing `path_contains` are
        carried out `seconds` late: the server sits on the request first and only then does
        the work and answers (a server slower than the client's timeout: the effect lands
        after the client gave up). A stand-in may hold a lock meanwhile, as its server does
        (NetBox's available-ips holds its advisory lock, see tests/fakes/netbox.py)."""
        rules = self.__dict__.setdefault("_slow_requests", [])
        rules.append({"method": method, "path": path_contains, "seconds": seconds,
                      "times": times})

    def take_slowness(self, method, path):
        for rule in self.__dict__.get("_slow_requests", []):
            if rule["times"] and rule["method"] == method and rule["path"] in path:
                rule["times"] -= 1
                return rule["seconds"]
        return 0

    def carry_out(self, method, path, work, delay):
        """Do `work` (the request), `delay` seconds late; a stand-in whose server holds a lock
        while it works overrides this."""
        time.sleep(delay)
        return work()

    def take_lost_reply(self, method, path, status):
        for rule in self.__dict__.get("_lost_replies", []):
            if 200 <= status < 300 and rule["times"] and rule["method"] == method \
                    and rule["path"] in path:
                rule["times"] -= 1
                return rule["how"]
        return None


class Html(str):
    """A reply body that is an HTML page, not JSON (a web framework's own error page)."""


class JsonHandler(BaseHTTPRequestHandler):
    """Routes "METHOD /path" to methods of the stand-in (a LosesReplies); answers JSON, or
    HTML for an Html payload. `handle` may return (status, payload) or (status, payload,
    extra headers)."""
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
        query = parse_qs(url.query, keep_blank_values=True)
        answer = self.state.carry_out(
            method, url.path,
            lambda: self.state.handle(method, url.path, query, body, self.headers),
            self.state.take_slowness(method, url.path))
        status, payload, headers = (*answer, {}) if len(answer) == 2 else answer
        lost = self.state.take_lost_reply(method, url.path, status)
        if lost == "drop":
            self.close_connection = True  # the effect happened; the answer never leaves
            return None
        if isinstance(lost, int):
            phrase = HTTPStatus(lost).phrase
            return self._send(lost, None, {}, text=f"<html><body><h1>{lost} {phrase}</h1>"
                                                  "</body></html>")
        if isinstance(lost, float):
            time.sleep(lost)
        if isinstance(payload, Html):
            return self._send(status, None, headers, text=payload)
        return self._send(status, payload, headers)

    def _send(self, status, payload, headers, text=None):
        if text is not None:
            data, kind = text.encode(), "text/html"
        else:
            data = json.dumps(payload).encode() if payload is not None else b""
            kind = "application/json"
        try:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a late answer): the server does not mind

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
