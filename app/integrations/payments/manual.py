"""Manual payment: nothing is charged now; the invoice stays open until paid by transfer."""
from app.errors import ValidationError


def tokenize(config, card_number, exp_month, exp_year, cvc):
    raise ValidationError("The manual gateway does not take cards.")


def charge(config, token, amount, currency, idempotency_key, description):
    return None  # pending: nothing to charge


def refund(config, reference, idempotency_key):
    return None


def lookup(config, idempotency_key):
    return None  # nothing was sent anywhere
