"""Accepting a quote (W2 step 1)."""
from app.errors import DomainError, NotFound
from app.models import Quote, utcnow


def acceptance_problem(quote):
    """Why `quote` cannot be accepted now, or None."""
    if quote.status in ("accepted", "rejected", "expired"):
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
            if problem:
                raise DomainError(problem)
            quote.status, quote.accepted_by, quote.accepted_at = "accepted", accepted_by, utcnow()
            return {"quote_id": quote.id, "status": quote.status,
                    "accepted_at": quote.accepted_at.isoformat()}
        return self.once(idempotency_key, "crm.accept_quote", produce)
