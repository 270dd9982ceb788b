"""Reading a parsed message: segments with their sequence numbers, the groups of an order, and typed values.

python-hl7 parses and unescapes; this module only walks what it parsed. A `Scope` is the segments one specimen's
meaning is read from (the message's MSH and PV1, the order's ORC, OBR and TQ1, the specimen's SPM and SAC), so a
field choice such as `[SPM-2.1, OBR-3.1]` is tried in the segments that belong together.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timezone, tzinfo
from typing import Any

import hl7

from contract.ids import InvalidIdentifierError, check_identifier
from gateway.clinical.hl7.mapping import FieldPath
from gateway.clinical.hl7.problems import DATA_TYPE_ERROR, Location, content_error
from gateway.clinical.hl7.segment_ids import is_segment_id


@dataclass(frozen=True, slots=True)
class Seg:
    """A segment and its sequence among the message's segments of the same name (ERR-2.2)."""

    name: str
    sequence: int
    segment: Any  # hl7.Segment

    def at(self, path: FieldPath) -> Location:
        return Location(self.name, self.sequence, path.field, path.component)

    def read(self, path: FieldPath) -> str:
        try:
            value = self.segment.extract_field(
                1, path.field, 1, path.component, path.subcomponent
            )  # the first repetition
        except IndexError:
            return ""
        text = str(value).strip()
        return "" if text == '""' else text  # the HL7 null: present and blank


NOT_A_SEGMENT = ""
"""The name of a line whose first field is not a segment id: usually the rest of a field after a line break the
sender did not escape (an address, a note), never to be read nor kept."""


def segment_name(segment: Any) -> str:
    """The segment's id, or `NOT_A_SEGMENT` when its first field as a whole is not one HL7 defines or a `Z`
    segment (so `SPM~1`, and a surname `LEE` after a line break, are none)."""
    name = str(segment[0]) if segment else ""
    return name if is_segment_id(name) else NOT_A_SEGMENT


def segments_of(message: hl7.Message) -> list[Seg]:
    counts: dict[str, int] = {}
    found = []
    for segment in message:
        name = segment_name(segment)
        counts[name] = counts.get(name, 0) + 1
        found.append(Seg(name, counts[name], segment))
    return found


@dataclass(frozen=True, slots=True)
class Scope:
    """The segments one specimen is read from, by name; `first` tries field choices in order."""

    segments: dict[str, Seg] = field(default_factory=dict)
    zone: tzinfo | None = None
    """For times without an offset: MSH-7's offset, else the mapping's time zone."""

    def with_(self, *found: Seg | None) -> "Scope":
        extra = {s.name: s for s in found if s is not None}
        return replace(self, segments={**self.segments, **extra})

    def first(self, choices: Sequence[FieldPath]) -> tuple[str, Location] | None:
        for path in choices:
            seg = self.segments.get(path.segment)
            if seg is not None and (value := seg.read(path)):
                return value, seg.at(path)
        return None

    def where(self, choices: Sequence[FieldPath]) -> Location:
        """Where the first choice would be (for "required field missing")."""
        path = choices[0]
        seg = self.segments.get(path.segment)
        return Location(path.segment, seg.sequence if seg is not None else 1, path.field, path.component)

    def identifier(self, choices: Sequence[FieldPath], what: str) -> tuple[str, Location] | None:
        found = self.first(choices)
        if found is None:
            return None
        value, at = found
        try:
            check_identifier(value, what=what)
        except InvalidIdentifierError as exc:
            raise content_error(DATA_TYPE_ERROR, str(exc), at) from None
        return found

    def time(self, choices: Sequence[FieldPath]) -> tuple[datetime, Location] | None:
        found = self.first(choices)
        if found is None:
            return None
        value, at = found
        return parse_time(value, at, self.zone), at


def parse_time(value: str, at: Location, zone: tzinfo | None) -> datetime:
    """An HL7 DTM (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]) as an aware datetime."""
    parsed: datetime | None
    try:
        parsed = hl7.parse_datetime(value)
    except (ValueError, TypeError):
        parsed = None
    if parsed is None or len(value) < 12:  # a time needs at least the minute
        raise content_error(DATA_TYPE_ERROR, "not a date and time to the minute (YYYYMMDDHHMM[SS][+ZZZZ])", at)
    offset = parsed.utcoffset()
    # python-hl7's own offset class cannot be copied; a stdlib timezone (or the default zone) in UTC can
    parsed = parsed.replace(tzinfo=timezone(offset) if offset is not None else zone)
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else parsed


def stated_zone(value: str) -> tzinfo | None:
    """The offset an HL7 time states (`+0100`), if it states one and parses."""
    try:
        parsed = hl7.parse_datetime(value)
    except (ValueError, TypeError):
        return None
    offset = parsed.utcoffset() if parsed is not None else None
    return timezone(offset) if offset is not None else None


@dataclass
class OrderGroup:
    """One observation request (OBR) with its order (ORC), timing (TQ1) and the specimens (SPM, SAC) it names."""

    obr: Seg
    orc: Seg | None = None
    tq1: Seg | None = None
    specimens: list[Seg] = field(default_factory=list)
    containers: list[Seg] = field(default_factory=list)

    def scopes(self, base: Scope) -> Iterator[Scope]:
        """One scope per specimen (an OBR without SPM: one, with the barcode from OBR or ORC)."""
        order = base.with_(self.orc, self.obr, self.tq1)
        if not self.specimens:
            yield order.with_(self.containers[0] if self.containers else None)
            return
        for index, spm in enumerate(self.specimens):
            sac = self.containers[index] if index < len(self.containers) else None
            yield order.with_(spm, sac)


def order_groups(segments: Sequence[Seg], specimen_first: bool) -> list[OrderGroup]:
    """The message's OBR groups. `specimen_first` (OUL^R22): an SPM heads the orders after it, and ORC follows OBR;
    otherwise (OML^O21, ORM^O01, ORU^R01) ORC and TQ1 come before OBR (TQ1 may follow it) and SPM after it."""
    groups: list[OrderGroup] = []
    open_: OrderGroup | None = None
    orc: Seg | None = None
    tq1: Seg | None = None
    spm: Seg | None = None
    sac: Seg | None = None
    for seg in segments:
        if seg.name == "ORC":
            if specimen_first and open_ is not None and open_.orc is None:
                open_.orc = seg
            else:
                orc, tq1, open_ = seg, None, None
        elif seg.name == "TQ1":
            if open_ is not None and open_.tq1 is None:
                open_.tq1 = seg
            else:
                tq1 = seg
        elif seg.name == "OBR":
            open_ = OrderGroup(obr=seg, orc=orc, tq1=tq1)
            if specimen_first and spm is not None:
                open_.specimens.append(spm)
                if sac is not None:
                    open_.containers.append(sac)
            groups.append(open_)
            orc, tq1 = None, None
        elif seg.name == "SPM":
            if specimen_first:
                spm, sac, open_ = seg, None, None
            elif open_ is not None:
                open_.specimens.append(seg)
        elif seg.name == "SAC":
            if specimen_first:
                sac = seg
            elif open_ is not None:
                open_.containers.append(seg)
    return groups
