"""Password hashing (Argon2id). One place, used by logins, seeds and tests."""
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_password(password):
    return _hasher.hash(password)


def verify_password(password_hash, password):
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


_dummy_hash = None


def verify_dummy(password):
    """Check `password` against a throwaway hash: as slow as a real check, always False. A
    sign-in for an email that has no account takes as long as a wrong password."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("not a password: a timing stand-in")
    verify_password(_dummy_hash, password)
    return False
