"""A simulated laboratory information system that speaks HL7 v2.5.1 over MLLP, as installed LIS products do.

It has the interface of the MQTT `ClinicalSystem` (`report`, `pending`, `acknowledged`, `reported`, `start`,
`stop`, an async context manager), so the demo hospital can use either; each report is a canonical event turned
into the HL7 message that tells it (`simulators.clinical.hl7_messages`). Messages go one at a time, in order, over
one MLLP connection (python-hl7 frames and parses them); each is kept until the gateway answers it: `AA` takes it
off, `AE` or `AR` too (logged without the message's text, counted in `rejected`: resending a message the receiver
refused only gets it refused again) — except `AR` with ERR-3 207 ("application internal error", e.g. the gateway's
database is away) or with no error code, which in HL7's original mode asks for the message again: it is sent again
after a capped, jittered backoff (counted in `deferred`). Unanswered, it is sent again after `resend_after_s` and
after a reconnect, with the same control id (MSH-10), so the gateway stores it once. Reconnects use capped,
jittered backoff. The link is UTF-8 both ways (MSH-18 `UNICODE UTF-8`); a byte in an answer that is not UTF-8 is
replaced, never an error. Kept in memory: a simulator does not survive a restart.

    async with Hl7LabSystem("mllp://127.0.0.1:2575", clock=clock) as lis:
        lis.report("specimen.collected", "specimen", "S123456789", {"category": "cbc", "ward": "icu"})
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import hl7
from hl7.mllp import HL7StreamReader, HL7StreamWriter, InvalidBlockError, open_hl7_connection

from contract import Event, Subject, SubjectKind, new_event
from contract.events.specimen import SpecimenCollected
from mqttlink.backoff import Backoff, FailureLog
from simulators.clinical.hl7_messages import Header, message_for
from simulators.clinical.system import LAB_SYSTEM

log = logging.getLogger(__name__)

ACCEPTED = frozenset({"AA", "CA"})
"""Answers that take a message off as accepted (original mode; enhanced mode's commit accept)."""
REFUSED = frozenset({"AE", "AR", "CE", "CR"})
"""Answers that take a message off for good without it being accepted (error, reject; enhanced-mode too)..."""
REJECTED = frozenset({"AR", "CR"})
SEND_AGAIN_ERRORS = frozenset({None, "207"})
"""...unless a reject names an application internal error (HL7 table 0357) or no error: then it is sent again."""


def _wall_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class MllpAddress:
    """Where an MLLP peer listens: `mllp://host:port`."""

    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> "MllpAddress":
        parts = urlsplit(url)
        if parts.scheme != "mllp" or not parts.hostname or parts.port is None:
            raise ValueError(f"an MLLP address looks like mllp://host:port, not {url!r}")
        return cls(parts.hostname, parts.port)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"mllp://{host}:{self.port}"


@dataclass
class Hl7Report:
    """One report as sent: the event it tells, its message and control id, and the receiver's answer once given."""

    event: Event
    control_id: str
    message: hl7.Message
    answer: str | None = None
    """MSA-1 of the answer (AA, AE, AR), None until answered."""


class Hl7LabSystem:
    """The lab system's MLLP link to wardlink: `report(...)` queues a message; it is sent until answered."""

    def __init__(
        self,
        mllp_url: str,
        *,
        site: str = "general-hospital",
        device: str = "lis",
        header: Header | None = None,
        clock: Callable[[], datetime] = _wall_now,
        resend_after_s: float = 10.0,
        connect_timeout_s: float = 5.0,
        max_backoff_s: float = 10.0,
    ) -> None:
        self.address = MllpAddress.parse(mllp_url)
        self.site = site
        self.device = device
        self.header = header or Header(facility=site, receiving_facility=site)
        self.clock = clock
        self.resend_after_s = resend_after_s
        self.connect_timeout_s = connect_timeout_s
        self.reported: list[Hl7Report] = []
        """Every report, in the order made (tests read it)."""
        self.acked = 0
        self.rejected: list[Hl7Report] = []
        """Reports the receiver answered AE or AR: not sent again."""
        self.sends = 0
        """Messages written to the wire, resends included."""
        self.deferred = 0
        """Answers AR for an internal error (or for no stated reason): the message was sent again."""
        self.connected = asyncio.Event()
        self._backoff = Backoff(initial=0.2, cap=max_backoff_s)
        self._again = Backoff(initial=0.2, cap=max_backoff_s)
        """Between sends of a message the receiver asked for again."""
        self._failures = FailureLog(log, f"lab system link to {self.address}")
        self._seq = 1
        self._orders: dict[str, SpecimenCollected] = {}
        self._unanswered: dict[str, Hl7Report] = {}
        self._wake = asyncio.Event()
        self._all_answered = asyncio.Event()
        self._all_answered.set()
        self._task: asyncio.Task[None] | None = None

    # -- what the lab system says ------------------------------------------------------------------------------
    def report(
        self,
        type: str,
        subject_kind: SubjectKind,
        subject_id: str,
        data: dict[str, Any] | None = None,
        occurred_at: datetime | None = None,
    ) -> Hl7Report:
        """Validate the event (as the contract has it), turn it into its HL7 message and queue it."""
        event = new_event(
            type,
            seq=self._seq,
            site=self.site,
            edge=LAB_SYSTEM,
            device=self.device,
            subject=Subject(kind=subject_kind, id=subject_id),
            occurred_at=occurred_at or self.clock(),
            data=data,
        )
        control_id = str(hl7.generate_message_control_id())
        message = message_for(event, self.header, control_id, self.clock(), self._orders.get(subject_id))
        if isinstance(event, SpecimenCollected):
            self._orders[subject_id] = event
        self._seq += 1
        report = Hl7Report(event, control_id, message)
        self.reported.append(report)
        self._unanswered[control_id] = report
        self._all_answered.clear()
        self._wake.set()
        return report

    @property
    def pending(self) -> int:
        """Messages not answered yet."""
        return len(self._unanswered)

    async def acknowledged(self, timeout_s: float = 30) -> None:
        """Wait until every message reported so far was answered (accepted or refused)."""
        async with asyncio.timeout(timeout_s):
            await self._all_answered.wait()

    # -- lifecycle ---------------------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"hl7-lab-system:{self.address}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def __aenter__(self) -> "Hl7LabSystem":
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- the MLLP link -----------------------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self.connect_timeout_s):
                    reader, writer = await open_hl7_connection(
                        self.address.host, self.address.port, encoding="utf-8", encoding_errors="replace"
                    )
            except (OSError, TimeoutError) as exc:
                self._failures.failed(f"cannot connect ({exc})")
                await asyncio.sleep(self._backoff.next_delay())
                continue
            self._failures.recovered()
            self._backoff.reset()
            self.connected.set()
            try:
                await self._serve(reader, writer)
            except (OSError, EOFError, ValueError, InvalidBlockError, hl7.HL7Exception) as exc:
                # a dropped link, or an answer python-hl7 could not frame or parse: start afresh
                self._failures.failed(f"link lost ({type(exc).__name__})")
            finally:
                self.connected.clear()
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
            await asyncio.sleep(self._backoff.next_delay())

    async def _serve(self, reader: HL7StreamReader, writer: HL7StreamWriter) -> None:
        """Send the oldest unanswered message and wait for its answer; again after `resend_after_s` without one."""
        while True:
            if not self._unanswered:
                self._all_answered.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            report = next(iter(self._unanswered.values()))
            writer.writemessage(report.message)
            await writer.drain()
            self.sends += 1
            asked_again = False
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.resend_after_s):
                    while report.control_id in self._unanswered and not asked_again:
                        asked_again = self._answered(await reader.readmessage()) == report.control_id
            if asked_again:
                await asyncio.sleep(self._again.next_delay())

    def _answered(self, answer: hl7.Message) -> str | None:
        """Take the message an answer names off (an answer to one already answered is a late duplicate); the
        control id of a message the receiver asks for again, else None."""
        try:
            code, control_id = str(answer["MSA.1"]), str(answer["MSA.2"])
        except (KeyError, IndexError):
            log.warning("lab system: ignoring an answer without MSA")
            return None
        if code not in ACCEPTED and code not in REFUSED:
            log.warning("lab system: message %s answered with unknown code %r; sent again", control_id, code[:2])
            return None
        report = self._unanswered.get(control_id)
        if report is None:
            return None
        if code in REJECTED and _error_code(answer) in SEND_AGAIN_ERRORS:
            self.deferred += 1
            log.warning("lab system: %s message %s answered %s for an internal error; sent again", report.event.type,
                        control_id, code)  # fmt: skip
            return control_id
        del self._unanswered[control_id]
        self._again.reset()
        report.answer = code
        if code in ACCEPTED:
            self.acked += 1
        else:
            self.rejected.append(report)
            log.warning("lab system: %s message %s answered %s; not sent again", report.event.type, control_id, code)
        if not self._unanswered:
            self._all_answered.set()
        return None


def _error_code(answer: hl7.Message) -> str | None:
    """ERR-3.1 (v2.5 on), else ERR-1.4.1 (before v2.5), else MSA-6.1: the HL7 table 0357 code, None without one."""
    for key in ("ERR.3.1.1", "ERR.1.1.4.1", "MSA.6.1.1"):
        with contextlib.suppress(KeyError, IndexError):
            if code := str(answer[key]).strip():
                return code
    return None
