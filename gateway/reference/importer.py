"""One import from one or more files (CSV or FHIR Bundle JSON): read all, check all, then store one version.

    read = read_sources([Source("staff.csv", text), Source("formulary.json", body)])
    data = await import_sources(store, sources, by="admin", comment="new rota", now=clock())

Nothing is stored when any file has any problem (`ReferenceImportError` lists them all). Files of the same kind
add up (nurses.csv and lab.csv make one staff list); the kinds imported replace theirs whole, the others carry over
(`ReferenceStore.adopt`).
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.reference.checks import Sourced, check_together
from gateway.reference.csv_import import read_csv
from gateway.reference.fhir_import import read_bundle
from gateway.reference.fhir_mapping import IdentifierSystems
from gateway.reference.model import KINDS, ReferenceData
from gateway.reference.problems import ImportProblem, ReferenceImportError
from gateway.reference.store import ReferenceStore

FHIR_MEDIA_TYPES = ("application/fhir+json", "application/json")


@dataclass(frozen=True, slots=True)
class Source:
    """One file's name and text; `media_type` (or the text itself) tells CSV from a FHIR Bundle."""

    name: str
    text: str
    media_type: str | None = None
    kind: str | None = None
    """For CSV: the kind when the header and the file name cannot tell (`id,name` fits locations and devices)."""

    @property
    def is_fhir(self) -> bool:
        if self.media_type is not None:
            base = self.media_type.split(";")[0].strip().lower()
            if base in FHIR_MEDIA_TYPES:
                return True
            if base in ("text/csv", "text/plain", "application/csv"):
                return False
        return self.name.lower().endswith(".json") or self.text.lstrip().startswith("{")


def read_sources(
    sources: Sequence[Source], in_force: ReferenceData, systems: IdentifierSystems | None = None
) -> dict[str, list[Any]]:
    """Every record by kind from all `sources`, checked together and against the data in force."""
    problems: list[ImportProblem] = []
    read: dict[str, list[Sourced[Any]]] = {}
    if not sources:
        raise ReferenceImportError([ImportProblem("import", "(files)", "no file to import")])
    for source in sources:
        if source.is_fhir:
            found, bad = read_bundle(source.text, source.name, systems)
            for kind, items in found.items():
                read.setdefault(kind, []).extend(items)
            problems += bad
        else:
            parsed = read_csv(source.text, source.name, kind=source.kind)
            if parsed.kind is not None:
                read.setdefault(parsed.kind, []).extend(parsed.records)
            problems += parsed.problems
    problems += check_together(read, in_force)
    if not problems and not any(read.values()):
        problems = [ImportProblem(", ".join(s.name for s in sources), "(records)", "no records: nothing to import")]
    if problems:
        raise ReferenceImportError(problems)
    return {kind: [item.record for item in read[kind]] for kind in KINDS if kind in read}


async def import_sources(
    store: ReferenceStore,
    sources: Sequence[Source],
    *,
    by: str,
    comment: str,
    now: datetime,
    systems: IdentifierSystems | None = None,
) -> ReferenceData:
    """Read, check and store `sources` as the next version, in force at once; raises before storing anything."""
    # Parsing and validating a large file takes a while: off the event loop, so the gateway keeps serving.
    imported = await asyncio.to_thread(read_sources, sources, await latest(store), systems)
    source = ", ".join(s.name for s in sources)
    return await store.adopt(imported, by=by, source=source, comment=comment, now=now)


async def latest(store: ReferenceStore) -> ReferenceData:
    """The newest version, read now (not the cached one): an import checks against exactly what it builds on."""
    versions = await store.versions()
    return (await store.at(versions[0].version) if versions else None) or ReferenceData()
