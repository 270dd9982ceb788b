"""FHIR search parameters: parsed and checked against what a resource supports, or refused with the reason.

Handling is strict: a parameter the resource does not support, a modifier or prefix not understood, or a value
that does not parse is a `SearchError` (400 with an OperationOutcome), never silently ignored. Repeating a
parameter means AND, commas within one value mean OR (FHIR's rules). Dates are ranges by their precision
(`2026-11-23` is the whole day, UTC when no zone is given), so each `_lastUpdated` prefix becomes a half-open
interval and several of them intersect.
"""

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

ParamType = Literal["token", "date", "string", "reference"]

DEFAULT_COUNT = 50
MAX_COUNT = 500
CURSOR = "_cursor"
"""The opaque paging parameter of the `next` and `previous` links."""
RESULT_PARAMS = frozenset({"_count", CURSOR, "_format"})
FORMATS = frozenset({"json", "application/json", "application/fhir+json"})


class SearchError(ValueError):
    """A search the server will not run; the message says what to change."""

    def __init__(self, message: str, *, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code
        """The OperationOutcome issue code: invalid, not-supported, ..."""


@dataclass(frozen=True, slots=True)
class SearchParam:
    name: str
    type: ParamType
    documentation: str


@dataclass(frozen=True, slots=True)
class Token:
    system: str | None
    code: str


@dataclass(frozen=True, slots=True)
class Window:
    """Instants `since` (inclusive) up to `before` (exclusive); None: unbounded on that side."""

    since: datetime | None = None
    before: datetime | None = None

    def holds(self, at: datetime | None) -> bool:
        if self.since is None and self.before is None:
            return True
        if at is None:
            return False
        return (self.since is None or at >= self.since) and (self.before is None or at < self.before)

    def narrowed(self, other: "Window") -> "Window":
        since = max((t for t in (self.since, other.since) if t is not None), default=None)
        before = min((t for t in (self.before, other.before) if t is not None), default=None)
        return Window(since, before)


@dataclass(frozen=True, slots=True)
class StringMatch:
    value: str
    how: Literal["starts", "contains", "exact"] = "starts"

    def matches(self, text: str | None) -> bool:
        if text is None:
            return False
        if self.how == "exact":
            return text == self.value
        folded, wanted = text.casefold(), self.value.casefold()
        return wanted in folded if self.how == "contains" else folded.startswith(wanted)


@dataclass(frozen=True, slots=True)
class Search:
    """One parsed search: each parameter's groups (AND of groups, OR within a group), the window, the page."""

    resource_type: str
    tokens: dict[str, tuple[tuple[Token, ...], ...]] = field(default_factory=dict)
    strings: dict[str, tuple[tuple[StringMatch, ...], ...]] = field(default_factory=dict)
    references: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    updated: Window = Window()
    count: int = DEFAULT_COUNT
    offset: int = 0
    fingerprint: str = ""
    """A digest of the search's parameters, so a cursor only continues the search it came from."""
    query: tuple[tuple[str, str], ...] = ()
    """The search's own parameters, in order, for the bundle's links."""

    def codes(self, name: str, *systems: str) -> frozenset[str] | None:
        """The codes `name` allows (those without a system, or with one of `systems`); None: not constrained."""
        allowed: frozenset[str] | None = None
        for group in self.tokens.get(name, ()):
            codes = frozenset(t.code for t in group if t.system is None or t.system in systems)
            allowed = codes if allowed is None else allowed & codes
        return allowed

    def text_matches(self, name: str, texts: Iterable[str | None]) -> bool:
        """Whether the string parameter `name` (if given) matches one of `texts` in every AND group."""
        candidates = list(texts)
        return all(any(m.matches(t) for m in group for t in candidates) for group in self.strings.get(name, ()))

    def referenced(self, name: str) -> frozenset[str] | None:
        allowed: frozenset[str] | None = None
        for group in self.references.get(name, ()):
            allowed = frozenset(group) if allowed is None else allowed & frozenset(group)
        return allowed


_DATE = re.compile(
    r"(?P<prefix>eq|ne|gt|lt|ge|le|sa|eb|ap)?"
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,6}))?)?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})?)?)?)?"
)


