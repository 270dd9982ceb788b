"""The reply to a message: an original-mode ACK (MSA-1 AA, AE or AR; MSA-2 the message's MSH-10) with, for AE and
AR, an ERR segment naming segment, sequence, field, the HL7 error code (table 0357), severity and the reason.

Built with python-hl7's containers (`Message.create_ack`, `assign_field`, `escape`), never by joining strings.
Receivers before v2.5 read the error from MSA-3 and ERR-1, so those are filled for them too.
"""

from datetime import UTC, datetime

import hl7

from gateway.clinical.hl7.problems import ERROR_TEXT, AckCode, Hl7MessageError

RECEIVER = "WARDLINK"
"""MSH-3 of the ACK when the message named no receiving application (MSH-5)."""
_SEPARATORS = "\r|~^&"
_ENCODING_CHARACTERS = "^~\\&"
_BEFORE_ERR_2 = ("2.1", "2.2", "2.3", "2.3.1", "2.4")


def ack(message: hl7.Message, code: AckCode, problem: Hl7MessageError | None = None) -> hl7.Message:
    """The ACK of a parsed message (a header too broken for `create_ack`, e.g. an MSH-9 without a trigger event,
    gets a plain one that still answers its control id)."""
    msh = message.segment("MSH")
    version = _field(msh, 12)
    try:
        reply = message.create_ack(code, application=_field(msh, 5) or RECEIVER)
    except (TypeError, IndexError):
        reply = _plain(code, _field(msh, 10), version or "2.5.1", receiver=_field(msh, 3))
    if problem is not None:
        _explain(reply, problem, old=version in _BEFORE_ERR_2)
    return reply


def ack_unparsed(problem: Hl7MessageError) -> hl7.Message:
    """An AR for bytes that are not an HL7 message (no MSH to answer to): MSA-2 is empty."""
    reply = _plain(problem.ack, "", "2.5.1")
    _explain(reply, problem, old=False)
    return reply


def _field(segment: hl7.Segment, number: int) -> str:
    return str(segment(number)) if number < len(segment) else ""


def _plain(code: AckCode, control_id: str, version: str, *, receiver: str = "") -> hl7.Message:
    reply = hl7.Message(separators=_SEPARATORS, sequence=[])
    msh = reply.create_segment([reply.create_field(["MSH"])])
    msh.assign_field("|", 1)
    msh.assign_field(_ENCODING_CHARACTERS, 2)
    msh.assign_field(RECEIVER, 3)
    msh.assign_field(receiver, 5)
    msh.assign_field(datetime.now(UTC).strftime("%Y%m%d%H%M%S+0000"), 7)
    msh.assign_field("ACK", 9)
    msh.assign_field(hl7.generate_message_control_id(), 10)
    msh.assign_field("P", 11)
    msh.assign_field(version, 12)
    msa = reply.create_segment([reply.create_field(["MSA"])])
    msa.assign_field(code, 1)
    msa.assign_field(control_id, 2)
    reply.extend([msh, msa])
    return reply


def _explain(reply: hl7.Message, problem: Hl7MessageError, *, old: bool) -> None:
    """Add the ERR segment (and, for receivers before v2.5, MSA-3 and ERR-1)."""
    text = ERROR_TEXT.get(problem.code, "")
    user_message = reply.escape(problem.user_message)
    err = reply.create_segment([reply.create_field(["ERR"])])
    where = problem.where
    if old:
        reply.segment("MSA").assign_field(user_message, 3)
        if where is not None:
            for component, value in enumerate((where.segment, str(where.sequence), str(where.field)), start=1):
                err.assign_field(value, 1, 1, component)
        for subcomponent, value in enumerate((problem.code, text, "HL70357"), start=1):
            err.assign_field(value, 1, 1, 4, subcomponent)
    if where is not None:
        parts = (where.segment, str(where.sequence), str(where.field), "1", str(where.component))
        for component, value in enumerate(parts, start=1):
            err.assign_field(value, 2, 1, component)
    for component, value in enumerate((problem.code, text, "HL70357"), start=1):
        err.assign_field(value, 3, 1, component)
    err.assign_field("E", 4)
    err.assign_field(user_message, 8)
    reply.append(err)
