"""TOTP two-factor sign-in (RFC 6238, through pyotp) and recovery codes.

A code is accepted once: a replay of the same code within its 30-second step (someone
looking over a shoulder) is refused, remembered in Redis for the code's lifetime.
Recovery codes are random (48 bits each), so a SHA-256 per code is enough to make the stored
list useless; Argon2 would make checking ten of them take seconds.

The TOTP secret must be read back to check a code, so it cannot be hashed: it is stored
encrypted (Fernet, with a key derived from SECRET_KEY), so that a copy of the database alone
does not give anyone the codes. Like the recovery codes, it depends on SECRET_KEY: after a
change of key, two-factor sign-in has to be turned off for each user and set up again."""
import base64
import hashlib
import hmac
import secrets

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

from app.extensions import get_redis
from app.models import utcnow

ISSUER = "Lastmile"
RECOVERY_CODES = 10


def new_secret():
    return pyotp.random_base32()


def provisioning_uri(user, secret):
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_svg(uri):
    """The enrolment QR code as inline SVG (no image request, nothing leaves the page)."""
    return segno.make(uri, error="m").svg_inline(scale=4, dark="#111827")


def _clean(code):
    return "".join((code or "").split()).replace("-", "").lower()[:40]


def code_matches(secret, code):
    code = _clean(code)
    return bool(secret) and code.isdigit() and len(code) == 6 and \
        pyotp.TOTP(secret).verify(code, valid_window=1)


def verify(user, code):
    """A valid TOTP code for `user`, not used before."""
    if not code_matches(_decrypted(user.totp_secret), code):
        return False
    # valid_window=1 accepts three 30 s steps: remember the code for 90 s.
    return bool(get_redis().set(f"lastmile:totp-used:{user.id}:{_clean(code)}", 1,
                                nx=True, ex=90))


def _code_hash(code):
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, _clean(code).encode(), hashlib.sha256).hexdigest()


def new_recovery_codes(user):
    """Replace the user's recovery codes; returns them in clear, to show once."""
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    user.recovery_code_hashes = [_code_hash(code) for code in codes]
    return codes


def use_recovery_code(user, code):
    digest = _code_hash(code)
    remaining = list(user.recovery_code_hashes or [])
    for stored in remaining:
        if hmac.compare_digest(stored, digest):
            remaining.remove(stored)
            user.recovery_code_hashes = remaining  # a new list, so the JSON column is saved
            return True
    return False


def enable(user, secret):
    user.totp_secret, user.totp_enabled_at = _box().encrypt(secret.encode()).decode(), utcnow()
    return new_recovery_codes(user)


def _box():
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"lastmile totp secret").derive(current_app.config["SECRET_KEY"].encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _decrypted(stored):
    """The secret in clear; None when there is none, or it was encrypted under another
    SECRET_KEY (no code matches then)."""
    try:
        return _box().decrypt(stored.encode()).decode() if stored else None
    except InvalidToken:
        return None


def disable(user):
    user.totp_secret, user.totp_enabled_at, user.recovery_code_hashes = None, None, []
