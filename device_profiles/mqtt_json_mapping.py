"""Vendor JSON -> contract, and contract commands -> vendor JSON, as an `MqttJsonProfile` says.

Pure functions over bytes: the edge driver feeds it what arrives on the device's topics and acts on the
result; tests feed it payloads as a table. Anything that does not map, or maps to data the contract rejects,
raises `MappingError` with a reason fit for the dead-letter topic.

A message's key (what makes a repeat recognisable) is the vendor's message id, or with `content_key` the first
128 bits of the SHA-256 of its topic and its JSON re-serialised with sorted keys: a QoS 1 redelivery or a resend
after a reconnect is byte-for-byte (or at least value-for-value) the same message, so it has the same key.
"""

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jmespath.exceptions import JMESPathError
from pydantic import ValidationError

from contract.base import SubjectKind
from contract.command import Command
from contract.ids import InvalidIdentifierError, check_identifier
from contract.telemetry import Reading
from device_profiles.contract_events import event_shapes
from device_profiles.json_paths import OPTIONS
from device_profiles.mqtt_json import Message, MqttJsonProfile, Timestamp


class MappingError(ValueError):
    """A message (or command) that cannot be translated; the message says why, for the dead-letter topic."""


@dataclass(frozen=True, slots=True)
class MappedEvent:
    kind: str
    """Name of the profile's message kind that matched."""
    event_type: str
    subject_kind: SubjectKind
    subject_id: str
    data: dict[str, Any]
    occurred_at: datetime | None
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class MappedEvents:
    """Several events from one message (`for_each`): recorded together, or not at all."""

    kind: str
    events: list[MappedEvent]
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class MappedTelemetry:
    kind: str
    readings: list[Reading]
    at: datetime | None
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class MappedIgnored:
    """A message the profile recognises and deliberately drops."""

    kind: str


@dataclass(frozen=True, slots=True)
class MappedPresence:
    online: bool
    reason: str = ""


Mapped = MappedEvent | MappedEvents | MappedTelemetry | MappedPresence | MappedIgnored


def _same(value: Any, expected: Any) -> bool:
    """Equal and of the same JSON type (so `true` never matches `1`, nor "1" match 1)."""
    return isinstance(value, bool) == isinstance(expected, bool) and value == expected


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float (JSON numbers have no limit)
        return False


def parse_timestamp(value: Any, timestamp: Timestamp) -> datetime:
    """The vendor's timestamp as an aware UTC datetime; raises MappingError saying what was wrong with it."""
    where = f"timestamp at {timestamp.path!r}"
    if value is None:
        raise MappingError(f"no {where}")
    if timestamp.format == "iso8601":
        if not isinstance(value, str):
            raise MappingError(f"{where} must be an ISO 8601 string, got {value!r}")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise MappingError(f"{where} is not ISO 8601: {value!r}") from None
        if moment.tzinfo is None:
            raise MappingError(f"{where} has no time zone: {value!r}")
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise MappingError(f"{where} is out of range: {value!r}") from None
    if timestamp.numeric_strings and isinstance(value, str):
        value = _numeric_string(value, where, timestamp.format)
    if not _number(value) or not _finite(value):
        raise MappingError(f"{where} must be a number ({timestamp.format}), got {value!r}")
    seconds = value / 1000 if timestamp.format == "epoch_ms" else value
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise MappingError(f"{where} is out of range: {value!r}") from None


def _numeric_string(value: str, where: str, fmt: str) -> float:
    """A number written as a JSON string ("1795422612.25"); only plain decimals, not 'nan', 'inf' or '1e9'."""
    text = value.strip()
    digits = text.removeprefix("-").replace(".", "", 1)
    if not digits.isascii() or not digits.isdigit():
        raise MappingError(f"{where} must be a number ({fmt}) or one written as a string, got {value!r}")
    return float(text)


