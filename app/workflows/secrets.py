"""Secrets never reach run history, events or logs: values under a key that names a secret
are replaced before anything is stored. Also turns Decimals and dates into JSON text."""
import re
from datetime import date, datetime
from decimal import Decimal

SECRET_KEY = re.compile(r"password|secret|token|api_key|card_number|cvc", re.IGNORECASE)
MASK = "••••••"


def mask(value):
    if isinstance(value, dict):
        return {key: MASK if SECRET_KEY.search(str(key)) and item is not None else mask(item)
                for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value
