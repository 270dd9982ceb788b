"""The faults a running hospital offers to the simulation control: what each does, on which devices, its parameters.

The same faults a scenario file can name (`simulators.hospital_faults.FAULTS`), described for a caller who does not
read the code, with the check of a requested target and parameters and, where a fault can end early, how to clear it.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from contract.simulation import FaultOffer, FaultParameter, ParamValue
from simulators.hospital.scenario import Fault

if TYPE_CHECKING:
    from simulators.hospital.hospital import Hospital

Family = Literal["sorter", "tubes", "robot", "cabinet"]
ROBOT_EDGE = "e-elevator-0-3"
"""The edge a `path_blocked` fault blocks unless it names another (the lift, as in the scenario files)."""


@dataclass(frozen=True)
class FaultKind:
    fault: str
    description: str
    families: tuple[Family, ...]
    clear: Callable[["Hospital", Fault], Awaitable[None]] | None = None
    parameters: Callable[["Hospital"], list[FaultParameter]] = field(default=lambda _: [])


class FaultRequestError(ValueError):
    """A fault, target or parameter this hospital cannot take; the message says what it can take instead."""


def _family_ids(h: "Hospital", family: Family) -> list[str]:
    devices = {"sorter": h.sorters, "tubes": h.tube_systems, "robot": h.robots, "cabinet": h.cabinets}
    return sorted(devices[family])


async def _sorter_running(h: "Hospital", fault: Fault) -> None:
    h.sorters[fault.device].forced_status = None


async def _zone_open(h: "Hospital", fault: Fault) -> None:
    tube_system = h.tube_systems[fault.device]
    tube_system.clear_zone(str(fault.params.get("zone", next(iter(tube_system.network.zones)))))


async def _path_free(h: "Hospital", fault: Fault) -> None:
    h.robots[fault.device].unblock_edge(str(fault.params.get("edge", ROBOT_EDGE)))


async def _door_closed(h: "Hospital", fault: Fault) -> None:
    cabinet = h.cabinets[fault.device]
    if cabinet.door_opened_by is not None:
        await cabinet.close_door()


async def _fridge_cool(h: "Hospital", fault: Fault) -> None:
    cabinet = h.cabinets[fault.device]
    cabinet._cancel("fridge_fault")  # its timer would otherwise end a later warming early
    cabinet.fridge.recover()


def _zones(h: "Hospital") -> list[FaultParameter]:
    zones = sorted({z for t in h.tube_systems.values() for z in t.network.zones})
    return [
        FaultParameter(name="zone", description="the zone whose carriers are held", default=zones[0], choices=zones)
    ]


def _edges(h: "Hospital") -> list[FaultParameter]:
    edges = sorted(h.graph.edge_by_id)
    return [
        FaultParameter(name="edge", description="the map edge an obstacle blocks", default=ROBOT_EDGE, choices=edges)
    ]


def _percent(_: "Hospital") -> list[FaultParameter]:
    return [FaultParameter(name="percent", description="battery level set", default=8.0, minimum=0, maximum=100)]


def _target(_: "Hospital") -> list[FaultParameter]:
    return [
        FaultParameter(name="target", description="°C the fridge drifts toward", default=10.0, minimum=-20, maximum=40)
    ]


KINDS: dict[str, FaultKind] = {
    k.fault: k
    for k in [
        FaultKind(
            "jam", "the sorter jams: it stops taking tubes (the edge sees status jam)", ("sorter",), _sorter_running
        ),
        FaultKind("door_open", "a sorter door is open: it stops taking tubes", ("sorter",), _sorter_running),
        FaultKind(
            "zone_blocked", "a tube zone is blocked: carriers to and from it are held", ("tubes",), _zone_open, _zones
        ),
        FaultKind(
            "path_blocked",
            "an obstacle on the robot's path: it stops and reports pathBlocked",
            ("robot",),
            _path_free,
            _edges,
        ),
        FaultKind(
            "battery_low", "the robot's battery drops to `percent` (a one-off change)", ("robot",), None, _percent
        ),
        FaultKind("door_ajar", "a nurse leaves the cabinet door open (door-ajar alarm)", ("cabinet",), _door_closed),
        FaultKind(
            "fridge_warming",
            "the cabinet fridge drifts toward `target` °C (cold-chain alarm)",
            ("cabinet",),
            _fridge_cool,
            _target,
        ),
        FaultKind(
            "power_loss",
            "the device goes silent (power off, Last Will), then reboots with counters reset",
            ("sorter", "tubes", "robot", "cabinet"),
        ),
        FaultKind("malformed_frames", "the cabinet sends garbage frames besides its messages", ("cabinet",)),
        FaultKind("duplicate_messages", "the cabinet sends every message twice", ("cabinet",)),
    ]
}


def offers(h: "Hospital") -> list[FaultOffer]:
    """Every fault that has at least one target in this hospital."""
    result = []
    for kind in KINDS.values():
        targets = [device for family in kind.families for device in _family_ids(h, family)]
        if targets:
            result.append(
                FaultOffer(
                    fault=kind.fault,
                    description=kind.description,
                    targets=targets,
                    parameters=kind.parameters(h),
                    clearable=kind.clear is not None,
                )
            )
    return result


def check(h: "Hospital", fault: str, target: str, params: dict[str, ParamValue]) -> dict[str, ParamValue]:
    """The parameters to use (defaults filled in), or `FaultRequestError` saying what is wrong."""
    offered = {o.fault: o for o in offers(h)}
    offer = offered.get(fault)
    if offer is None:
        raise FaultRequestError(f"unknown fault {fault!r}: this simulator offers {', '.join(offered)}")
    if target not in offer.targets:
        raise FaultRequestError(f"fault {fault!r} applies to {', '.join(offer.targets)}, not to {target!r}")
    known = {p.name: p for p in offer.parameters}
    unknown = sorted(set(params) - set(known))
    if unknown:
        allowed = ", ".join(known) or "none"
        raise FaultRequestError(f"fault {fault!r} has no parameter {', '.join(unknown)} (parameters: {allowed})")
    chosen: dict[str, ParamValue] = {}
    for name, spec in known.items():
        value = params.get(name, spec.default)
        if value is None:
            continue
        if spec.choices is not None and value not in spec.choices:
            raise FaultRequestError(f"{name} {value!r} is not one of {', '.join(map(str, spec.choices))}")
        if spec.minimum is not None or spec.maximum is not None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise FaultRequestError(f"{name} must be a number, not {value!r}")
            low, high = spec.minimum, spec.maximum
            if (low is not None and value < low) or (high is not None and value > high):
                raise FaultRequestError(f"{name} {value} is outside {low:g}..{high:g}")
        chosen[name] = value
    return chosen


__all__ = ["KINDS", "FaultKind", "FaultRequestError", "check", "offers"]
