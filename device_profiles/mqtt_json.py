"""An MQTT device that speaks its vendor's JSON: topic map, message recognition and JSON paths, all data.

A profile names the vendor's topics once (templates whose only placeholder is `{topic_id}`, the device's id
in its vendor topics), then says per incoming message kind which topic it arrives on, how to recognise it
(`when`: JSON path -> value), and what it becomes: a contract event (`event` + `data` paths) or telemetry
readings. Paths are JMESPath expressions (with `unnest`, see `json_paths`), so a list of bins can be reshaped into
contract items in one line.
Presence (the vendor's retained status / Last Will) and outgoing commands (topic + JSON body template) are
data too. A new vendor model is a new YAML file, not new code.

Vendors differ in ways a profile states rather than code: a message carrying several lines (`for_each`: one event
per element of an array, all or none), timestamps in seconds or milliseconds and as numbers or numeric strings
(`occurred_at.format`, `numeric_strings`), and no message id at all (`content_key`: a repeat is recognised by a
digest of the message itself).
"""

from functools import cache, cached_property
from string import Formatter
from typing import Any, ClassVar, Literal, get_args

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult
from pydantic import Field, StrictBool, StrictInt, StrictStr, ValidationInfo, model_validator

from contract.command import Command
from contract.ids import Identifier
from device_profiles.contract_events import event_shapes
from device_profiles.json_paths import FUNCTIONS, functions_called
from device_profiles.profile import COLLECT_PROBLEMS, ProfileBase, _Strict

JsonPath = str
"""A JMESPath expression evaluated against the message's JSON (https://jmespath.org)."""

TOPIC_PLACEHOLDERS = frozenset({"topic_id"})
EXTRA_BODY_PLACEHOLDERS = frozenset({"topic_id", "device"})
DEVICE_EVENTS = frozenset({"device.online", "device.offline"})
"""Reported from `presence` and the heartbeat, never mapped from a message."""

Scalar = StrictBool | StrictInt | StrictStr


class Timestamp(_Strict):
    """Where the vendor's timestamp is and how it is written; `occurred_at` of the event."""

    path: JsonPath
    format: Literal["iso8601", "epoch_ms", "epoch_s"] = Field(
        description="iso8601 with a zone (2026-11-23T08:30:12.250Z), or Unix time in milliseconds or seconds."
    )
    numeric_strings: bool = Field(
        default=False,
        description='epoch_ms/epoch_s: also take the number written as a JSON string ("1795422612.25").',
    )


class ForEach(_Strict):
    """One message, several events: each element of an array becomes its own event (a stock message's lines)."""

    path: JsonPath = Field(description="Path of the array; an absent or empty one refuses the message.")
    as_: Identifier = Field(
        alias="as",
        description="Name the element is given beside the message's own fields, for `data` paths (line.gtin).",
    )


class Reading(_Strict):
    path: JsonPath
    unit: str = Field(default="", max_length=16)


class Message(_Strict):
    """One kind of incoming message: where it arrives, how to recognise it, what it becomes."""

    topic: str = Field(description="Name of an entry in `topics`.")
    when: dict[JsonPath, Scalar] = Field(
        default_factory=dict, description="JSON path -> value that must all match; {} matches every message."
    )
    event: str | None = Field(default=None, description="Contract event type, e.g. cabinet.item_removed.")
    subject_id: JsonPath | None = Field(default=None, description="Path of the subject id; None: the device's id.")
    data: dict[str, JsonPath] = Field(default_factory=dict, description="contract data field -> JSON path")
    mappings: dict[str, dict[str, Scalar]] = Field(
        default_factory=dict, description="data field -> vendor value -> contract value (e.g. alarm codes)."
    )
    telemetry: dict[Identifier, Reading] = Field(default_factory=dict, description="metric -> reading")
    occurred_at: Timestamp | None = Field(default=None, description="Overrides the profile's `occurred_at`.")
    for_each: ForEach | None = Field(default=None, description="One event per element of an array (needs `event`).")
    ignore: bool = Field(default=False, description="Recognised and deliberately dropped (e.g. a bare 'OK' ack).")


class Presence(_Strict):
    """The vendor's status topic (retained, and its Last Will): which values mean online and offline."""

    topic: str = Field(description="Name of an entry in `topics`.")
    path: JsonPath | None = Field(default=None, description="Path of the state; None: the payload text itself.")
    online: list[Scalar] = Field(min_length=1)
    offline: list[Scalar] = Field(min_length=1)
    reason: JsonPath | None = Field(default=None, description="Path of why it went offline.")


class CommandMapping(_Strict):
    """A contract command as the vendor wants it: topic and JSON body with `{field}` placeholders."""

    topic: str = Field(description="Name of an entry in `topics`.")
    body: dict[str, Any] = Field(
        description="JSON body; a string that is exactly '{field}' takes the field's value and type."
    )
    reply_timeout_s: float | None = Field(
        default=None, gt=0, le=3600, description="unlock_cabinet: refused with a reason when no reply comes in time."
    )


