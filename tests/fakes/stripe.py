"""Stripe's PaymentIntents and Refunds endpoints as the stripe gateway uses them
(https://docs.stripe.com/api/payment_intents/create): form-encoded bodies, bearer key,
Idempotency-Key replay (same key, same answer, https://docs.stripe.com/api/idempotent_requests),
402 card_declined errors."""
import itertools

from tests.fakes import LosesReplies


class FakeStripe(LosesReplies):
    DECLINED = {"pm_card_chargeDeclined": "Your card was declined.",
                "pm_card_chargeDeclinedInsufficientFunds": "Your card has insufficient funds."}

    def __init__(self, api_key="sk_test_123"):
        self.api_key = api_key
        self.seen = {}  # idempotency key -> (status, payload)
        self.intents = {}
        self.calls = []
        self._ids = itertools.count(1)

    def handle(self, method, path, query, body, headers):
        if headers.get("Authorization") != f"Bearer {self.api_key}":
            return 401, {"error": {"type": "invalid_request_error",
                                   "message": "Invalid API Key provided"}}
        key = headers.get("Idempotency-Key")
        if key and key in self.seen:
            return self.seen[key]
        self.calls.append((method, path, body))
        if (method, path) == ("POST", "/v1/payment_intents"):
            answer = self._create_intent(body)
        elif (method, path) == ("POST", "/v1/refunds"):
            intent = self.intents.get(body.get("payment_intent"))
            answer = (404, {"error": {"type": "invalid_request_error",
                                      "message": "No such payment_intent"}}) if intent is None \
                else (200, {"id": f"re_{next(self._ids)}", "object": "refund",
                            "payment_intent": intent["id"], "amount": intent["amount"],
                            "status": "succeeded"})
        else:
            answer = (404, {"error": {"type": "invalid_request_error",
                                      "message": "Unrecognized request URL"}})
        if key:
            self.seen[key] = answer
        return answer

    def _create_intent(self, body):
        intent_id = f"pi_{next(self._ids)}"
        method = body.get("payment_method")
        if method in self.DECLINED:
            return 402, {"error": {"type": "card_error", "code": "card_declined",
                                   "message": self.DECLINED[method],
                                   "payment_intent": {"id": intent_id,
                                                      "status": "requires_payment_method"}}}
        intent = {"id": intent_id, "object": "payment_intent", "amount": int(body["amount"]),
                  "currency": body["currency"], "payment_method": method,
                  "status": "succeeded" if body.get("confirm") == "true"
                  else "requires_confirmation"}
        self.intents[intent_id] = intent
        return 200, intent
