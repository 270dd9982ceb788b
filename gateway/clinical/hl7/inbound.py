"""One HL7 message in, its ACK out: parse, check the header, skip a message already handled, turn it into events
through the integration path (`gateway.clinical.reports`), keep what is not an event, and dead-letter what fails.

Messages are handled one at a time (a lock), so the same control id arriving on two connections at once is
handled once. Logs name the control id, the message type and the sender, never message content.
"""

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime

import hl7

from contract import DeadLetter
from gateway.clinical.hl7.acks import ack, ack_unparsed
from gateway.clinical.hl7.mapping import FieldPath, Hl7Mapping
from gateway.clinical.hl7.messages import SUPPORTED, Header, read_header, read_specimens, sender_of
from gateway.clinical.hl7.outcomes import decide
from gateway.clinical.hl7.problems import APPLICATION_INTERNAL_ERROR, DATA_TYPE_ERROR, Hl7MessageError, rejected
from gateway.clinical.hl7.reading import segments_of
from gateway.clinical.hl7.records import DeadLetterRow, HandledRow, Hl7Records
from gateway.clinical.hl7.redaction import Redactor, redact_unparsed
from gateway.clinical.reports import IntegrationError, SequenceCounter, report_events
from gateway.ingest.event_store import EventStore
from gateway.runtime.clock import Clock, utc_now
from gateway.storage.database import Database

log = logging.getLogger(__name__)

DeadLetterSink = Callable[[DeadLetter], Awaitable[None]]
"""Hears of each dead letter (the service publishes it on the MQTT dead-letter topic)."""
NOT_HL7 = "not an HL7 message: it does not begin with a complete MSH segment (batches, FHS/BHS, are not taken)"
MAX_LOGGED_CODES = 1000
"""Unmapped test codes named in the log at most (each once): a sender cannot grow the set without bound."""
DEAD_LETTER_TOPIC = "hl7v2"
"""`DeadLetter.topic` of an HL7 message: `hl7v2/{sender}`."""


def decode(raw: bytes) -> str:
    """The message as text, with segments ended by CR as HL7 has them (senders that write LF or CRLF are common),
    and without blank lines, which are no segments.

    UTF-8 is tried first (HL7 2.8's preferred character set), then ISO 8859-1, which decodes any byte."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    lines = text.replace("\r\n", "\r").replace("\n", "\r").split("\r")
    return "\r".join(line for line in lines if line.strip())


def _parse(raw: bytes) -> hl7.Message | None:
    try:
        message = hl7.parse(decode(raw))
    except Exception:  # python-hl7 raises ParseException, ValueError or IndexError for what is not HL7
        return None
    segments = segments_of(message)
    return message if segments and segments[0].name == "MSH" and len(segments[0].segment) > 9 else None


def _message_type(message: hl7.Message) -> str:
    """MSH-9's message type and trigger event, e.g. `OML^O21` (empty when MSH-9 is)."""
    msh = segments_of(message)[0]
    return "^".join(filter(None, (msh.read(FieldPath("MSH", 9, 1)), msh.read(FieldPath("MSH", 9, 2)))))[:16]


def counted_as(message: hl7.Message | None) -> str:
    """The message type a message is counted under: a supported one by name, `unparsed` for bytes that are no
    message, and `other` for anything else, so a sender cannot make up a metric label per message it sends."""
    if message is None:
        return "unparsed"
    kind, _, trigger = _message_type(message).partition("^")
    return f"{kind}^{trigger}" if trigger in SUPPORTED.get(kind, frozenset()) else "other"


