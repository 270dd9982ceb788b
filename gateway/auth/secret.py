"""Random secrets for sessions and service tokens, and the SHA-256 digest under which they are stored."""

import hashlib
import secrets

TOKEN_PREFIX = "wlt_"  # noqa: S105 (a marker, not a secret)
"""Service tokens start with this, so a leaked one is easy to recognise (and to search for in logs)."""


def new_secret() -> str:
    """A 256-bit random secret, URL-safe."""
    return secrets.token_urlsafe(32)


def new_token_secret() -> str:
    return TOKEN_PREFIX + new_secret()


def digest(secret: str) -> str:
    """The hex SHA-256 of `secret`: what the database keeps instead of the secret."""
    return hashlib.sha256(secret.encode()).hexdigest()
