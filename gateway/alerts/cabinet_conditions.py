"""Cabinet alert conditions as pure functions: cold chain, door ajar, discrepancies, stock below par.

Cold chain: the fridge is outside [cold_chain_min_c, cold_chain_max_c] from the first reading of the current
excursion (the readings since the last one in range) until now, for longer than `cold_chain_minutes`. One key per
cabinet, so an excursion is one alert however many readings it spans; a reading back in range ends it.
"""

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from gateway.alerts.inputs import Condition, Sample, Snapshot
from gateway.alerts.text import clock_time, minutes_text
from gateway.rules import TrackingRules
from gateway.rules.pharmacy import CabinetRules
from gateway.tracking.cabinets.fold import StockLine
from gateway.tracking.cabinets.replenishment import pick_lines

_LISTED = 4  # items named in a message; the details carry all of them


def cabinet_conditions(snapshot: Snapshot, rules: TrackingRules, now: datetime) -> Iterator[Condition]:
    yield from cold_chain_conditions(snapshot, rules, now)
    yield from door_conditions(snapshot, rules, now)
    yield from discrepancy_conditions(snapshot, rules, now)
    yield from below_par_conditions(snapshot, rules, now)


def _ward(rules: TrackingRules, cabinet: str) -> str | None:
    rule = rules.cabinets.get(cabinet)
    return rule.ward if rule is not None else None


def _named(cabinet: str, ward: str | None) -> str:
    return f"Cabinet {cabinet}" + (f" ({ward})" if ward else "")


def excursion(samples: Sequence[Sample], low: float, high: float) -> list[Sample]:
    """The readings of the excursion going on now (oldest first); empty when the latest reading is in range."""
    run: list[Sample] = []
    for sample in sorted(samples, key=lambda s: s.at, reverse=True):
        if low <= sample.value <= high:
            break
        run.append(sample)
    return run[::-1]


def cold_chain_conditions(snapshot: Snapshot, rules: TrackingRules, now: datetime) -> Iterator[Condition]:
    for (site, cabinet), samples in sorted(snapshot.fridges.items()):
        ward = _ward(rules, cabinet)
        limits = rules.alerts.thresholds(ward=ward, device_type="cabinet")
        low, high = limits.cold_chain_min_c, limits.cold_chain_max_c
        run = excursion(samples, low, high)
        if not run or now - run[0].at <= limits.minutes("cold_chain_minutes"):
            continue
        values = [s.value for s in run]
        warm = max(values) > high
        worst = max(values) if warm else min(values)
        rule = rules.cabinets.get(cabinet)
        items = _cold_items(snapshot.stock.get((site, cabinet), ()), rule)
        affected = (
            f"{len(items)} item line(s) in its fridge may be spoiled: {_list_items(items)}"
            if items
            else "no stock recorded in its refrigerated bins"
        )
        yield Condition(
            kind="cabinet.cold_chain",
            severity="critical",
            site=site,
            subject_kind="cabinet",
            subject_id=cabinet,
            ward=ward,
            message=f"{_named(cabinet, ward)} fridge {'above' if warm else 'below'} {low:g}-{high:g} °C since "
            f"{clock_time(run[0].at)} ({minutes_text(now - run[0].at)}, {'up' if warm else 'down'} to "
            f"{worst:.1f} °C, {run[-1].value:.1f} °C at {clock_time(run[-1].at)}); {affected}",
            details={
                "cabinet": cabinet,
                "since": run[0].at.isoformat(),
                "latest_c": run[-1].value,
                "latest_at": run[-1].at.isoformat(),
                "worst_c": worst,
                "range_c": [low, high],
                "readings": len(run),
                "items": [_item(line) for line in items],
            },
        )


def _cold_items(stock: Sequence[StockLine], rule: CabinetRules | None) -> list[StockLine]:
    """What the fridge holds: the rule's refrigerated bins, every bin when the rule does not list them."""
    bins = rule.cold_bins if rule is not None else None
    return [line for line in stock if line.quantity > 0 and (bins is None or line.bin in bins)]


def _item(line: StockLine) -> dict[str, Any]:
    return {
        "bin": line.bin,
        "gtin": line.gtin,
        "lot": line.lot,
        "expiry": line.expiry.isoformat(),
        "quantity": line.quantity,
    }


def _list_items(items: Sequence[StockLine]) -> str:
    named = ", ".join(f"{i.quantity} x {i.gtin} lot {i.lot} (bin {i.bin})" for i in items[:_LISTED])
    more = len(items) - _LISTED
    return named + (f" and {more} more" if more > 0 else "")


