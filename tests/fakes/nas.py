"""A NAS's Dynamic Authorization Server (RFC 5176), as a BRAS/MikroTik runs it on UDP 3799.

It does what RFC 5176 says a NAS does with a Disconnect-Request:
  - a request whose Request Authenticator does not verify with the shared secret (§3.3, §5.1)
    is silently discarded: no answer at all;
  - a request for a session the NAS holds ends that session and is answered Disconnect-ACK;
  - one for a session it does not know is answered Disconnect-NAK with Error-Cause 503
    (Session-Context-Not-Found, §3.5);
  - `answer = "nak"` answers Disconnect-NAK with Error-Cause 506 (Resources-Unavailable), as a
    busy NAS does; `answer = "silent"` drops every request (a NAS that is down).
Sessions are identified by User-Name (and Acct-Session-Id when given, §3: both must match).
Every request that verified is kept in `requests` (attributes decoded) for the tests."""
import socket
import threading

from pyrad import packet

from app.integrations.nas import dictionary

SESSION_CONTEXT_NOT_FOUND = 503
RESOURCES_UNAVAILABLE = 506


class FakeNas:
    def __init__(self, address, secret, port=3799):
        self.address, self.secret, self.port = address, secret.encode(), port
        self.sessions = {}  # username -> acct session id
        self.requests = []
        self.discarded = 0
        self.answer = "ack"  # ack | nak | silent
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind((address, port))
        self._socket.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)
        self._socket.close()

    def open_session(self, username, session_id):
        self.sessions[username] = session_id

    def disconnects_for(self, username):
        return [r for r in self.requests if r.get("User-Name") == username]

    def _serve(self):
        while not self._stop.is_set():
            try:
                raw, peer = self._socket.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            reply = self._handle(raw)
            if reply is not None:
                self._socket.sendto(reply, peer)

    def _handle(self, raw):
        try:
            request = packet.CoAPacket(packet=raw, secret=self.secret, dict=dictionary())
        except packet.PacketError:
            self.discarded += 1
            return None
        if request.code != packet.DisconnectRequest or not request.VerifyCoARequest():
            self.discarded += 1  # RFC 5176 §3.3: a bad authenticator is silently discarded
            return None
        attributes = {key: request[key][0] for key in request.keys()
                      if isinstance(key, str)}
        self.requests.append(attributes)
        if self.answer == "silent":
            return None
        reply = request.CreateReply()
        if self.answer == "nak":
            reply.code = packet.DisconnectNAK
            reply["Error-Cause"] = RESOURCES_UNAVAILABLE
            return reply.ReplyPacket()
        username = attributes.get("User-Name")
        session_id = attributes.get("Acct-Session-Id")
        known = self.sessions.get(username)
        if known is None or (session_id and session_id != known):
            reply.code = packet.DisconnectNAK
            reply["Error-Cause"] = SESSION_CONTEXT_NOT_FOUND
            return reply.ReplyPacket()
        del self.sessions[username]  # the session is ended
        return reply.ReplyPacket()
