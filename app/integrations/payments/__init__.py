"""Payment gateways, chosen by PAYMENT_GATEWAY: manual, sandbox, stripe.

A gateway module has:
  tokenize(config, card_number, exp_month, exp_year, cvc)
      -> {"token", "brand", "last4", "fingerprint"}
  charge(config, token, amount, currency, idempotency_key, description) -> reference
      (raises DomainError with the gateway's reason on a decline, TransientError on a
      network error or a lost reply; the same idempotency key never charges twice)
  lookup(config, idempotency_key) -> None | {"status": "succeeded", "reference"}
                                          | {"status": "failed", "reason"}
      (what became of an attempt whose reply never came; None: the gateway never saw it,
      or, for a gateway that replays by key, "charge again with the same key")
  refund(config, reference, idempotency_key, amount=None, currency=None) -> refund reference
      (the payment `reference` refunded in full, or `amount` of it: a Decimal in major units
      of `currency`; None = the whole payment. The same idempotency key never refunds twice,
      so each partial refund of one payment has a key of its own)
"""
from app.integrations.payments import manual, sandbox, stripe_gateway

GATEWAYS = {"manual": manual, "sandbox": sandbox, "stripe": stripe_gateway}


def get_gateway(name):
    return GATEWAYS[name]