class MqttJsonProfile(ProfileBase):
    """An MQTT device model speaking vendor JSON."""

    endpoint: ClassVar[Literal["modbus", "mqtt"]] = "mqtt"

    protocol: Literal["mqtt-json"] = "mqtt-json"
    topics: dict[Identifier, str] = Field(min_length=1, description="name -> template using only {topic_id}")
    message_id: JsonPath | None = Field(default=None, description="Vendor message id: a repeat makes no new event.")
    content_key: bool = Field(
        default=False,
        description="No message id: a message's key is a digest of its topic and JSON content (keys sorted), so an "
        "identical resend makes no new event. Needs `occurred_at`, so that two real, alike events differ.",
    )
    occurred_at: Timestamp | None = Field(default=None, description="None: the edge's clock when it arrives.")
    heartbeat_timeout_s: float = Field(default=60, gt=0, le=86400, description="Silent this long: offline.")
    presence: Presence | None = None
    messages: dict[Identifier, Message] = Field(min_length=1)
    commands: dict[str, CommandMapping] = Field(default_factory=dict, description="contract command type -> mapping")

    @model_validator(mode="after")
    def _cross_checked(self, info: ValidationInfo) -> "MqttJsonProfile":
        if info.context and info.context.get(COLLECT_PROBLEMS):
            return self
        if problems := self.problems():
            raise ValueError("; ".join(f"{field}: {reason}" for field, reason in problems))
        return self

    def problems(self) -> list[tuple[str, str]]:
        """Cross-reference problems as (field, reason): templates, topic names, paths, event fields, commands."""
        return _Check(self).problems()

    def topic(self, name: str, topic_id: str) -> str:
        """The concrete topic of `topics[name]` for one device."""
        return self.topics[name].replace("{topic_id}", topic_id)

    @cached_property
    def compiled(self) -> dict[str, ParsedResult]:
        """Every JSON path of the profile, compiled once (the profile is validated, so all of them compile)."""
        paths: set[str] = set()
        for timestamp in (self.occurred_at, *(m.occurred_at for m in self.messages.values())):
            if timestamp is not None:
                paths.add(timestamp.path)
        if self.message_id:
            paths.add(self.message_id)
        if self.presence:
            paths.update(p for p in (self.presence.path, self.presence.reason) if p)
        for message in self.messages.values():
            if message.for_each is not None:
                paths.add(message.for_each.path)
            paths.update(message.when)
            paths.update(message.data.values())
            paths.update(r.path for r in message.telemetry.values())
            if message.subject_id:
                paths.add(message.subject_id)
        return {path: jmespath.compile(path) for path in paths}


@cache
def command_fields() -> dict[str, tuple[str, ...]]:
    """Contract command type -> its fields (the placeholders a body template may use)."""
    union = get_args(get_args(Command)[0])
    return {cls.model_fields["type"].default: tuple(cls.model_fields) for cls in union}


def placeholders(template: str) -> list[str]:
    """The `{name}` fields of a template; raises ValueError for a malformed one (an unclosed brace)."""
    return [name for _, name, _, _ in Formatter().parse(template) if name is not None]


