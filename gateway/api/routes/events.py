"""Events: every stored event of every family (specimens, carriers, deliveries, cabinets, devices), filtered."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from contract import EVENT_TYPES, Identifier, SubjectKind
from contract.base import UtcDatetime
from gateway.api.deps import EventLogDep, ReferenceDep
from gateway.api.models import EventListPublic, EventPublic, SubjectPublic
from gateway.api.names import named
from gateway.api.page_models import paging_of
from gateway.api.paging import Cursor, Offset
from gateway.auth.deps import require
from gateway.storage.keyset_page import PageRequest
from gateway.tracking.events import EventFilter, EventRecord

MAX_PAGE = 1000

router = APIRouter(prefix="/events", tags=["events"], dependencies=[require("engineer")])


def event_public(record: EventRecord) -> EventPublic:
    event = record.event
    return EventPublic(
        event_id=event.id,
        seq=event.seq,
        type=event.type,
        occurred_at=event.occurred_at,
        received_at=event.received_at,
        site=event.site,
        edge=event.edge,
        device=event.device,
        subject=SubjectPublic(kind=record.subject_kind, id=record.subject_id),
        data=dict(event.data),
        historical=event.historical,
    )


def check_window(since: UtcDatetime | None, until: UtcDatetime | None) -> None:
    if since is not None and until is not None and since >= until:
        raise HTTPException(status_code=422, detail="since must be before until (since is inclusive, until exclusive)")


@router.get("", response_model=EventListPublic)
async def list_events(
    event_log: EventLogDep,
    reference: ReferenceDep,
    subject_kind: Annotated[SubjectKind | None, Query(description="Only events about this kind of subject.")] = None,
    subject_id: Annotated[Identifier | None, Query(description="Only events about this subject id.")] = None,
    type_: Annotated[
        list[str] | None, Query(alias="type", description="Only events of this type; repeat for any of several.")
    ] = None,
    site: Annotated[Identifier | None, Query()] = None,
    edge: Annotated[Identifier | None, Query()] = None,
    device: Annotated[Identifier | None, Query(description="Only events observed at this device.")] = None,
    since: Annotated[UtcDatetime | None, Query(description="Occurred at or after (with a zone).")] = None,
    until: Annotated[UtcDatetime | None, Query(description="Occurred before (with a zone).")] = None,
    limit: Annotated[int, Query(ge=1, description=f"Page size; at most {MAX_PAGE} are returned.")] = 100,
    offset: Offset = 0,
    cursor: Cursor = None,
) -> EventListPublic:
    """Events in the order they happened (`occurred_at`, then the edge's `seq`), oldest first."""
    unknown = sorted(set(type_ or ()) - EVENT_TYPES)
    if unknown:
        raise HTTPException(
            status_code=422,
            detail=f"unknown event type {', '.join(unknown)}; use one of {', '.join(sorted(EVENT_TYPES))}",
        )
    check_window(since, until)
    where = EventFilter(
        subject_kind=subject_kind,
        subject_id=subject_id,
        types=tuple(type_ or ()),
        site=site,
        edge=edge,
        device=device,
        since=since,
        until=until,
    )
    found = await event_log.listing(where, PageRequest(min(limit, MAX_PAGE), offset, cursor))
    return named(EventListPublic(data=[event_public(r) for r in found.rows], **paging_of(found)), reference)
