"""The official VDA 5050 JSON schemas (vendored, MIT, see LICENSE.txt) and the check every message passes.

2.1.0 lies in this folder, 2.0.0 in `v2_0/` (its README says where it came from). Both sides use them: the robot
simulator before it publishes, the edge (master control) on what it sends and on everything it receives, so a
message that breaks the standard is caught at the boundary with a reason. A message is checked against the
schema of the version its header names when that is a version we have; a major version other than the one the
robot is configured for is refused (`Vda5050VersionError`): 2.x and 3.x are not compatible.
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
DEFAULT_VERSION = "2.1.0"
_FOLDERS = {"2.1": SCHEMAS_DIR, "2.0": SCHEMAS_DIR / "v2_0"}
"""Schema folder per major.minor version."""

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


class Vda5050VersionError(Vda5050SchemaError):
    """A message of another major version than the robot is configured for (a device fault, not noise)."""


def _folder(version: str) -> Path:
    """The schema folder of `version` (major.minor), the default version's for one we have no schemas of."""
    major_minor = ".".join(version.split(".")[:2])
    return _FOLDERS.get(major_minor, _FOLDERS[".".join(DEFAULT_VERSION.split(".")[:2])])


def schema(kind: MessageKind, version: str = DEFAULT_VERSION) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((_folder(version) / f"{kind}.schema.json").read_text(encoding="utf-8"))
    return body


@cache
def validator(kind: MessageKind, version: str = DEFAULT_VERSION) -> Validator:
    """A validator of the draft the schema's `$schema` names, checking `date-time` formats too."""
    body = schema(kind, version)
    cls = validator_for(body)
    cls.check_schema(body)
    return cls(body, format_checker=_FORMATS)


def message_version(message: Any, default: str = DEFAULT_VERSION) -> str:
    """The `version` a message's header names (`default` when it names none usable)."""
    version = message.get("version") if isinstance(message, dict) else None
    return version if isinstance(version, str) and version.count(".") == 2 else default


def schema_errors(kind: MessageKind, message: Any, version: str | None = None) -> list[str]:
    """Every way `message` breaks the schema of `version` (None: the one its header names), as `path: reason`."""
    version = version or message_version(message)
    out = []
    errors = validator(kind, ".".join(version.split(".")[:2])).iter_errors(message)
    for error in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        where = "/".join(str(part) for part in error.absolute_path) or "(top)"
        out.append(f"{where}: {error.message}"[:300])
    return out


def check(kind: MessageKind, message: Any, version: str | None = None) -> dict[str, Any]:
    """The message itself when it validates, else `Vda5050SchemaError` with the first problems."""
    if errors := schema_errors(kind, message, version):
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        raise Vda5050SchemaError(f"not a valid VDA 5050 {kind} message: {errors[0]}{more}")
    return message  # type: ignore[no-any-return]  # every VDA 5050 schema's top level is an object


def parse(kind: MessageKind, payload: bytes | bytearray | str, expected: str = DEFAULT_VERSION) -> dict[str, Any]:
    """Decode and validate one MQTT payload from a robot configured for version `expected`.

    `Vda5050VersionError` when the header names another major version, `Vda5050SchemaError` for anything else
    that makes it unusable. Another minor version of the same major is taken (VDA 5050 keeps minors compatible)
    and checked against its own schema where we have it.
    """
    try:
        message = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Vda5050SchemaError(f"not a valid VDA 5050 {kind} message: not JSON ({exc})") from exc
    version = message_version(message, expected)
    if version.split(".")[0] != expected.split(".")[0]:
        raise Vda5050VersionError(
            f"{kind} message of VDA 5050 {version}: the robot is configured for {expected}, another major version"
        )
    return check(kind, message, version)


__all__ = [
    "DEFAULT_VERSION",
    "MESSAGE_KINDS",
    "SCHEMAS_DIR",
    "MessageKind",
    "Vda5050SchemaError",
    "Vda5050VersionError",
    "check",
    "message_version",
    "parse",
    "schema",
    "schema_errors",
    "validator",
]
