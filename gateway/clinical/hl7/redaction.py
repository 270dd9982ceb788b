"""The copy of a message that may be kept: only the fields the mapping reads, every other segment as its name and
`<redacted>`, and a line whose first field is no segment id as `<redacted>` alone. A whitelist, so a segment or
field nobody thought of (PID, NK1, an OBX value, a note, a Z-segment, the rest of an address after a line break)
is never kept, logged or dead-lettered.
"""

from collections import defaultdict

import hl7

from gateway.clinical.hl7.mapping import FieldPath, Hl7Mapping
from gateway.clinical.hl7.reading import NOT_A_SEGMENT, segments_of

REDACTED = "<redacted>"
MSH_FIELDS = (3, 4, 5, 6, 7, 9, 10, 11, 12, 15, 16, 18)
"""Header fields kept whole: applications, facilities, time, type, control id, processing id, version, ack modes,
character set. MSH-8 (security) is not."""
STRUCTURAL = (FieldPath("ORC", 1), FieldPath("ORC", 5))
"""Read whatever the mapping says: the order control and order status."""


class Redactor:
    """Redacts messages to the fields of one mapping."""

    def __init__(self, mapping: Hl7Mapping) -> None:
        kept: dict[str, set[FieldPath]] = defaultdict(set)
        for path in [*mapping.paths(), *STRUCTURAL]:
            if path.segment != "MSH":
                kept[path.segment].add(path)
        self._kept = {
            name: sorted(paths, key=lambda p: (p.field, p.component, p.subcomponent)) for name, paths in kept.items()
        }

    def redact(self, message: hl7.Message) -> str:
        """The message with every value the mapping does not read removed."""
        out = hl7.Message(separators=message.separators, esc=message.esc, sequence=[])
        for seg in segments_of(message):
            if seg.name == NOT_A_SEGMENT:  # the rest of a field after a line break: its "name" is patient data too
                out.append(out.create_segment([out.create_field([REDACTED])]))
                continue
            copy = out.create_segment([out.create_field([seg.name])])
            if seg.name == "MSH":
                copy.assign_field(str(seg.segment(1)), 1)
                copy.assign_field(str(seg.segment(2)), 2)
                for number in MSH_FIELDS:
                    if number < len(seg.segment) and (text := str(seg.segment(number))):
                        copy.assign_field(text, number)  # as sent: header fields hold no patient data
            elif seg.name in self._kept:
                for path in self._kept[seg.name]:
                    if value := seg.read(path):
                        copy.assign_field(out.escape(value), path.field, 1, path.component, path.subcomponent)
            else:
                copy.assign_field(REDACTED, 1)
            out.append(copy)
        return str(out)


def redact_unparsed(raw: bytes) -> str:
    """Bytes that are not an HL7 message: nothing of them is kept but their size."""
    return f"{REDACTED} {len(raw)} bytes that are not an HL7 message"
