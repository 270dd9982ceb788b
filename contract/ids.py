"""Identifiers that are safe in MQTT topics, URLs and log lines."""

import re
from typing import Annotated

from pydantic import AfterValidator

MAX_ID_LENGTH = 64

# Letters, digits and a few separators; never the MQTT specials `/ + # $`, whitespace or control characters.
_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")


class InvalidIdentifierError(ValueError):
    """An id that would break a topic, a URL or a log line."""


def check_identifier(value: str, *, what: str = "id") -> str:
    """Return `value` unchanged if it is a safe id, else raise `InvalidIdentifierError` saying why."""
    if not value:
        raise InvalidIdentifierError(f"{what} must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidIdentifierError(f"{what} is {len(value)} characters long, the limit is {MAX_ID_LENGTH}")
    if not _ID_PATTERN.fullmatch(value):
        bad = next((c for c in value if not re.fullmatch(r"[A-Za-z0-9._:-]", c)), value[0])
        raise InvalidIdentifierError(
            f"{what} {value!r} contains {bad!r}: use letters, digits and . _ : - only, starting with a letter or digit"
        )
    return value


def _identifier(value: str) -> str:
    return check_identifier(value)


def _barcode(value: str) -> str:
    return check_identifier(value, what="barcode")


Identifier = Annotated[str, AfterValidator(_identifier)]
"""A site, edge, device or subject id."""

Barcode = Annotated[str, AfterValidator(_barcode)]
"""A specimen or container barcode as read by a scanner."""


def _gtin(value: str) -> str:
    """GS1 GTIN-8/12/13/14, kept as the 14-digit form, with its check digit verified."""
    if not value.isdigit() or len(value) not in (8, 12, 13, 14):
        raise InvalidIdentifierError(f"GTIN {value!r} must be 8, 12, 13 or 14 digits")
    digits = value.zfill(14)
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(digits[:13]))
    if (10 - total % 10) % 10 != int(digits[13]):
        raise InvalidIdentifierError(f"GTIN {value!r} has a wrong check digit")
    return digits


Gtin = Annotated[str, AfterValidator(_gtin)]
"""A GS1 Global Trade Item Number, normalised to 14 digits."""
