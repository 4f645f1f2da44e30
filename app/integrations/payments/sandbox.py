"""The sandbox gateway: real card handling rules with documented test numbers, no money.

  4242 4242 4242 4242  succeeds
  4000 0000 0000 0002  declined (generic decline)
  4000 0000 0000 9995  declined (insufficient funds)
  4000 0000 0000 0119  network error (the engine retries; never succeeds)
Any other number that passes the Luhn check succeeds; one that fails it is refused.
Charges are kept in Redis under their idempotency key, so a replay returns the first charge.
"""
import hashlib

from app.errors import DomainError, TransientError, ValidationError
from app.extensions import get_redis

DECLINES = {"0002": "Your card was declined.",
            "9995": "Your card has insufficient funds."}
NETWORK_ERROR = "0119"


def luhn_ok(number):
    digits = [int(d) for d in number][::-1]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


def tokenize(config, card_number, exp_month, exp_year, cvc):
    number = "".join(ch for ch in str(card_number or "") if ch.isdigit())
    if not 12 <= len(number) <= 19 or not luhn_ok(number):
        raise ValidationError("That card number is not valid.",
                              details={"card_number": "Check the card number."})
    if not str(cvc or "").isdigit() or len(str(cvc)) not in (3, 4):
        raise ValidationError("The security code is 3 or 4 digits.",
                              details={"cvc": "3 or 4 digits."})
    brand = {"4": "visa", "5": "mastercard", "3": "amex"}.get(number[0], "card")
    # The token stands for the card without being it: the test behaviour (last 4) and a hash.
    token = f"sbx_{number[-4:]}_{hashlib.sha256(number.encode()).hexdigest()[:16]}"
    return {"token": token, "brand": brand, "last4": number[-4:]}


def charge(config, token, amount, currency, idempotency_key, description):
    redis = get_redis()
    key = f"lastmile:sandbox:charge:{idempotency_key}"
    done = redis.get(key)
    if done:
        return done.decode()
    last4 = token.split("_")[1] if token.startswith("sbx_") else ""
    if last4 == NETWORK_ERROR:
        raise TransientError("The payment network did not answer.")
    if last4 in DECLINES:
        raise DomainError(DECLINES[last4], code="card_declined")
    reference = "sbx_ch_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:20]
    redis.set(key, reference)
    return reference


def refund(config, reference, idempotency_key):
    return f"sbx_re_{reference[-12:]}" if reference else None
