"""Passwords hashed with argon2id (argon2-cffi); hashes made with older parameters are replaced on login.

What a new password must be is `gateway.auth.password_rules`; it is hashed in its NFKC form, and a login's password
is compared in that form too (then as typed, for hashes made before passwords were normalised).
"""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gateway.auth.password_rules import MAX_LENGTH, MIN_LENGTH, WeakPasswordError, check_password_rules, normalised

__all__ = [
    "MAX_LENGTH",
    "MIN_LENGTH",
    "WeakPasswordError",
    "check_password_rules",
    "hash_password",
    "needs_rehash",
    "verify_password",
]

_hasher = PasswordHasher()
# Verified against when the user does not exist, so an unknown name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("wardlink-no-such-user-password")


def hash_password(password: str, *, username: str | None = None) -> str:
    """The argon2id hash of a new password (normalised), or `WeakPasswordError` when the rules refuse it."""
    return _hasher.hash(check_password_rules(password, username=username))


def rehash_password(password: str) -> str:
    """A fresh hash of a password already accepted once (a login's), with the hasher's current parameters."""
    return _hasher.hash(normalised(password))


def _verify(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches; with no stored hash, spend the same time and say False."""
    if stored_hash is None:
        _verify(_DUMMY_HASH, normalised(password))
        return False
    form = normalised(password)
    return _verify(stored_hash, form) or (form != password and _verify(stored_hash, password))


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with other parameters than the hasher's current ones."""
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True
