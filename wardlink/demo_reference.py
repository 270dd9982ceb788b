"""The demo hospital's fictional reference data: names for every place, person, medication and device it uses.

The CSV files ship in `simulators/hospital/reference/` (written by `benchmarks/demo_reference.py` from the
simulators' own tables); `wardlink demo` imports them once, when a data folder has no reference data yet, so its
screens show "Ward 3A (Cardiology)" and "K. Okafor" instead of bare ids. Every name is made up.
"""

from datetime import datetime
from pathlib import Path

import simulators.hospital
from gateway.reference.importer import Source, import_sources, latest
from gateway.reference.model import ReferenceData
from gateway.reference.store import ReferenceStore

REFERENCE_DIR = Path(simulators.hospital.__file__).resolve().parent / "reference"
IMPORTED_BY = "wardlink-demo"


def demo_sources(directory: Path = REFERENCE_DIR) -> list[Source]:
    return [Source(path.name, path.read_text(encoding="utf-8")) for path in sorted(directory.glob("*.csv"))]


async def import_demo_reference(store: ReferenceStore, now: datetime) -> tuple[ReferenceData, bool]:
    """The reference data in force and whether it was imported now (only when none was: version 0)."""
    in_force = await latest(store)
    if in_force.version != 0:
        return in_force, False
    comment = "the demo hospital's fictional reference data"
    return await import_sources(store, demo_sources(), by=IMPORTED_BY, comment=comment, now=now), True


def describe(data: ReferenceData, imported: bool) -> str:
    counts = ", ".join(f"{n} {kind}" for kind, n in data.counts().items())
    if imported:
        return f"version {data.version} imported: the demo hospital's fictional names ({counts})"
    return f"version {data.version} in force ({counts}); the demo's own is not imported over it"
