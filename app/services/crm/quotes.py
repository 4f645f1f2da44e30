"""Accepting a quote (W2 step 1)."""
from app.errors import DomainError, NotFound
from app.models import Quote, utcnow


def acceptance_problem(quote):
    """Why `quote` cannot be accepted now, or None."""
    if quote.status in ("accepted", "rejected", "expired", "withdrawn"):
        return f"Quote {quote.number} is already {quote.status}."
    if quote.status not in ("sent", "viewed"):
        return f"Quote {quote.number} has not been sent yet."
    if quote.valid_until < utcnow():
        return f"Quote {quote.number} expired on {quote.valid_until:%d %b %Y}."
    return None


class QuotesMixin:

    def accept_quote(self, quote_id, accepted_by, *, idempotency_key=None):
        def produce():
            quote = self.lock_row(Quote, id=quote_id)
            if quote is None:
                raise NotFound(f"Quote {quote_id} does not exist.")
            problem = acceptance_problem(quote)
            if quote.kind == "renewal":  # its renewal run accepts it, with the payment
                problem = f"Quote {quote.number} is a renewal: the customer accepts and pays " \
                          "it in the renewal."
            if problem:
                raise DomainError(problem)
            quote.status, quote.accepted_by, quote.accepted_at = "accepted", accepted_by, utcnow()
            return {"quote_id": quote.id, "status": quote.status,
                    "accepted_at": quote.accepted_at.isoformat()}
        return self.once(idempotency_key, "crm.accept_quote", produce)

    def reopen_quote(self, quote_id, *, idempotency_key=None):
        """Undo an acceptance whose order could not go ahead (a declined card, a cancel): the
        quote may be accepted again while it is valid."""
        def produce():
            quote = self.lock_row(Quote, id=quote_id)
            if quote is None:
                raise NotFound(f"Quote {quote_id} does not exist.")
            if quote.status == "accepted":
                quote.status, quote.accepted_by, quote.accepted_at = "sent", None, None
            return {"quote_id": quote.id, "status": quote.status}
        return self.once(idempotency_key, "crm.reopen_quote", produce)