def _validation_reason(exc: ValidationError, prefix: str) -> str:
    parts = []
    for error in exc.errors()[:3]:
        loc = ".".join(str(p) for p in error["loc"])
        parts.append(f"{prefix}{'.' + loc if loc else ''}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


@dataclass
class MessageMapper:
    """One device's view of its profile: the concrete topics to subscribe to and how each message maps."""

    profile: MqttJsonProfile
    topic_id: str
    device_id: str
    _by_topic: dict[str, list[tuple[str, Message]]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_topic = {}
        for name, message in self.profile.messages.items():
            topic = self.profile.topic(message.topic, self.topic_id)
            self._by_topic.setdefault(topic, []).append((name, message))
        presence = self.profile.presence
        self.presence_topic = self.profile.topic(presence.topic, self.topic_id) if presence else None

    @property
    def subscriptions(self) -> list[str]:
        topics = set(self._by_topic)
        if self.presence_topic:
            topics.add(self.presence_topic)
        return sorted(topics)

    def _search(self, path: str, document: Any) -> Any:
        try:
            return self.profile.compiled[path].search(document, options=OPTIONS)
        except JMESPathError as exc:  # e.g. a function given the wrong type: the message is not what the path expects
            raise MappingError(f"path {path!r}: {str(exc).splitlines()[0]}") from None

    # -- incoming ----------------------------------------------------------------------------------------------
    def map(self, topic: str, payload: bytes) -> Mapped:
        """Translate one message; raises MappingError when it does not map or the contract rejects the result."""
        if topic == self.presence_topic and topic not in self._by_topic:
            return self._presence(payload)
        document = _json_object(payload)
        candidates = self._by_topic.get(topic)
        if not candidates:
            raise MappingError(f"topic {topic!r} is not one of device {self.device_id}'s topics")
        match = next(
            ((n, m) for n, m in candidates if all(_same(self._search(p, document), v) for p, v in m.when.items())),
            None,
        )
        if match is None:
            kinds = ", ".join(name for name, _ in candidates)
            raise MappingError(f"no message kind of profile {self.profile.name} matches (kinds on this topic: {kinds})")
        name, message = match
        if message.ignore:
            return MappedIgnored(name)
        message_id = self._message_id(topic, document)
        occurred_at = self._occurred_at(message, document)
        if message.event is None:
            return MappedTelemetry(name, self._readings(name, message, document), occurred_at, message_id)
        if message.for_each is not None:
            events = [
                MappedEvent(name, message.event, *self._event_data(f"{name}[{i}]", message, scope), occurred_at)
                for i, scope in enumerate(self._each(name, message, document))
            ]
            return MappedEvents(name, events, message_id)
        subject_kind, subject_id, data = self._event_data(name, message, document)
        return MappedEvent(name, message.event, subject_kind, subject_id, data, occurred_at, message_id)

    def _each(self, name: str, message: Message, document: dict[str, Any]) -> list[dict[str, Any]]:
        """The message once per element of the `for_each` array, the element beside its own fields."""
        assert message.for_each is not None
        path, alias = message.for_each.path, message.for_each.as_
        elements = self._search(path, document)
        if not isinstance(elements, list) or not elements:
            found = "nothing" if elements is None else f"{type(elements).__name__} {elements!r}"[:80]
            raise MappingError(f"{name}: for_each wants a non-empty array at {path!r}, found {found}")
        return [{**document, alias: element} for element in elements]

    def _presence(self, payload: bytes) -> MappedPresence:
        presence = self.profile.presence
        assert presence is not None
        if not payload:
            return MappedPresence(online=False, reason="status withdrawn (empty retained message)")
        if presence.path is None:
            try:
                state: Any = payload.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise MappingError("status payload is not UTF-8 text") from None
            document: Any = None
        else:
            document = _json_object(payload)
            state = self._search(presence.path, document)
        if any(_same(state, v) for v in presence.online):
            return MappedPresence(online=True)
        if any(_same(state, v) for v in presence.offline):
            reason = self._search(presence.reason, document) if presence.reason and document is not None else None
            said = state if isinstance(state, str) else f"{presence.path} {json.dumps(state)}"  # connected false
            return MappedPresence(online=False, reason=f"status {said}" + (f": {reason}" if reason else ""))
        known = ", ".join(repr(v) for v in (*presence.online, *presence.offline))
        raise MappingError(f"status {state!r} is neither online nor offline (known: {known})")

    def _message_id(self, topic: str, document: dict[str, Any]) -> str | None:
        if self.profile.content_key:
            return content_key(topic, document)
        if self.profile.message_id is None:
            return None
        value = self._search(self.profile.message_id, document)
        return None if value is None else str(value)[:128]

    def _occurred_at(self, message: Message, document: Any) -> datetime | None:
        timestamp = message.occurred_at or self.profile.occurred_at
        if timestamp is None:
            return None
        return parse_timestamp(self._search(timestamp.path, document), timestamp)

    def _readings(self, name: str, message: Message, document: Any) -> list[Reading]:
        readings = []
        for metric, spec in message.telemetry.items():
            value = self._search(spec.path, document)
            if value is None:
                continue  # a reading the device left out this time
            try:
                readings.append(Reading(metric=metric, value=value, unit=spec.unit))
            except ValidationError as exc:
                raise MappingError(_validation_reason(exc, f"{name}: {metric}")) from None
        if not readings:
            raise MappingError(f"{name}: none of the readings ({', '.join(message.telemetry)}) is in the message")
        return readings

    def _event_data(self, name: str, message: Message, document: Any) -> tuple[SubjectKind, str, dict[str, Any]]:
        assert message.event is not None
        shape = event_shapes()[message.event]
        data: dict[str, Any] = {}
        for data_field, path in message.data.items():
            value = self._search(path, document)
            if value is None:
                continue  # absent: the contract's default applies, or it says the field is required
            if data_field in message.mappings:
                table = message.mappings[data_field]
                if str(value) not in table:
                    raise MappingError(
                        f"{name}: {data_field}: vendor value {value!r} has no mapping (known: {', '.join(table)})"
                    )
                value = table[str(value)]
            data[data_field] = value
        try:
            validated = shape.data_model.model_validate(data)
        except ValidationError as exc:
            raise MappingError(_validation_reason(exc, f"{name} -> {message.event}: data")) from None
        subject_id = self.device_id
        if message.subject_id is not None:
            subject_id = self._search(message.subject_id, document)
            if not isinstance(subject_id, str):
                raise MappingError(f"{name}: no subject id at {message.subject_id!r}")
        try:
            check_identifier(subject_id, what=f"{name}: subject id")
        except InvalidIdentifierError as exc:
            raise MappingError(str(exc)) from None
        return shape.subject_kind, subject_id, validated.model_dump(mode="json")

    # -- outgoing ----------------------------------------------------------------------------------------------
    def render(self, command: Command) -> tuple[str, bytes]:
        """The vendor topic and JSON body for a contract command; MappingError when the profile has none."""
        mapping = self.profile.commands.get(command.type)
        if mapping is None:
            takes = ", ".join(sorted(self.profile.commands)) or "none"
            raise MappingError(f"profile {self.profile.name} does not take {command.type} commands (takes: {takes})")
        values = {**command.model_dump(mode="json"), "topic_id": self.topic_id, "device": self.device_id}
        body = _fill(mapping.body, values)
        return self.profile.topic(mapping.topic, self.topic_id), json.dumps(body, separators=(",", ":")).encode()


def content_key(topic: str, document: dict[str, Any]) -> str:
    """The key of a message without a vendor id: its topic and content, whatever the key order or spacing."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(f"{topic}\n{canonical}".encode()).hexdigest()
    return f"sha256:{digest[:32]}"


def _json_object(payload: bytes) -> dict[str, Any]:
    try:
        document = json.loads(payload)
    except UnicodeDecodeError:
        raise MappingError("payload is not UTF-8 text") from None
    except ValueError as exc:
        raise MappingError(f"payload is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise MappingError(f"payload is JSON but not an object: {type(document).__name__}")
    return document


def _fill(template: Any, values: dict[str, Any]) -> Any:
    """A body template with its placeholders filled; a string that is only '{name}' keeps the value's type."""
    if isinstance(template, str):
        if template.startswith("{") and template.endswith("}") and template[1:-1] in values:
            return values[template[1:-1]]
        return template.format(**{k: "" if v is None else v for k, v in values.items()})
    if isinstance(template, dict):
        return {key: _fill(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [_fill(value, values) for value in template]
    return template