class _Check:
    def __init__(self, profile: MqttJsonProfile) -> None:
        self.profile = profile
        self.out: list[tuple[str, str]] = []

    def problems(self) -> list[tuple[str, str]]:
        profile = self.profile
        for name, template in profile.topics.items():
            self._template(f"topics.{name}", template, TOPIC_PLACEHOLDERS)
            if any(c in template.replace("{topic_id}", "") for c in "+#"):
                self.out.append((f"topics.{name}", "a device topic is concrete: no MQTT wildcards '+' or '#'"))
        for field, timestamp in [("occurred_at", profile.occurred_at)]:
            if timestamp is not None:
                self._path(f"{field}.path", timestamp.path)
        if profile.message_id:
            self._path("message_id", profile.message_id)
        if profile.content_key and profile.message_id:
            self.out.append(("content_key", "the profile has a message_id: a repeat is known by it, not by content"))
        if profile.content_key and profile.occurred_at is None:
            self.out.append(
                ("content_key", "needs occurred_at: without the device's timestamp two real, alike events count once")
            )
        if profile.presence:
            self._presence(profile.presence)
        seen: dict[tuple[str, tuple[tuple[str, Any], ...]], str] = {}
        for name, message in profile.messages.items():
            self._message(f"messages.{name}", message)
            key = (message.topic, tuple(sorted((k, repr(v)) for k, v in message.when.items())))
            if key in seen:
                self.out.append(
                    (f"messages.{name}.when", f"same topic and 'when' as messages.{seen[key]}: one could never match")
                )
            seen.setdefault(key, name)
        for name, command in profile.commands.items():
            self._command(f"commands.{name}", name, command)
        return self.out

    def _template(self, field: str, template: str, allowed: frozenset[str]) -> list[str]:
        try:
            names = placeholders(template)
        except ValueError as exc:
            self.out.append((field, f"malformed template {template!r}: {exc}"))
            return []
        for name in names:
            if name not in allowed:
                self.out.append(
                    (
                        field,
                        f"unknown placeholder {{{name}}} (allowed: {', '.join(f'{{{a}}}' for a in sorted(allowed))})",
                    )
                )
        return names

    def _path(self, field: str, path: str) -> None:
        try:
            parsed = jmespath.compile(path)
        except JMESPathError as exc:
            self.out.append((field, f"not a JMESPath expression {path!r}: {str(exc).splitlines()[0]}"))
            return
        if unknown := functions_called(parsed.parsed) - FUNCTIONS:
            self.out.append((field, f"unknown function {', '.join(sorted(unknown))}() in {path!r}"))

    def _topic_ref(self, field: str, name: str) -> None:
        if name not in self.profile.topics:
            self.out.append((field, f"no topic named {name!r} (known: {', '.join(sorted(self.profile.topics))})"))

    def _presence(self, presence: Presence) -> None:
        self._topic_ref("presence.topic", presence.topic)
        for field, path in (("path", presence.path), ("reason", presence.reason)):
            if path is not None:
                self._path(f"presence.{field}", path)
        if both := {repr(v) for v in presence.online} & {repr(v) for v in presence.offline}:
            self.out.append(("presence.offline", f"{', '.join(sorted(both))} cannot mean both online and offline"))

    def _message(self, where: str, message: Message) -> None:
        self._topic_ref(f"{where}.topic", message.topic)
        for path in message.when:
            self._path(f"{where}.when[{path}]", path)
        if message.occurred_at is not None:
            self._path(f"{where}.occurred_at.path", message.occurred_at.path)
        if message.for_each is not None:
            self._path(f"{where}.for_each.path", message.for_each.path)
            if message.event is None:
                self.out.append((f"{where}.for_each", "only an 'event' message can make one event per element"))
        if sum((message.event is not None, bool(message.telemetry), message.ignore)) != 1:
            self.out.append((where, "give exactly one of 'event' (with 'data'), 'telemetry' or 'ignore: true'"))
            return
        for metric, reading in message.telemetry.items():
            self._path(f"{where}.telemetry.{metric}.path", reading.path)
        if message.event is None:
            for field in ("data", "mappings", "subject_id"):
                if getattr(message, field):
                    self.out.append((f"{where}.{field}", "only an 'event' message has data fields"))
            return
        self._event(where, message)

    def _event(self, where: str, message: Message) -> None:
        event_type = message.event
        shape = event_shapes().get(event_type or "")
        if shape is None or event_type in DEVICE_EVENTS:
            known = ", ".join(sorted(set(event_shapes()) - DEVICE_EVENTS))
            hint = " (device.online/offline come from 'presence' and the heartbeat)" if shape else ""
            self.out.append((f"{where}.event", f"unknown event type {event_type!r}{hint} (the contract has: {known})"))
            return
        if message.subject_id is not None:
            self._path(f"{where}.subject_id", message.subject_id)
        for field, path in message.data.items():
            if field not in shape.fields:
                fields = ", ".join(shape.fields) or "none"
                self.out.append((f"{where}.data.{field}", f"not a field of {event_type} (fields: {fields})"))
            self._path(f"{where}.data.{field}", path)
        for field in shape.required:
            if field not in message.data:
                self.out.append((f"{where}.data", f"{event_type} requires {field!r}: map it to a JSON path"))
        for field in message.mappings:
            if field not in message.data:
                self.out.append((f"{where}.mappings.{field}", f"{field!r} is not one of this message's data fields"))

    def _command(self, where: str, name: str, command: CommandMapping) -> None:
        fields = command_fields().get(name)
        if fields is None:
            self.out.append((where, f"unknown command type (the contract has: {', '.join(sorted(command_fields()))})"))
            return
        self._topic_ref(f"{where}.topic", command.topic)
        allowed = frozenset(fields) - {"type"} | EXTRA_BODY_PLACEHOLDERS
        for path, template in _strings(command.body, "body"):
            self._template(f"{where}.{path}", template, allowed)
        if command.reply_timeout_s is not None and name != "unlock_cabinet":
            self.out.append((f"{where}.reply_timeout_s", "only unlock_cabinet has a reply (cabinet.unlock_replied)"))


def _strings(value: Any, path: str) -> list[tuple[str, str]]:
    """Every string in a JSON body with where it is (body.badge, body.items[0], ...)."""
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [item for key, inner in value.items() for item in _strings(inner, f"{path}.{key}")]
    if isinstance(value, list):
        return [item for i, inner in enumerate(value) for item in _strings(inner, f"{path}[{i}]")]
    return []
