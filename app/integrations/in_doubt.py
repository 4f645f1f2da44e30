"""Requests that the other side may still carry out after we stopped waiting for the answer.

A read timeout (the request went out; no answer within HTTP_TIMEOUT_SECONDS) or a proxy's 504
leaves a request in doubt: the server may still be working on it and make its effect after we
gave up (a NetBox slower than the timeout creates the address seconds later). The
integration notes it (`note`); the step's retry then waits before it looks for the effect by
its marker, until the timeout has passed once more since the request was given up on
(`settle`), so that a late effect has had the time to land. Whatever the retry then finds or
makes, the integration reconciles: of the effects carrying the marker the oldest is kept and
the others are undone, so a late effect that lands beside the retry's own still leaves one.

The note lives in Redis for a day, like the sandbox gateway's record of its charges: it only
makes a retry wait; losing it loses no effect (the marker still finds it)."""
import time

import requests

from app.extensions import get_redis

KEPT_SECONDS = 24 * 3600


def may_land_late(error):
    """Whether a failed request may still be carried out: it was sent and its answer did not
    come in time (a read timeout, or a proxy's 504 Gateway Timeout)."""
    if isinstance(error, requests.ReadTimeout):
        return True
    response = getattr(error, "response", None)
    if response is None:
        response = getattr(error, "req", None)  # pynetbox's RequestError
    return getattr(response, "status_code", None) == 504


def note(marker):
    get_redis().set(_key(marker), time.time(), ex=KEPT_SECONDS)


def settle(marker, timeout_seconds):
    """If a request under `marker` is in doubt, wait until its timeout has passed once more
    since it was given up on (part of that passed in the engine's backoff already)."""
    noted = get_redis().get(_key(marker))
    if noted is not None:
        time.sleep(max(0.0, float(noted) + timeout_seconds - time.time()))


def clear(marker):
    """The effect is settled (found or made, and reconciled): no retry needs to wait."""
    get_redis().delete(_key(marker))


def _key(marker):
    return f"lastmile:in-doubt:{marker}"
