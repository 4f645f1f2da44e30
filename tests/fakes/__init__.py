"""HTTP stand-ins for services that cannot run here. Each follows the real service's API
(paths, status codes, payloads), because the same client code talks to the real thing."""
import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class JsonHandler(BaseHTTPRequestHandler):
    """Routes "METHOD /path" to methods of the stand-in; answers JSON."""
    state = None  # set per server

    def log_message(self, *args):
        pass

    def _dispatch(self, method):
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        content_type = self.headers.get("Content-Type", "")
        if "json" in content_type and raw:
            body = json.loads(raw)
        elif raw:
            body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        else:
            body = {}
        status, payload = self.state.handle(method, url.path, parse_qs(url.query,
                                            keep_blank_values=True), body, self.headers)
        data = json.dumps(payload).encode() if payload is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
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
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
