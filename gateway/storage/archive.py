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
from typing import BinaryIO

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


class _Hashed:
    """A file that hashes what is written to it: the compressed bytes, as they land."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.file.write(data)

    def flush(self) -> None:
        self.file.flush()


async def write_archive(connection: AsyncConnection, month: Month, directory: Path) -> Archived:
    """COPY the partition `month` to its archive file, in `connection`'s transaction."""
    path = archive_path(directory, month)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    raw_connection = await connection.get_raw_connection()
    driver = raw_connection.driver_connection
    if driver is None:
        raise RuntimeError("the database connection is closed")
    with partial.open("wb") as file:
        hashed = _Hashed(file)
        with gzip.GzipFile(filename=path.name.removesuffix(".gz"), mode="wb", fileobj=hashed, mtime=0) as zipped:

            async def sink(chunk: bytes) -> None:
                zipped.write(chunk)

            status = await driver.copy_from_table(month.name, output=sink, format="csv", header=True)
        file.flush()
        os.fsync(file.fileno())
    partial.rename(path)
    sha256 = hashed.digest.hexdigest()
    path.with_name(path.name + ".sha256").write_text(f"{sha256}  {path.name}\n")
    return Archived(month, path, sha256, int(status.split()[-1]))