def date_range(text: str) -> tuple[str, datetime, datetime]:
    """The prefix (eq by default) and the range [start, end) a FHIR date search value stands for."""
    found = _DATE.fullmatch(text)
    if found is None:
        raise SearchError(
            f"{text!r} is not a FHIR date: use YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss][Z|+hh:mm], "
            "with an optional prefix eq, gt, ge, lt or le"
        )
    g = found.groupdict()
    prefix = g["prefix"] or "eq"
    if prefix not in ("eq", "gt", "ge", "lt", "le"):
        raise SearchError(
            f"the date prefix {prefix!r} is not supported: use eq, gt, ge, lt or le", code="not-supported"
        )
    try:
        if g["month"] is None:
            start = datetime(int(g["year"]), 1, 1, tzinfo=UTC)
            return prefix, start, start.replace(year=start.year + 1)
        if g["day"] is None:
            start = datetime(int(g["year"]), int(g["month"]), 1, tzinfo=UTC)
            after = (
                start.replace(year=start.year + 1, month=1)
                if start.month == 12
                else start.replace(month=start.month + 1)
            )
            return prefix, start, after
        if g["hour"] is None:
            start = datetime(int(g["year"]), int(g["month"]), int(g["day"]), tzinfo=UTC)
            return prefix, start, start + timedelta(days=1)
        moment = datetime.fromisoformat(text[len(g["prefix"] or "") :].replace("Z", "+00:00"))
    except ValueError as error:
        raise SearchError(f"{text!r} is not a valid date: {error}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # FHIR: the server's zone, and wardlink's is UTC
    if g["second"] is None:
        step = timedelta(minutes=1)
    elif g["fraction"] is None:
        step = timedelta(seconds=1)
    else:
        step = timedelta(microseconds=10 ** (6 - len(g["fraction"])))
    return prefix, moment.astimezone(UTC), moment.astimezone(UTC) + step


def date_window(text: str) -> Window:
    """The instants a prefixed date value admits, as a half-open window (FHIR's range semantics)."""
    prefix, start, end = date_range(text)
    return {
        "eq": Window(start, end),
        "ge": Window(start, None),
        "gt": Window(end, None),
        "le": Window(None, end),
        "lt": Window(None, start),
    }[prefix]


def _token(text: str) -> Token:
    if not text:
        raise SearchError("a token search value must not be empty: use code or system|code")
    system, bar, code = text.partition("|")
    if not bar:
        return Token(None, text)
    if not code:
        raise SearchError(f"{text!r} names a system but no code: use system|code")
    return Token(system or None, code)


def _reference(name: str, text: str) -> str:
    """`Type/id` (also at the end of an absolute URL) as given."""
    parts = text.rstrip("/").split("/")
    if len(parts) < 2 or not parts[-1] or not parts[-2]:
        raise SearchError(f"{name}={text!r}: give the reference as Type/id, e.g. Specimen/S-1001")
    return f"{parts[-2]}/{parts[-1]}"


def _count(text: str) -> int:
    if not text.isdigit() or int(text) > MAX_COUNT:
        raise SearchError(f"_count={text!r}: give a whole number from 0 to {MAX_COUNT}")
    return int(text)


def fingerprint(resource_type: str, query: Sequence[tuple[str, str]]) -> str:
    text = json.dumps([resource_type, sorted(query)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


MAX_OFFSET = 10_000_000
"""The deepest page a cursor may point at (a forged offset beyond it is refused, not passed to the database)."""


def cursor(search: Search, offset: int) -> str:
    """The opaque paging token for `offset` into `search`'s matches."""
    raw = json.dumps({"o": offset, "f": search.fingerprint}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _offset(token: str, expected: str) -> int:
    try:
        body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset, made_for = body["o"], body["f"]
    except (ValueError, TypeError, KeyError):
        offset, made_for = None, None
    if not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET or made_for != expected:
        raise SearchError(
            f"{CURSOR} is not a cursor this server made for this search: follow the bundle's links, "
            "or start the search again without it"
        )
    return offset


def parse(resource_type: str, supported: Sequence[SearchParam], query: Sequence[tuple[str, str]]) -> Search:
    """The search `query` (name, value pairs as sent) asks for, or a `SearchError` naming what is wrong."""
    by_name = {p.name: p for p in supported}
    tokens: dict[str, list[tuple[Token, ...]]] = {}
    strings: dict[str, list[tuple[StringMatch, ...]]] = {}
    references: dict[str, list[tuple[str, ...]]] = {}
    updated = Window()
    count, offset_token = DEFAULT_COUNT, None
    own: list[tuple[str, str]] = []
    for key, value in query:
        if key == "_count":
            count = _count(value)
            continue
        if key == CURSOR:
            offset_token = value
            continue
        if key == "_format":
            if value not in FORMATS:
                raise SearchError(f"_format={value!r}: this server speaks JSON only ({', '.join(sorted(FORMATS))})")
            continue
        name, _, modifier = key.partition(":")
        param = by_name.get(name)
        if param is None:
            known = ", ".join(sorted([*by_name, *RESULT_PARAMS]))
            raise SearchError(
                f"{resource_type} has no search parameter {name!r} here: use one of {known}", code="not-supported"
            )
        own.append((key, value))
        if param.type == "string":
            if modifier not in ("", "exact", "contains"):
                raise SearchError(f"{key}: the string modifier {modifier!r} is not supported (use :exact or :contains)")
            how = modifier or "starts"
            strings.setdefault(name, []).append(tuple(StringMatch(v, how) for v in value.split(",")))  # type: ignore[arg-type]
            continue
        if modifier:
            raise SearchError(f"{key}: the modifier {modifier!r} is not supported on {param.type} parameters")
        if param.type == "token":
            tokens.setdefault(name, []).append(tuple(_token(v) for v in value.split(",")))
        elif param.type == "reference":
            references.setdefault(name, []).append(tuple(_reference(name, v) for v in value.split(",")))
        else:
            if "," in value:
                raise SearchError(f"{key}: give one date per parameter; repeat {name} to narrow the range")
            updated = updated.narrowed(date_window(value))
    print_ = fingerprint(resource_type, own)
    return Search(
        resource_type=resource_type,
        tokens={k: tuple(v) for k, v in tokens.items()},
        strings={k: tuple(v) for k, v in strings.items()},
        references={k: tuple(v) for k, v in references.items()},
        updated=updated,
        count=count,
        offset=0 if offset_token is None else _offset(offset_token, print_),
        fingerprint=print_,
        query=tuple(own),
    )
