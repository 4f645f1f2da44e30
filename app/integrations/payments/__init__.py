"""Payment gateways, chosen by PAYMENT_GATEWAY: manual, sandbox, stripe.

A gateway module has:
  tokenize(config, card_number, exp_month, exp_year, cvc) -> {"token", "brand", "last4"}
  charge(config, token, amount, currency, idempotency_key, description) -> reference
      (raises DomainError with the gateway's reason on a decline, TransientError on a
      network error; the same idempotency key never charges twice)
  refund(config, reference, idempotency_key)
"""
from app.integrations.payments import manual, sandbox, stripe_gateway

GATEWAYS = {"manual": manual, "sandbox": sandbox, "stripe": stripe_gateway}


def get_gateway(name):
    return GATEWAYS[name]
