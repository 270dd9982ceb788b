"""Integrations: the hospital's clinical systems (LIS, pharmacy system) report what only they know.

`POST /api/v1/integrations/events` with `site`, `source` and up to 500 events (type, subject_id, occurred_at,
data). All are validated first: one invalid event rejects the whole report with a 422 problem naming its index,
field and reason, and nothing is stored. A system may also publish the same events over MQTT as its own edge on
`{root}/v1/{site}/{edge}/events`; see `gateway.clinical.reports`.
"""

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request

from gateway.api.deps import EventStoreDep
from gateway.api.tracking_models import ReportIn, ReportPublic
from gateway.auth.deps import require
from gateway.clinical.reports import IntegrationError, ReportedEvent, SequenceCounter, report_events

router = APIRouter(prefix="/integrations", tags=["integrations"], dependencies=[require("integration")])


def integration_sequence(request: Request) -> SequenceCounter:
    """One counter per running app, made on first use (not at import)."""
    state = request.app.state
    counter: SequenceCounter | None = getattr(state, "integration_seq", None)
    if counter is None:
        counter = state.integration_seq = SequenceCounter()
    return counter


@router.post("/events", response_model=ReportPublic)
async def report(body: ReportIn, events: EventStoreDep, request: Request) -> ReportPublic:
    """Store the reported events (all or none); duplicates (an id already stored) change nothing."""
    reported = [ReportedEvent(e.type, e.subject_id, e.occurred_at, e.data, e.id) for e in body.events]
    try:
        result = await report_events(
            events, body.site, body.source, reported, seq=integration_sequence(request), received_at=datetime.now(UTC)
        )
    except IntegrationError as exc:
        raise HTTPException(status_code=422, detail="; ".join(exc.problems) + "; nothing was stored") from None
    return ReportPublic(
        stored=result.stored, duplicates=len(result.duplicate_ids), ids=result.ids, duplicate_ids=result.duplicate_ids
    )
