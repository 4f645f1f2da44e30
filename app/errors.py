"""The errors services raise. The engine decides retry-or-fail from the class alone.

DomainError: a business rule said no (quota exceeded, quote expired, card declined). The
message is written for the person who reads it in a portal; the step fails at once.
TransientError: the world hiccupped (timeout, 5xx, lock); the step is retried with backoff.
"""


class LastmileError(Exception):
    def __init__(self, message, *, code=None, details=None):
        super().__init__(message)
        self.message = message
        self.code = code or type(self).__name__
        self.details = details or {}


class DomainError(LastmileError):
    """A business error: never retried, shown to the user as it is."""


class NotFound(DomainError):
    pass


class ValidationError(DomainError):
    """Bad input; `details` maps field name -> message."""


class Conflict(DomainError):
    """The thing asked for is taken (the last license, the last IP, a booked slot)."""


class TransientError(LastmileError):
    """Worth trying again later: network errors, timeouts, 5xx, lock contention."""
