"""Stripe's PaymentIntents and Refunds endpoints as the stripe gateway uses them, following
Stripe's API documentation:
- https://docs.stripe.com/api/authentication: the secret key as a bearer token (or as the
  Basic auth user name); a wrong one is 401.
- https://docs.stripe.com/api/idempotent_requests: the status and body of the first request
  with an Idempotency-Key are saved once the endpoint began executing (a success, a card
  decline, a 5xx), and a request with the same key gets them again (header
  Idempotent-Replayed: true); a request that failed validation saves nothing; the same key
  with another endpoint or other parameters is 400 `idempotency_error`.
- https://docs.stripe.com/api/payment_intents/create with confirm=true: 200 the PaymentIntent,
  status "succeeded"; a declined card is 402 {"error": {"type": "card_error", "code":
  "card_declined", "decline_code", "message", "payment_intent": {...}}} and the
  PaymentIntent stays, status "requires_payment_method". An unknown parameter or PaymentMethod
  is 400.
- https://docs.stripe.com/testing: test PaymentMethods pm_card_visa (and other brands)
  succeed; pm_card_visa_chargeDeclined (generic decline), pm_card_visa_chargeDeclined-
  InsufficientFunds (insufficient funds) and pm_card_chargeCustomerFail decline at charge,
  also under their older names pm_card_chargeDeclined*.
- https://docs.stripe.com/api/refunds/create: a refund of a PaymentIntent's charge, all of
  it or `amount` (smallest unit); several partial refunds up to the amount charged; more than
  is left is 400 ("Refund amount ($60.00) is greater than unrefunded amount on charge
  ($59.00)"), a fully refunded charge 400 `charge_already_refunded`.
  GET /v1/refunds?payment_intent= lists them (newest first)."""
import base64
import itertools
import threading

from tests.fakes import LosesReplies

SUCCEEDS = {"pm_card_visa", "pm_card_visa_debit", "pm_card_mastercard", "pm_card_amex"}
DECLINES = {
    "pm_card_visa_chargeDeclined": ("generic_decline", "Your card was declined."),
    "pm_card_chargeDeclined": ("generic_decline", "Your card was declined."),
    "pm_card_chargeCustomerFail": ("generic_decline", "Your card was declined."),
    "pm_card_visa_chargeDeclinedInsufficientFunds": ("insufficient_funds",
                                                     "Your card has insufficient funds."),
    "pm_card_chargeDeclinedInsufficientFunds": ("insufficient_funds",
                                                "Your card has insufficient funds."),
}
INTENT_PARAMETERS = {"amount", "currency", "payment_method", "confirm", "description",
                     "customer", "capture_method", "payment_method_types[]",
                     "automatic_payment_methods[enabled]",
                     "automatic_payment_methods[allow_redirects]"}


def _invalid(message, **fields):
    return 400, {"error": {"type": "invalid_request_error", "message": message, **fields}}


def _money(minor, currency):
    amount = f"{minor / 100:.2f}"
    return f"${amount}" if currency == "usd" else f"{amount} {currency.upper()}"


