"""What a new password must be, after NIST SP 800-63B (5.1.1.2): long enough, and not one an attacker tries first.

Rules, each refused with a reason people can act on: 12 to 256 characters after Unicode NFKC normalisation (the
form that is hashed and compared, so the same password typed on another keyboard still matches); no control
characters (NUL, escape, line breaks); not only whitespace; not one repeated character or pattern, nor a
keyboard or counting run; not the user name nor containing it; not in the list of common and breached passwords.

The list is the 30,000 most common passwords of Mark Burnett's corpus as shipped by `zxcvbn` (MIT licence,
https://github.com/dwolfhub/zxcvbn-python, `zxcvbn.frequency_lists`), so it works offline; a password matches
when its case-folded form, or that form without leading and trailing digits and punctuation ("Password2024!"),
is on the list.
"""

import functools
import string
import unicodedata

MIN_LENGTH = 12
MAX_LENGTH = 256
_TRIM = string.digits + string.punctuation + " "
_MIN_CORE = 4
"""A stripped core shorter than this ("ab" of "ab1234567890") is not looked up: too many false alarms."""
_RUNS = ("abcdefghijklmnopqrstuvwxyz", "0123456789", "qwertyuiopasdfghjklzxcvbnm", "1234567890")


class WeakPasswordError(ValueError):
    """A password the rules refuse; the message says which rule and what to do."""


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list, loaded on first use (it is a few megabytes of module)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # heavy; only when a password is set

    return frozenset(FREQUENCY_LISTS["passwords"])


def normalised(password: str) -> str:
    """The password as it is hashed and compared: Unicode NFKC."""
    return unicodedata.normalize("NFKC", password)


def _repetitive(text: str) -> bool:
    """One character or a shorter unit repeated ("aaaa...", "abcabc...", "dragondragon")."""
    return any(len(text) % n == 0 and text == text[:n] * (len(text) // n) for n in range(1, len(text) // 2 + 1))


def _sequential(text: str) -> bool:
    """A run along the alphabet, the digits or the keyboard, forwards or backwards, wrapping ("1234567890123")."""
    for run in _RUNS:
        doubled = run * (len(text) // len(run) + 2)
        if text in doubled or text[::-1] in doubled:
            return True
    return False


def check_password_rules(password: str, *, username: str | None = None) -> str:
    """The normalised password when the rules accept it, else `WeakPasswordError` naming the first rule broken."""
    value = normalised(password)
    if not MIN_LENGTH <= len(value) <= MAX_LENGTH:
        raise WeakPasswordError(f"a password needs {MIN_LENGTH} to {MAX_LENGTH} characters; this one has {len(value)}")
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise WeakPasswordError("a password cannot hold control characters (NUL, escape, tab, line breaks)")
    if not value.strip():
        raise WeakPasswordError("a password cannot be only spaces: use a few words you remember")
    folded = value.casefold()
    if _repetitive(folded) or _sequential(folded):
        raise WeakPasswordError(
            "a password cannot be one repeated character, a repeated pattern or a run such as 'abcd...' or '1234...'"
        )
    if username and username.strip() and normalised(username).casefold() in folded:
        raise WeakPasswordError("a password cannot be or contain the user name")
    core = folded.strip(_TRIM)
    known = common_passwords()
    if folded in known or (len(core) >= _MIN_CORE and core in known):
        raise WeakPasswordError(
            "this password is on the list of common and breached passwords attackers try first: choose another "
            "(a few unrelated words make a long password that is easy to remember)"
        )
    return value
