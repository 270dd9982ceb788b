"""The official VDA 5050 2.1.0 JSON schemas (vendored, MIT, see LICENSE.txt) and the check every message passes.

Both sides use it: the robot simulator before it publishes, the edge (master control) on what it sends and on
everything it receives, so a message that breaks the standard is caught at the boundary with a reason.
"""

import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

from jsonschema import FormatChecker
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

SCHEMAS_DIR = Path(__file__).resolve().parent

MessageKind = Literal["order", "instantActions", "state", "visualization", "connection", "factsheet"]
MESSAGE_KINDS: tuple[MessageKind, ...] = (
    "order",
    "instantActions",
    "state",
    "visualization",
    "connection",
    "factsheet",
)

_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    # RFC 3339 with a zone, as VDA 5050 asks (YYYY-MM-DDTHH:mm:ss.ffZ); no extra dependency for it.
    return not isinstance(value, str) or (
        "T" in value and datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None
    )


class Vda5050SchemaError(ValueError):
    """A message that is not JSON, or breaks the VDA 5050 schema of its topic; the message says where."""


def schema(kind: MessageKind) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((SCHEMAS_DIR / f"{kind}.schema.json").read_text(encoding="utf-8"))
    return body


@cache
def validator(kind: MessageKind) -> Validator:
    """A validator of the draft the schema's `$schema` names, checking `date-time` formats too."""
    body = schema(kind)
    cls = validator_for(body)
    cls.check_schema(body)
    return cls(body, format_checker=_FORMATS)


def schema_errors(kind: MessageKind, message: Any) -> list[str]:
    """Every way `message` breaks the schema, as `path: reason` (empty when it is valid)."""
    out = []
    for error in sorted(validator(kind).iter_errors(message), key=lambda e: list(map(str, e.absolute_path))):
        where = "/".join(str(part) for part in error.absolute_path) or "(top)"
        out.append(f"{where}: {error.message}"[:300])
    return out


def check(kind: MessageKind, message: Any) -> dict[str, Any]:
    """The message itself when it validates, else `Vda5050SchemaError` with the first problems."""
    if errors := schema_errors(kind, message):
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        raise Vda5050SchemaError(f"not a valid VDA 5050 {kind} message: {errors[0]}{more}")
    return message  # type: ignore[no-any-return]  # every VDA 5050 schema's top level is an object


def parse(kind: MessageKind, payload: bytes | bytearray | str) -> dict[str, Any]:
    """Decode and validate one MQTT payload; `Vda5050SchemaError` says why it is unusable."""
    try:
        message = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Vda5050SchemaError(f"not a valid VDA 5050 {kind} message: not JSON ({exc})") from exc
    return check(kind, message)


__all__ = [
    "MESSAGE_KINDS",
    "SCHEMAS_DIR",
    "MessageKind",
    "Vda5050SchemaError",
    "check",
    "parse",
    "schema",
    "schema_errors",
    "validator",
]
