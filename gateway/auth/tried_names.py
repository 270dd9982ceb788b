"""User names someone tried to log in with, made safe to write to a log or the audit trail.

A failed login's user name is whatever the caller typed: a real login mistyped, a password pasted into the wrong
field, or an attack with line breaks and terminal escapes meant to forge log lines. A name that could be an
account (`NAME_PATTERN`: letters, digits, `.`, `_`, `-`, 64 at most) is kept as it is, so an admin can see whose
account is being tried; anything else is recorded only as a fingerprint (its SHA-256, shortened) and its length,
which is enough to see the same string come back without writing it anywhere.
"""

import hashlib
import re

from gateway.auth.accounts import NAME_PATTERN

_NAME = re.compile(NAME_PATTERN)


def tried_name(name: str) -> str:
    """`name` when it could be an account's, else `invalid-name:<12 hex of its SHA-256>:<length>`."""
    if _NAME.fullmatch(name):
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"invalid-name:{digest}:{len(name)}"
