"""The sandbox gateway: real card handling rules with documented test numbers, no money.

  4242 4242 4242 4242  succeeds
  4000 0000 0000 0002  declined (generic decline)
  4000 0000 0000 9995  declined (insufficient funds)
  4000 0000 0000 0119  network error (no answer, nothing charged; never succeeds)
  4000 0000 0000 0259  captured, but the reply is lost (the client sees a network error; asking
                       the gateway for the attempt then shows it captured)
Any other number that passes the Luhn check succeeds; one that fails it is refused.

Like a real gateway, the sandbox keeps each attempt's outcome on its side (in Redis) under the
idempotency key: a replay returns the first outcome, and `lookup` answers "what became of the
attempt with this key?" for a client that never heard back.
"""
import hashlib
import hmac
import json
import secrets

from app.errors import DomainError, TransientError, ValidationError
from app.extensions import get_redis

DECLINES = {"0002": "Your card was declined.",
            "9995": "Your card has insufficient funds."}
NETWORK_ERROR = "0119"
REPLY_LOST = "0259"


def luhn_ok(number):
    digits = [int(d) for d in number][::-1]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


def tokenize(config, card_number, exp_month, exp_year, cvc):
    number = "".join(ch for ch in str(card_number or "") if ch.isdigit())
    if not number:
        raise ValidationError("Enter the card number.",
                              details={"card_number": "Enter the card number."})
    if not 12 <= len(number) <= 19 or not luhn_ok(number):
        raise ValidationError("That card number is not valid.",
                              details={"card_number": "Check the card number."})
    if not str(cvc or "").isdigit() or len(str(cvc)) not in (3, 4):
        raise ValidationError("The security code is 3 or 4 digits.",
                              details={"cvc": "3 or 4 digits."})
    brand = {"4": "visa", "5": "mastercard", "3": "amex"}.get(number[0], "card")
    # The token says nothing of the number but its test behaviour (the last 4, shown to the
    # customer anyway); the fingerprint is keyed, so the number cannot be recovered from it.
    fingerprint = hmac.new(config["SECRET_KEY"].encode(), b"sandbox-card:" + number.encode(),
                           hashlib.sha256).hexdigest()[:32]
    return {"token": f"sbx_{number[-4:]}_{secrets.token_hex(12)}", "brand": brand,
            "last4": number[-4:], "fingerprint": fingerprint}


def charge(config, token, amount, currency, idempotency_key, description):
    done = lookup(config, idempotency_key)
    if done is not None:
        if done["status"] == "failed":
            raise DomainError(done["reason"], code="card_declined")
        return done["reference"]
    last4 = token.split("_")[1] if token.startswith("sbx_") else ""
    if last4 == NETWORK_ERROR:
        raise TransientError("The payment network did not answer.")
    if last4 in DECLINES:
        outcome = {"status": "failed", "reason": DECLINES[last4]}
    else:
        outcome = {"status": "succeeded", "reference": "sbx_ch_" + secrets.token_hex(10)}
    outcome = _record(idempotency_key, outcome)
    if outcome["status"] == "failed":
        raise DomainError(outcome["reason"], code="card_declined")
    if last4 == REPLY_LOST:
        raise TransientError("The payment network did not answer in time.")
    return outcome["reference"]


def lookup(config, idempotency_key):
    """The attempt made under this key: {"status": "succeeded", "reference"} or
    {"status": "failed", "reason"}; None if the sandbox never saw it."""
    done = get_redis().get(_key(idempotency_key))
    return json.loads(done) if done else None


def refund(config, reference, idempotency_key):
    return f"sbx_re_{reference[-12:]}" if reference else None


def _record(idempotency_key, outcome):
    """Keep the outcome unless a concurrent attempt with the same key kept one first: that
    one is the outcome, for both."""
    redis = get_redis()
    redis.set(_key(idempotency_key), json.dumps(outcome), nx=True)
    return json.loads(redis.get(_key(idempotency_key)))


def _key(idempotency_key):
    return f"lastmile:sandbox:charge:{idempotency_key}"
