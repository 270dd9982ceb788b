"""Reading the custody log: a subject's records in log order, and a check of the whole chain."""

from collections.abc import Sequence

from gateway.custody.log import CustodyRecord, record_at, subject_records
from gateway.custody.verify import AuditReport, verify_custody_log
from gateway.storage.database import Database
from gateway.storage.totals import Total


class CustodyQueries:
    """The custody log's records, and its verdict."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def records(
        self,
        subject_kind: str,
        subject_id: str,
        *,
        limit: int,
        offset: int,
        trips: Sequence[tuple[str, int]] | None = None,
        exact_total: bool = False,
    ) -> tuple[list[CustodyRecord], Total]:
        """A subject's records in log order, one page, and how many in all (counted up to `CAP` unless `exact_total`);
        `trips`: only those carrier trips'."""
        async with self._db.engine.connect() as connection:
            return await subject_records(
                connection,
                subject_kind,
                subject_id,
                limit=limit,
                offset=offset,
                trips=trips,
                exact_total=exact_total,
            )

    async def record(self, position: int) -> CustodyRecord | None:
        """The record at `position` in the log; None when there is none."""
        async with self._db.engine.connect() as connection:
            return await record_at(connection, position)

    async def verify(self) -> AuditReport:
        """Walk the whole chain and every recorded event (read-only, safe while the gateway appends)."""
        async with self._db.engine.connect() as connection:
            return await verify_custody_log(connection)
