"""An expired monthly partition, written to a compressed CSV file with its SHA-256 before it is dropped.

`<dir>/<table>/<table>_pYYYYMM.csv.gz` holds the partition as PostgreSQL's `COPY ... (FORMAT csv, HEADER)` writes
it (one header line of column names, then one line per row), and `<same>.sha256` the digest of the compressed file
in `sha256sum` format, so `sha256sum -c` checks it and `gunzip -c | psql -c "COPY t FROM STDIN (FORMAT csv,
HEADER)"` loads it back. The file is written under a temporary name, flushed to disk and renamed: a file with the
final name is complete.
"""

import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.storage.partitions import Month


@dataclass(frozen=True, slots=True)
class Archived:
    """Where a partition went: the file, its digest and how many rows it holds."""

    month: Month
    path: Path
    sha256: str
    rows: int


def archive_path(directory: Path, month: Month) -> Path:
    return directory / month.table / f"{month.name}.csv.gz"


async def write_archive(connection: AsyncConnection, month: Month, directory: Path) -> Archived:
    """COPY the partition `month` (attached or detached) to its archive file, in `connection`'s transaction."""
    path = archive_path(directory, month)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    digest = hashlib.sha256()

    class _Hashed:
        """The compressed bytes go to the file and the digest alike."""

        def __init__(self, raw: object) -> None:
            self.raw = raw

        def write(self, data: bytes) -> int:
            digest.update(data)
            return self.raw.write(data)  # type: ignore[attr-defined,no-any-return]

        def flush(self) -> None:
            self.raw.flush()  # type: ignore[attr-defined]

    raw_connection = await connection.get_raw_connection()
    driver = raw_connection.driver_connection
    if driver is None:
        raise RuntimeError("the database connection is closed")
    with partial.open("wb") as file:
        hashed = _Hashed(file)
        with gzip.GzipFile(filename=path.name[: -len(".gz")], mode="wb", fileobj=hashed, mtime=0) as zipped:  # type: ignore[arg-type]

            async def sink(chunk: bytes) -> None:
                zipped.write(chunk)

            status = await driver.copy_from_table(month.name, output=sink, format="csv", header=True)
        file.flush()
        os.fsync(file.fileno())
    partial.rename(path)
    sha256 = digest.hexdigest()
    path.with_name(path.name + ".sha256").write_text(f"{sha256}  {path.name}\n")
    return Archived(month, path, sha256, int(status.split()[-1]))
