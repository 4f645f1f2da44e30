"""Stripe: PaymentIntents confirmed at once, with our idempotency key as Stripe's
Idempotency-Key; refunds, whole or partial, through /v1/refunds. STRIPE_API_KEY,
STRIPE_API_BASE.

The card is a PaymentMethod id collected by Stripe.js; `payment_method_types[]=card` lets
Stripe confirm it at once with no return_url (a card never redirects). The invoice's words go
in the metadata (`metadata[description]`), which every Stripe API version and localstripe
accept. Amounts go in the currency's smallest unit (https://docs.stripe.com/currencies):
cents, whole units for zero-decimal currencies (JPY, KRW, ...), thousandths for three-decimal
ones (BHD, KWD, ...)."""
from decimal import Decimal

import requests

from app.errors import DomainError, TransientError, ValidationError

ZERO_DECIMAL = {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX",
                "VND", "VUV", "XAF", "XOF", "XPF"}
THREE_DECIMAL = {"BHD", "JOD", "KWD", "OMR", "TND"}


def _post(config, path, data, idempotency_key=None):
    headers = {"Authorization": f"Bearer {config['STRIPE_API_KEY']}"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    try:
        response = requests.post(config["STRIPE_API_BASE"].rstrip("/") + path, data=data,
                                 headers=headers, timeout=config["HTTP_TIMEOUT_SECONDS"])
    except requests.RequestException as error:
        raise TransientError(f"Stripe could not be reached: {error}") from error
    if response.status_code >= 500 or response.status_code == 429:
        raise TransientError(f"Stripe answered {response.status_code}")
    try:
        body = response.json() if response.content else {}
    except ValueError as error:  # a proxy's page, not Stripe's JSON
        raise TransientError(f"Stripe's answer ({response.status_code}) was not JSON.") \
            from error
    error = body.get("error") or {}
    if response.status_code == 402:
        raise DomainError(error.get("message") or "Your card was declined.",
                          code="card_declined")
    if response.status_code >= 400:
        raise DomainError(f"Stripe refused the request: "
                          f"{error.get('message', response.status_code)}")
    return body


def minor_units(amount, currency):
    """A Decimal amount in major units (59.00 USD) as Stripe's integer (5900)."""
    code = currency.upper()
    exponent = 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2
    return int((Decimal(str(amount)) * 10 ** exponent).to_integral_value())


def tokenize(config, card_number, exp_month, exp_year, cvc):
    raise ValidationError("With Stripe, cards are entered in Stripe's own form (Stripe.js); "
                          "send the PaymentMethod id instead of a card number.")


def charge(config, token, amount, currency, idempotency_key, description):
    intent = _post(config, "/v1/payment_intents", {
        "amount": minor_units(amount, currency), "currency": currency.lower(),
        "payment_method": token, "confirm": "true", "payment_method_types[]": "card",
        "metadata[description]": description}, idempotency_key)
    if intent.get("status") != "succeeded":
        raise DomainError(f"The payment was not completed ({intent.get('status')}).")
    return intent["id"]


def lookup(config, idempotency_key):
    """Stripe answers a request repeated with the same Idempotency-Key with the first
    request's result (for 24 hours), and the charge is only ever made once: so for Stripe,
    asking again with the same key *is* the look-up, and this says "ask again"."""
    return None


def refund(config, reference, idempotency_key, amount=None, currency=None):
    """Refund the PaymentIntent `reference`: all of it, or `amount` (a Decimal in major units
    of `currency`, which must then be given). Returns Stripe's refund id; None when there is
    no reference (nothing was charged). Each partial refund needs a key of its own: the same
    key again is the same refund."""
    if not reference:
        return None
    data = {"payment_intent": reference}
    if amount is not None:
        if not currency:
            raise ValueError("A partial refund needs the payment's currency.")
        data["amount"] = minor_units(amount, currency)
    return _post(config, "/v1/refunds", data, idempotency_key)["id"]