def door_conditions(snapshot: Snapshot, rules: TrackingRules, now: datetime) -> Iterator[Condition]:
    for cabinet in snapshot.cabinets:
        ward = _ward(rules, cabinet.cabinet)
        limit = rules.alerts.thresholds(ward=ward, device_type="cabinet").minutes("door_ajar_minutes")
        open_for = now - cabinet.door_since if cabinet.door == "open" and cabinet.door_since else None
        too_long = open_for is not None and open_for > limit
        alarmed = "door_ajar" in cabinet.alarms
        if not (too_long or alarmed):
            continue
        how = (
            f"open for {minutes_text(open_for)} since {clock_time(cabinet.door_since)}"
            if too_long and open_for is not None
            else "reports its door ajar"
        )
        yield Condition(
            kind="cabinet.door_ajar",
            severity="warning",
            site=cabinet.site,
            subject_kind="cabinet",
            subject_id=cabinet.cabinet,
            ward=ward,
            message=f"{_named(cabinet.cabinet, ward)} door {how}; close it",
            details={
                "cabinet": cabinet.cabinet,
                "door": cabinet.door,
                "door_since": cabinet.door_since.isoformat() if cabinet.door_since else None,
                "cabinet_alarm": alarmed,
            },
        )


def discrepancy_conditions(snapshot: Snapshot, rules: TrackingRules, now: datetime) -> Iterator[Condition]:
    for removal in snapshot.removals:
        rule = rules.cabinets.get(removal.cabinet)
        reasons = []
        if removal.order_id is None:
            reasons.append("with no medication order")
        if rule is not None and not rule.allows(removal.badge):
            reasons.append("by a badge not allowed at this cabinet")
        if not reasons:
            continue
        ward = rule.ward if rule is not None else None
        by = f"badge {removal.badge}" if removal.badge else "an unknown badge"
        yield Condition(
            kind="cabinet.discrepancy",
            severity="warning",
            site=removal.site,
            subject_kind="cabinet",
            subject_id=removal.cabinet,
            ward=ward,
            message=f"{_named(removal.cabinet, ward)}: {removal.quantity} x {removal.gtin} lot {removal.lot} taken "
            f"from bin {removal.bin} by {by} at {clock_time(removal.occurred_at)} {' and '.join(reasons)}; "
            "check it and acknowledge",
            details={
                "event_id": removal.event_id,
                "cabinet": removal.cabinet,
                "occurred_at": removal.occurred_at.isoformat(),
                "bin": removal.bin,
                "gtin": removal.gtin,
                "lot": removal.lot,
                "quantity": removal.quantity,
                "badge": removal.badge,
                "order_id": removal.order_id,
                "no_order": removal.order_id is None,
                "badge_not_allowed": rule is not None and not rule.allows(removal.badge),
            },
            episode=removal.event_id,
        )


def below_par_conditions(snapshot: Snapshot, rules: TrackingRules, now: datetime) -> Iterator[Condition]:
    inventoried = {(c.site, c.cabinet) for c in snapshot.cabinets if c.inventoried}
    for (site, cabinet), lines in sorted(snapshot.stock.items()):
        rule = rules.cabinets.get(cabinet)
        if rule is None or not rule.par or (site, cabinet) not in inventoried:
            continue  # no par to compare with, or what the cabinet holds is not known yet
        picks = pick_lines(site, cabinet, lines, rule)
        if not picks:
            continue
        named = ", ".join(f"{p.gtin} ({p.on_hand} of min {p.par_min})" for p in picks[:_LISTED])
        more = len(picks) - _LISTED
        yield Condition(
            kind="cabinet.below_par",
            severity="info",
            site=site,
            subject_kind="cabinet",
            subject_id=cabinet,
            ward=rule.ward,
            message=f"{_named(cabinet, rule.ward)} has {len(picks)} item(s) below par: {named}"
            + (f" and {more} more" if more > 0 else "")
            + "; see the replenishment pick list",
            details={
                "cabinet": cabinet,
                "pick_lines": [
                    {
                        "gtin": p.gtin,
                        "on_hand": p.on_hand,
                        "par_min": p.par_min,
                        "par_max": p.par_max,
                        "quantity": p.quantity,
                        "bins": list(p.bins),
                    }
                    for p in picks
                ],
            },
        )