class FakeStripe(LosesReplies):
    def __init__(self, api_key="sk_test_123"):
        self.api_key = api_key
        self.seen = {}  # idempotency key -> (method, path, body, answer)
        self.intents, self.refunds = {}, {}
        self.calls = []  # (method, path, body) of every request that was not a replay
        self.lock = threading.Lock()
        self._ids = itertools.count(1)

    def handle(self, method, path, query, body, headers):
        if not self._authenticated(headers.get("Authorization") or ""):
            return 401, {"error": {"type": "invalid_request_error",
                                   "message": "Invalid API Key provided."}}
        key = headers.get("Idempotency-Key")
        with self.lock:
            if key and key in self.seen:
                return self._replay(key, method, path, body)
            self.calls.append((method, path, body))
            answer = self._route(method, path, query, body)
            if key and (answer[0] < 400 or answer[0] == 402 or answer[0] >= 500):
                self.seen[key] = (method, path, body, answer)
            return answer

    def _authenticated(self, header):
        scheme, _, credential = header.partition(" ")
        if scheme == "Basic":
            credential = base64.b64decode(credential).decode().split(":")[0]
        return scheme in ("Bearer", "Basic") and credential == self.api_key

    def _replay(self, key, method, path, body):
        first_method, first_path, first_body, (status, payload) = self.seen[key]
        if (first_method, first_path) != (method, path):
            return 400, {"error": {"type": "idempotency_error", "message": (
                "Keys for idempotent requests can only be used for the same endpoint they were "
                f"first used for ('{first_path}' vs '{path}'). Try using a key other than "
                f"'{key}' if you meant to execute a different request.")}}
        if first_body != body:
            return 400, {"error": {"type": "idempotency_error", "message": (
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request.")}}
        return status, payload, {"Idempotent-Replayed": "true"}

    def _route(self, method, path, query, body):
        if (method, path) == ("POST", "/v1/payment_intents"):
            return self._create_intent(body)
        if method == "GET" and path.startswith("/v1/payment_intents/"):
            intent = self.intents.get(path.rsplit("/", 1)[1])
            return (200, intent) if intent else self._missing("payment_intent", path)
        if (method, path) == ("POST", "/v1/refunds"):
            return self._create_refund(body)
        if (method, path) == ("GET", "/v1/refunds"):
            wanted = query.get("payment_intent", [None])[0]
            found = [r for r in reversed(self.refunds.values())
                     if wanted is None or r["payment_intent"] == wanted]
            return 200, {"object": "list", "data": found, "has_more": False,
                         "url": "/v1/refunds"}
        return 404, {"error": {"type": "invalid_request_error",
                               "message": f"Unrecognized request URL ({method}: {path})."}}

    @staticmethod
    def _missing(kind, value):
        return _invalid(f"No such {kind}: '{value.rsplit('/', 1)[-1]}'", code="resource_missing")

    def _create_intent(self, body):
        unknown = sorted(k for k in body if k not in INTENT_PARAMETERS
                         and not k.startswith("metadata["))
        if unknown:
            return _invalid(f"Received unknown parameter: {unknown[0]}",
                            code="parameter_unknown", param=unknown[0])
        if not str(body.get("amount", "")).isdigit() or int(body["amount"]) < 1:
            return _invalid("Invalid positive integer", code="parameter_invalid_integer",
                            param="amount")
        if not body.get("currency"):
            return _invalid("Missing required param: currency.", code="parameter_missing",
                            param="currency")
        method = body.get("payment_method")
        if method and method not in SUCCEEDS and method not in DECLINES:
            return self._missing("PaymentMethod", method)
        number = next(self._ids)
        intent = {"id": f"pi_{number}", "object": "payment_intent",
                  "amount": int(body["amount"]), "amount_received": 0,
                  "currency": body["currency"], "payment_method": method,
                  "description": body.get("description"), "latest_charge": None,
                  "metadata": {k[9:-1]: v for k, v in body.items()
                               if k.startswith("metadata[")},
                  "status": "requires_confirmation" if method else "requires_payment_method"}
        self.intents[intent["id"]] = intent
        if body.get("confirm") != "true":
            return 200, intent
        intent["latest_charge"] = f"ch_{number}"
        if method in DECLINES:
            decline_code, message = DECLINES[method]
            intent["status"] = "requires_payment_method"
            return 402, {"error": {"type": "card_error", "code": "card_declined",
                                   "decline_code": decline_code, "message": message,
                                   "charge": intent["latest_charge"],
                                   "payment_intent": dict(intent)}}
        intent.update(status="succeeded", amount_received=intent["amount"])
        return 200, intent

    def _create_refund(self, body):
        intent = self.intents.get(body.get("payment_intent"))
        if intent is None:
            return self._missing("payment_intent", str(body.get("payment_intent")))
        if intent["status"] != "succeeded":
            return _invalid(f"This PaymentIntent ({intent['id']}) does not have a successful "
                            "charge to refund.")
        refunded = sum(r["amount"] for r in self.refunds.values()
                       if r["payment_intent"] == intent["id"])
        left = intent["amount"] - refunded
        if left <= 0:
            return _invalid(f"Charge {intent['latest_charge']} has already been refunded.",
                            code="charge_already_refunded")
        amount = int(body["amount"]) if "amount" in body else left
        if amount > left:
            return _invalid(f"Refund amount ({_money(amount, intent['currency'])}) is greater "
                            "than unrefunded amount on charge "
                            f"({_money(left, intent['currency'])})", param="amount")
        refund = {"id": f"re_{next(self._ids)}", "object": "refund", "amount": amount,
                  "currency": intent["currency"], "payment_intent": intent["id"],
                  "charge": intent["latest_charge"], "status": "succeeded"}
        self.refunds[refund["id"]] = refund
        return 200, refund
