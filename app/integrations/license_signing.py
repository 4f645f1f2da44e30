"""License tokens: a JSON payload signed with Ed25519, verifiable offline by anyone holding
the public key. Token = base64url(payload) + "." + base64url(signature)."""
import base64
import json
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                               Ed25519PublicKey)


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_private_key(path):
    """The signing key from `path`, generated there (mode 600) on first use."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def public_key_pem(private_key):
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def sign(private_key, payload):
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return f"{_b64(body)}.{_b64(private_key.sign(body))}"


def verify(public_key_pem_text, token):
    """The payload if the signature holds, else None (tampered, malformed, other key)."""
    public_key = serialization.load_pem_public_key(public_key_pem_text.encode())
    if not isinstance(public_key, Ed25519PublicKey):
        return None
    try:
        body_text, signature_text = token.strip().split(".")
        body = _unb64(body_text)
        public_key.verify(_unb64(signature_text), body)
        return json.loads(body)
    except (ValueError, InvalidSignature):
        return None
