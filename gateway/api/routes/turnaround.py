"""Turnaround figures: p50 / p90 and share within target over resulted specimens, overall, per group and per leg."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from contract import Identifier
from contract.base import UtcDatetime
from gateway.api.deps import ClockDep, ReferenceDep, RulesDep, SpecimensDep
from gateway.api.names import name_of
from gateway.api.tracking_models import FiguresPublic, LegFiguresPublic, TurnaroundPublic
from gateway.auth.deps import PrincipalDep, require
from gateway.reference.model import ReferenceData
from gateway.rules.model import TurnaroundRules
from gateway.tracking.specimens.turnaround import Figures, GroupBy

DEFAULT_WINDOW = timedelta(hours=24)
MAX_WINDOW = timedelta(days=92)

router = APIRouter(prefix="/turnaround", tags=["turnaround"], dependencies=[require("lab")])


def _figures(figures: Figures, wards: ReferenceData | None = None, target_s: int | None = None) -> FiguresPublic:
    """The figures of a group; `wards` names the key when the groups are wards."""
    return FiguresPublic(
        key=figures.key,
        ward_name=name_of(wards, ("location",), figures.key) if wards is not None else None,
        count=figures.count,
        p50_s=figures.p50_s,
        p90_s=figures.p90_s,
        targeted=figures.targeted,
        within_target=figures.within_target,
        target_s=target_s,
        legs=[LegFiguresPublic(leg=f.leg, count=f.count, p50_s=f.p50_s, p90_s=f.p90_s) for f in figures.legs],
    )


@router.get("", response_model=TurnaroundPublic)
async def turnaround(
    specimens: SpecimensDep,
    rules: RulesDep,
    clock: ClockDep,
    caller: PrincipalDep,
    reference: ReferenceDep,
    since: Annotated[
        UtcDatetime | None, Query(description="Collected at or after (with a zone); default until - 24 h.")
    ] = None,
    until: Annotated[UtcDatetime | None, Query(description="Collected before (with a zone); default now.")] = None,
    group_by: Annotated[
        GroupBy | None, Query(description="Also per priority, ordering ward, UTC hour of collection or test category.")
    ] = None,
    site: Annotated[Identifier | None, Query()] = None,
) -> TurnaroundPublic:
    """Collection-to-result figures of the specimens collected in the window and resulted since (of the caller's
    wards, when the caller is limited to some)."""
    until = until or clock()
    since = since or until - DEFAULT_WINDOW
    if since >= until:
        raise HTTPException(status_code=422, detail="since must be before until (since is inclusive, until exclusive)")
    if until - since > MAX_WINDOW:
        raise HTTPException(
            status_code=422, detail=f"the window is longer than {MAX_WINDOW.days} days; ask for a shorter one"
        )
    report = await specimens.turnaround(since, until, site=site, group_by=group_by, wards=caller.wards or None)
    targets = rules.current.turnaround
    return TurnaroundPublic(
        since=since,
        until=until,
        group_by=group_by,
        on_time_goal=targets.on_time_goal_percent / 100,
        overall=_figures(report.overall),
        groups=[
            _figures(g, reference if group_by == "ward" else None, _target_s(targets, g.key, group_by))
            for g in report.groups
        ],
    )


def _target_s(rules: TurnaroundRules, key: str | None, group_by: GroupBy | None) -> int | None:
    """A priority group's target (the priority's own, without category or ward); None for other groupings."""
    if group_by != "priority":
        return None
    minutes = rules.target_minutes(key, None, None)
    return round(minutes * 60) if minutes is not None else None
