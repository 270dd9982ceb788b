"""Custody: a subject's records in the hash-chained custody log, and a check of the whole chain."""

import dataclasses
from datetime import datetime
from typing import Annotated, Any, Literal, get_args
from uuid import UUID

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from contract import Identifier
from gateway.api.deps import CarriersDep, CustodyDep, DatabaseDep, ReferenceDep, RulesDep
from gateway.api.models import Problem
from gateway.api.names import DataNames, Named, named
from gateway.api.page_models import COUNTED_UP_TO_CAP, TOTAL_CAPPED
from gateway.api.paging import Offset
from gateway.auth.deps import AuditDep, PrincipalDep, require
from gateway.auth.scope import WARDED_KINDS, subject_ward
from gateway.auth.subject_roles import SUBJECT_ROLES
from gateway.custody.log import CustodyRecord
from gateway.custody.verify import AuditReport, ProblemKind
from gateway.storage.totals import Total
from gateway.tracking.carriers.queries import CarrierQueries
from gateway.tracking.carriers.scope import TripScope

MAX_PAGE = 1000

router = APIRouter(prefix="/custody", tags=["custody"], dependencies=[require("lab", "pharmacy", "engineer")])

CustodyKind = Literal["specimen", "carrier", "delivery", "cabinet"]
KIND_ROLES: dict[str, frozenset[str]] = {kind: SUBJECT_ROLES[kind] for kind in get_args(CustodyKind)}
"""Who may read whose custody: the lab its specimens and carriers, the pharmacy its deliveries and cabinets."""


class CustodyRecordPublic(BaseModel):
    position: int = Field(description="Place in the log, counting from 1 in the order records were appended.")
    event_id: UUID
    type: str
    occurred_at: datetime
    recorded_at: datetime = Field(description="When the gateway appended the record.")
    device: Annotated[str | None, Named("device", "location")] = Field(
        description="Where the event was observed; null if the event is missing."
    )
    device_name: str | None = None
    data: Annotated[dict[str, Any], DataNames()] = Field(description="What the event says: badge, place, station, ...")
    data_names: dict[str, str | None] = Field(
        default_factory=dict,
        description="The names of the ids in `data` (badge: the custodian, ward, station, ...), by key; null when "
        "unknown.",
    )
    body_sha256: str = Field(description="SHA-256 of the event body's canonical JSON.")
    prev_hash: str
    hash: str = Field(description="sha256(prev_hash + canonical JSON of the record's fields).")


class CustodyListPublic(BaseModel):
    subject_kind: CustodyKind
    subject_id: str
    data: list[CustodyRecordPublic] = Field(description="The subject's records in log order.")
    count: int = Field(description=f"How many records the subject has, across all pages: {COUNTED_UP_TO_CAP}.")
    total_capped: bool = Field(default=False, description=TOTAL_CAPPED)


class AuditProblemPublic(BaseModel):
    kind: ProblemKind
    detail: str
    position: int | None
    event_id: UUID | None


class AuditReportPublic(BaseModel):
    intact: bool
    records: int = Field(description="Records checked.")
    head_position: int | None = Field(description="The newest record's position; keep it with head_hash elsewhere.")
    head_hash: str | None
    problems: list[AuditProblemPublic]
    truncated: bool = Field(description="True when there were more problems than listed.")
    summary: str


def _record(record: CustodyRecord) -> CustodyRecordPublic:
    return CustodyRecordPublic(
        position=record.position,
        event_id=record.event_id,
        type=record.type,
        occurred_at=record.occurred_at,
        recorded_at=record.recorded_at,
        device=record.device,
        data=dict(record.data),
        body_sha256=record.body_sha256,
        prev_hash=record.prev_hash,
        hash=record.hash,
    )


async def _without_other_wards(
    carriers: CarrierQueries, scope: TripScope, records: list[CustodyRecord]
) -> list[CustodyRecord]:
    """The carrier records with only the scope's wards' barcodes in `data.specimens` (the hashes are the full
    record's: verify the chain with /custody/verify)."""
    listed = [b for r in records for b in r.data.get("specimens", ())]
    mine = await carriers.visible_barcodes(scope, listed) if listed else set()
    return [
        dataclasses.replace(r, data={**r.data, "specimens": [b for b in r.data["specimens"] if b in mine]})
        if "specimens" in r.data
        else r
        for r in records
    ]


def report_public(report: AuditReport) -> AuditReportPublic:
    return AuditReportPublic(
        intact=report.intact,
        records=report.records,
        head_position=report.head_position,
        head_hash=report.head_hash,
        problems=[
            AuditProblemPublic(kind=p.kind, detail=p.detail, position=p.position, event_id=p.event_id)
            for p in report.problems
        ],
        truncated=report.truncated,
        summary=report.summary(),
    )


@router.get("/verify", response_model=AuditReportPublic, dependencies=[require("engineer")])
async def verify(custody: CustodyDep) -> AuditReportPublic:
    """Walk the whole chain and every recorded event, as `wardlink audit verify` does; `intact` says the verdict."""
    return report_public(await custody.verify())


@router.get("/{subject_kind}/{subject_id}", response_model=CustodyListPublic, responses={404: {"model": Problem}})
async def read_custody(
    custody: CustodyDep,
    carriers: CarriersDep,
    db: DatabaseDep,
    rules: RulesDep,
    caller: PrincipalDep,
    audit: AuditDep,
    reference: ReferenceDep,
    subject_kind: Annotated[CustodyKind, Path(description="specimen, carrier, delivery or cabinet.")],
    subject_id: Annotated[Identifier, Path(description="The barcode, carrier, delivery or cabinet id.")],
    limit: Annotated[int, Query(ge=1, description=f"Page size; at most {MAX_PAGE} are returned.")] = 100,
    offset: Offset = 0,
) -> CustodyListPublic:
    """A subject's custody records, in the order they were recorded, each with its hashes."""
    if caller.role not in KIND_ROLES[subject_kind]:
        raise HTTPException(
            status_code=403,
            detail=f"the {caller.role} role may not read {subject_kind} custody; it needs "
            f"{' or '.join(sorted(KIND_ROLES[subject_kind]))}: ask an admin for access",
        )
    hidden = (
        caller.scoped
        and subject_kind in WARDED_KINDS
        and not caller.can_see_ward(await subject_ward(db, rules, subject_kind, subject_id))
    )
    # A carrier serves every ward: a ward-limited caller reads only the records of the trips that touch their wards,
    # with other wards' barcodes left out (gateway.tracking.carriers.scope); none such: as if unknown.
    scope = TripScope.of(caller.wards, reference.locations) if caller.scoped and subject_kind == "carrier" else None
    trips = await carriers.visible_trips(subject_id, scope) if scope is not None else None
    hidden = hidden or trips == []
    records, total = (
        ([], Total(0))
        if hidden
        else await custody.records(subject_kind, subject_id, limit=min(limit, MAX_PAGE), offset=offset, trips=trips)
    )
    if scope is not None and records:
        records = await _without_other_wards(carriers, scope, records)
    if total.value == 0 or hidden:  # another ward's subject: as if unknown
        raise HTTPException(
            status_code=404,
            detail=f"no custody record for {subject_kind} {subject_id} yet; check the id, "
            "or try again once an event about it has arrived",
        )
    await audit("custody.view", target=f"{subject_kind} {subject_id}")
    public = CustodyListPublic(
        subject_kind=subject_kind,
        subject_id=subject_id,
        data=[_record(r) for r in records],
        count=total.value,
        total_capped=total.capped,
    )
    return named(public, reference)
