"""Disconnect-Request (RFC 5176) to the NAS that holds a subscriber's session, so that the
session ends and the subscriber's router signs in again, getting what FreeRADIUS now replies
(the suspended rate, or the plan's rate again).

The NAS is told which session by User-Name, Acct-Session-Id and Framed-IP-Address (RFC 5176
§3: session identification), as FreeRADIUS recorded them in radacct. It answers Disconnect-ACK
or Disconnect-NAK with an Error-Cause; no answer is retried (pyrad resends the same packet),
and so is a NAK whose cause may pass (Resources-Unavailable and the like). A NAK saying
Session-Context-Not-Found means the session is already gone: nothing left to cut.

Settings: NAS_COA_PORT (3799, RFC 5176's port), NAS_COA_TIMEOUT_SECONDS (2) and
NAS_COA_RETRIES (3) per request. The shared secret is the NAS's `nas` table row (the one
FreeRADIUS reads its clients from), else NAS_COA_SECRET."""
import logging
import time
from pathlib import Path

from pyrad import packet
from pyrad.client import Client, Timeout
from pyrad.dictionary import Dictionary

log = logging.getLogger(__name__)
DICTIONARY = Path(__file__).resolve().parent / "radius" / "dictionary"
SESSION_GONE = 503  # Error-Cause Session-Context-Not-Found
_dictionary = None


def dictionary():
    global _dictionary
    if _dictionary is None:
        _dictionary = Dictionary(str(DICTIONARY))
    return _dictionary


def disconnect(config, nas_address, secret, username, session_id=None, framed_ip=None):
    """Ask the NAS to end one session. Returns {"outcome": "ack" | "gone" | "nak" |
    "no_answer", "nas": address, "attempts": n, "error_cause": ...}; never raises for what
    the NAS answers (the caller decides what a NAK means for it)."""
    retries = int(config.get("NAS_COA_RETRIES", 3))
    client = Client(server=nas_address, coaport=int(config.get("NAS_COA_PORT", 3799)),
                    secret=secret.encode(), dict=dictionary(), retries=1,
                    timeout=float(config.get("NAS_COA_TIMEOUT_SECONDS", 2)))
    attributes = {"User-Name": username, "NAS-IP-Address": nas_address,
                  "Event-Timestamp": int(time.time())}
    if session_id:
        attributes["Acct-Session-Id"] = session_id
    if framed_ip:
        attributes["Framed-IP-Address"] = framed_ip
    result = {"nas": nas_address, "username": username, "outcome": "no_answer",
              "attempts": 0}
    try:
        for attempt in range(1, retries + 1):
            result["attempts"] = attempt
            request = client.CreateCoAPacket(code=packet.DisconnectRequest, **attributes)
            try:
                reply = client.SendPacket(request)
            except (Timeout, OSError) as error:  # no answer (or unreachable): try again
                result.update(outcome="no_answer", error=str(error) or "no answer")
                continue
            if reply.code == packet.DisconnectACK:
                result.update(outcome="ack", error=None)
                return result
            cause = _error_cause(reply)
            result.update(outcome="nak", error_cause=cause)
            if cause == SESSION_GONE:
                result["outcome"] = "gone"
                return result
            if cause is not None and 400 <= cause < 500:
                return result  # the request itself is wrong: sending it again will not help
            time.sleep(min(0.5 * attempt, 2))
        return result
    finally:
        client._CloseSocket()


def _error_cause(reply):
    values = reply.get(101) or []
    if not values:
        return None
    value = values[0]
    if isinstance(value, bytes):
        return int.from_bytes(value, "big")
    try:
        return int(value)
    except (TypeError, ValueError):
        return dictionary().attributes["Error-Cause"].values.GetForward(value) \
            if hasattr(dictionary().attributes["Error-Cause"].values, "GetForward") else None