class Hl7Inbound:
    """Handles messages for one site: `await inbound.handle(raw)` returns the ACK to send back."""

    def __init__(
        self,
        events: EventStore,
        db: Database,
        mapping: Hl7Mapping,
        *,
        site: str,
        on_dead_letter: DeadLetterSink | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._events = events
        self._records = Hl7Records(db)
        self._mapping = mapping
        self._redactor = Redactor(mapping)
        self._site = site
        self._on_dead_letter = on_dead_letter
        self._clock = clock
        self._seq = SequenceCounter()
        self._lock = asyncio.Lock()
        self.answered: Counter[tuple[str, str]] = Counter()
        """(message type, ACK code) -> messages answered so; the type as `counted_as` names it."""
        self.dead_letters = 0
        """Dead letters kept since start (every message answered AE or AR)."""
        self.unmapped_tests = 0
        """Specimens and results left out since start because their test code is not in `categories`."""
        self._unmapped_codes: set[str] = set()

    @property
    def records(self) -> Hl7Records:
        return self._records

    async def handle(self, raw: bytes) -> hl7.Message:
        """The ACK for one message (the bytes inside an MLLP block), counted by message type and ACK code."""
        message = _parse(raw)
        reply = await self._answer(raw, message)
        self.answered[counted_as(message), str(reply.segment("MSA")[1])] += 1
        return reply

    async def _answer(self, raw: bytes, message: hl7.Message | None) -> hl7.Message:
        received_at = self._clock()
        if message is None:
            problem = rejected("100", NOT_HL7)
            log.warning("HL7 listener: %d bytes that are not an HL7 message, answered AR", len(raw))
            await self._dead_letter(DeadLetterRow(received_at, "AR", problem.reason, redact_unparsed(raw)), None)
            return ack_unparsed(problem)
        try:
            header = read_header(message, self._mapping)
        except Hl7MessageError as problem:
            msh = segments_of(message)[0]
            sender, control_id = sender_of(msh, self._mapping) or None, msh.read(FieldPath("MSH", 10)) or None
            kind = _message_type(message)
            log.warning("HL7 %s %s from %s answered %s: %s", kind, control_id, sender, problem.ack, problem.reason)
            letter = DeadLetterRow(
                received_at,
                problem.ack,
                str(problem),
                self._redactor.redact(message),
                sender=sender,
                control_id=control_id,
                message_type=kind or None,
            )
            await self._dead_letter(letter, None)
            return ack(message, problem.ack, problem)
        async with self._lock:
            return await self._handle(message, header, received_at)

    async def _handle(self, message: hl7.Message, header: Header, received_at: datetime) -> hl7.Message:
        what = f"HL7 {header.message_type} {header.control_id} from {header.sender}"
        try:
            if await self._records.previous_ack(header.sender, header.control_id) == "AA":
                log.info("%s again: answered AA, nothing stored", what)
                return ack(message, "AA")
            reading = read_specimens(message, header, self._mapping)
            seen = reading.seen
            outcome = decide(
                seen,
                await self._records.orders(item.known.barcode for item in seen),
                header,
                self._mapping,
                site=self._site,
                received_at=received_at,
            )
            try:
                result = await report_events(
                    self._events, self._site, header.device, outcome.events, seq=self._seq, received_at=received_at
                )
            except IntegrationError as exc:
                raise Hl7MessageError("AE", DATA_TYPE_ERROR, "; ".join(exc.problems)) from None
            handled = HandledRow(header.sender, header.control_id, header.message_type, received_at, "AA", result.ids)
            await self._records.handled(handled, list(outcome.orders.values()))
            self._skipped(reading.unmapped)
        except Hl7MessageError as problem:
            log.warning("%s answered %s: %s", what, problem.ack, problem)
            await self._failed(message, header, received_at, problem)
            return ack(message, problem.ack, problem)
        except Exception as exc:
            # HL7's original mode: a failure unrelated to the message's content (the database is away, a bug) is an
            # AR, which tells the sender to send it again; it is not recorded as handled, so the resend is taken.
            log.exception("%s could not be processed; answered AR (the sender may send it again)", what)
            internal = Hl7MessageError("AR", APPLICATION_INTERNAL_ERROR, f"internal error ({type(exc).__name__})")
            await self._failed(message, header, received_at, internal, record=False)
            return ack(message, internal.ack, internal)
        log.info("%s answered AA: %d event(s), %d new", what, len(result.ids), result.stored)
        return ack(message, "AA")

    def _skipped(self, codes: list[str]) -> None:
        """Count the specimens of unmapped tests, and name each code in the log the first time it comes."""
        self.unmapped_tests += len(codes)
        for code in codes:
            if code in self._unmapped_codes or len(self._unmapped_codes) >= MAX_LOGGED_CODES:
                continue
            self._unmapped_codes.add(code)
            log.warning(
                "HL7 test code %r is not in the mapping's categories: its specimens are not tracked "
                "(unmapped_tests: skip; logged once per code)",
                code[:64],
            )

    async def _failed(
        self,
        message: hl7.Message,
        header: Header,
        received_at: datetime,
        problem: Hl7MessageError,
        *,
        record: bool = True,
    ) -> None:
        letter = DeadLetterRow(
            received_at,
            problem.ack,
            str(problem),
            self._redactor.redact(message),
            sender=header.sender,
            control_id=header.control_id,
            message_type=header.message_type,
        )
        handled = HandledRow(header.sender, header.control_id, header.message_type, received_at, problem.ack)
        await self._dead_letter(letter, handled if record else None)

    async def _dead_letter(self, letter: DeadLetterRow, handled: HandledRow | None) -> None:
        """Keep the dead letter, then hand it on; neither failing stops the ACK."""
        self.dead_letters += 1
        try:
            await self._records.failed(letter, handled)
        except Exception:
            log.exception("could not keep the dead letter of HL7 %s from %s", letter.control_id, letter.sender)
        if self._on_dead_letter is None:
            return
        published = DeadLetter.of(
            reason=letter.reason,
            topic=f"{DEAD_LETTER_TOPIC}/{letter.sender or 'unknown'}",
            payload=letter.message.encode(),
            received_at=letter.received_at,
        )
        try:
            await self._on_dead_letter(published)
        except Exception:
            log.exception("could not hand on the dead letter of HL7 %s from %s", letter.control_id, letter.sender)
