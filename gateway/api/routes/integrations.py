"""Integrations: the hospital's clinical systems (LIS, pharmacy system) report what only they know.

`POST /api/v1/integrations/events` with `site`, `source` and up to 500 events (type, subject_id, occurred_at,
data). All are validated first: one invalid event rejects the whole report with a 422 problem naming its index,
field and reason, and nothing is stored. A system may also publish the same events over MQTT as its own edge on
`{root}/v1/{site}/{edge}/events`; see `gateway.clinical.reports`.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request

from gateway.api.deps import DatabaseDep, EventStoreDep, RulesDep
from gateway.api.models import Problem
from gateway.api.tracking_models import ReportedEventIn, ReportIn, ReportPublic
from gateway.auth.deps import PrincipalDep, require
from gateway.auth.principal import Principal
from gateway.auth.scope import subject_ward
from gateway.clinical.reports import (
    ALLOWED_TYPES,
    IdConflictError,
    IntegrationError,
    ReportedEvent,
    SequenceCounter,
    report_events,
)
from gateway.rules.in_force import RulesInForce
from gateway.storage.database import Database

router = APIRouter(prefix="/integrations", tags=["integrations"], dependencies=[require("integration")])


def integration_sequence(request: Request) -> SequenceCounter:
    """One counter per running app, made on first use (not at import)."""
    state = request.app.state
    counter: SequenceCounter | None = getattr(state, "integration_seq", None)
    if counter is None:
        counter = state.integration_seq = SequenceCounter()
    return counter


async def off_ward_events(
    caller: Principal, db: Database, rules: RulesInForce, events: Sequence[ReportedEventIn]
) -> list[str]:
    """For a ward-limited caller, the events that are not provably about its wards, by index; [] when all are.

    An event's ward is the one it names (`ward` of specimen.collected, delivery.created) and the one its subject
    already has in the projections; every one of them must be the caller's. A subject whose ward nobody knows yet
    (neither stored nor named earlier in this report) is refused too: the caller cannot show it is theirs.
    """
    if not caller.scoped:
        return []
    named: dict[tuple[str, str], str] = {}
    stored: dict[tuple[str, str], str | None] = {}
    problems = []
    mine = ", ".join(caller.wards)
    for index, event in enumerate(events):
        kind = ALLOWED_TYPES.get(event.type)
        if kind is None:
            continue  # an unknown type: validation names it
        key = (kind, event.subject_id)
        if key not in stored:
            stored[key] = await subject_ward(db, rules, kind, event.subject_id)
        claimed = event.data.get("ward")
        if isinstance(claimed, str) and not caller.can_see_ward(claimed):
            problems.append(f"events.{index}.data.ward: {claimed} is not one of this token's wards ({mine})")
            continue
        if isinstance(claimed, str):
            named.setdefault(key, claimed)
        known = stored[key] or named.get(key)
        if not caller.can_see_ward(known):
            problems.append(
                f"events.{index}: {kind} {event.subject_id} is not on this token's wards ({mine}) or its ward is not "
                f"known yet: report its {'specimen.collected' if kind == 'specimen' else 'delivery.created'} first"
            )
    return problems


@router.post(
    "/events",
    response_model=ReportPublic,
    responses={403: {"model": Problem}, 409: {"model": Problem}, 422: {"model": Problem}},
)
async def report(
    body: ReportIn,
    events: EventStoreDep,
    request: Request,
    caller: PrincipalDep,
    db: DatabaseDep,
    rules: RulesDep,
) -> ReportPublic:
    """Store the reported events (all or none); duplicates (an id already stored) change nothing.

    A token limited to wards may report only about those wards (403 naming each other event, nothing stored). An
    id already stored with another body is a 409 naming the event's index: that event is not stored (and the
    attempt is recorded as tampering); the report's other events are.
    """
    foreign = await off_ward_events(caller, db, rules, body.events)
    if foreign:
        raise HTTPException(status_code=403, detail="; ".join(foreign) + "; nothing was stored")
    reported = [ReportedEvent(e.type, e.subject_id, e.occurred_at, e.data, e.id) for e in body.events]
    try:
        result = await report_events(
            events, body.site, body.source, reported, seq=integration_sequence(request), received_at=datetime.now(UTC)
        )
    except IdConflictError as exc:
        raise HTTPException(
            status_code=409,
            detail="; ".join(exc.problems) + f"; those were not stored, the other {exc.stored} event(s) were",
        ) from None
    except IntegrationError as exc:
        raise HTTPException(status_code=422, detail="; ".join(exc.problems) + "; nothing was stored") from None
    return ReportPublic(
        stored=result.stored, duplicates=len(result.duplicate_ids), ids=result.ids, duplicate_ids=result.duplicate_ids
    )
