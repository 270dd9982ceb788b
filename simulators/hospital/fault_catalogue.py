"""The faults a running hospital offers to the simulation control: what each does, on which devices, its parameters.

The same faults a scenario file can name (`simulators.hospital.faults.Faults`), described for a caller who does not
read the code, with the check of a requested target and parameters. Whether and how a fault ends early is for
`Faults` to say.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from contract.simulation import FaultOffer, FaultParameter, ParamValue
from simulators.hospital.devices import Family, HospitalDevices
from simulators.hospital.faults import ROBOT_EDGE, Faults


@dataclass(frozen=True)
class FaultKind:
    fault: str
    description: str
    families: tuple[Family, ...]
    parameters: Callable[[HospitalDevices], list[FaultParameter]] = field(default=lambda _: [])


class FaultRequestError(ValueError):
    """A fault, target or parameter this hospital cannot take; the message says what it can take instead."""


def _zones(devices: HospitalDevices) -> list[FaultParameter]:
    zones = sorted({z for t in devices.tube_systems.values() for z in t.network.zones})
    return [
        FaultParameter(name="zone", description="the zone whose carriers are held", default=zones[0], choices=zones)
    ]


def _edges(devices: HospitalDevices) -> list[FaultParameter]:
    edges = sorted(devices.graph.edge_by_id)
    return [
        FaultParameter(name="edge", description="the map edge an obstacle blocks", default=ROBOT_EDGE, choices=edges)
    ]


def _percent(_: HospitalDevices) -> list[FaultParameter]:
    return [FaultParameter(name="percent", description="battery level set", default=8.0, minimum=0, maximum=100)]


def _target(_: HospitalDevices) -> list[FaultParameter]:
    return [
        FaultParameter(name="target", description="°C the fridge drifts toward", default=10.0, minimum=-20, maximum=40)
    ]


KINDS: dict[str, FaultKind] = {
    k.fault: k
    for k in [
        FaultKind("jam", "the sorter jams: it stops taking tubes (the edge sees status jam)", ("sorter",)),
        FaultKind("door_open", "a sorter door is open: it stops taking tubes", ("sorter",)),
        FaultKind("zone_blocked", "a tube zone is blocked: carriers to and from it are held", ("tubes",), _zones),
        FaultKind(
            "path_blocked", "an obstacle on the robot's path: it stops and reports pathBlocked", ("robot",), _edges
        ),
        FaultKind("battery_low", "the robot's battery drops to `percent` (a one-off change)", ("robot",), _percent),
        FaultKind("door_ajar", "a nurse leaves the cabinet door open (door-ajar alarm)", ("cabinet",)),
        FaultKind(
            "fridge_warming", "the cabinet fridge drifts toward `target` °C (cold-chain alarm)", ("cabinet",), _target
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


class FaultCatalogue:
    """The faults this hospital's devices can take, as offers, and the check of a request against them."""

    def __init__(self, devices: HospitalDevices, faults: Faults) -> None:
        self.devices = devices
        self.faults = faults

    def offers(self) -> list[FaultOffer]:
        """Every fault that has at least one target in this hospital."""
        result = []
        for kind in KINDS.values():
            targets = [device for family in kind.families for device in sorted(self.devices.family(family))]
            if targets:
                result.append(
                    FaultOffer(
                        fault=kind.fault,
                        description=kind.description,
                        targets=targets,
                        parameters=kind.parameters(self.devices),
                        clearable=self.faults.clearable(kind.fault),
                    )
                )
        return result

    def check(self, fault: str, target: str, params: dict[str, ParamValue]) -> dict[str, ParamValue]:
        """The parameters to use (defaults filled in), or `FaultRequestError` saying what is wrong."""
        offered = {o.fault: o for o in self.offers()}
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


__all__ = ["KINDS", "FaultCatalogue", "FaultKind", "FaultRequestError"]
