"""Stripe: PaymentIntents confirmed at once, with our idempotency key as Stripe's
Idempotency-Key; refunds through /v1/refunds. STRIPE_API_KEY, STRIPE_API_BASE."""
from decimal import Decimal

import requests

from app.errors import DomainError, TransientError, ValidationError


def _post(config, path, data, idempotency_key=None):
    headers = {"Authorization": f"Bearer {config['STRIPE_API_KEY']}"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    try:
        response = requests.post(config["STRIPE_API_BASE"].rstrip("/") + path, data=data,
                                 headers=headers, timeout=config["HTTP_TIMEOUT_SECONDS"])
    except requests.RequestException as error:
        raise TransientError(f"Stripe could not be reached: {error}") from error
    body = response.json() if response.content else {}
    if response.status_code >= 500 or response.status_code == 429:
        raise TransientError(f"Stripe answered {response.status_code}")
    if response.status_code == 402:
        raise DomainError(body.get("error", {}).get("message") or "Your card was declined.",
                          code="card_declined")
    if response.status_code >= 400:
        raise DomainError(f"Stripe refused the request: "
                          f"{body.get('error', {}).get('message', response.status_code)}")
    return body


def tokenize(config, card_number, exp_month, exp_year, cvc):
    raise ValidationError("With Stripe, cards are entered in Stripe's own form (Stripe.js); "
                          "send the PaymentMethod id instead of a card number.")


def charge(config, token, amount, currency, idempotency_key, description):
    intent = _post(config, "/v1/payment_intents", {
        "amount": int((Decimal(str(amount)) * 100).to_integral_value()),
        "currency": currency.lower(), "payment_method": token, "confirm": "true",
        "description": description, "automatic_payment_methods[enabled]": "true",
        "automatic_payment_methods[allow_redirects]": "never"}, idempotency_key)
    if intent.get("status") != "succeeded":
        raise DomainError(f"The payment was not completed ({intent.get('status')}).")
    return intent["id"]


def lookup(config, idempotency_key):
    """Stripe answers a request repeated with the same Idempotency-Key with the first
    request's result (for 24 hours), and the charge is only ever made once: so for Stripe,
    asking again with the same key *is* the look-up, and this says "ask again"."""
    return None


def refund(config, reference, idempotency_key):
    if reference:
        return _post(config, "/v1/refunds", {"payment_intent": reference},
                     idempotency_key)["id"]
