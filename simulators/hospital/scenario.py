"""A hospital day as data: which devices, how busy each hour is, and which faults strike when.

A scenario file (YAML, `simulators/days/*.yaml`) is validated like a profile (`extra="forbid"`); times are
the hospital's local clock ("HH:MM") and run `speed` times faster than real time, on the day before the one it
is played on (see `simulators.hospital.clock`). Deterministic given `seed`.
"""

from datetime import time
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from contract.ids import Identifier

DAYS_DIR = Path(__file__).resolve().parent.parent / "days"

FaultKind = Literal[
    "jam",  # sorter
    "door_open",  # sorter
    "zone_blocked",  # tube system; params: zone
    "path_blocked",  # robot
    "battery_low",  # robot
    "door_ajar",  # cabinet
    "fridge_warming",  # cabinet; params: target (°C)
    "power_loss",  # any device: off for `minutes`, then reboots with counters reset
    "malformed_frames",  # MQTT devices: garbage on their topics for `minutes`
    "duplicate_messages",  # MQTT devices: every message twice for `minutes`
]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Devices(_Strict):
    """How many of each family, and which profile (device model) they follow."""

    sorters: int = Field(default=1, ge=0, le=20)
    sorter_profile: Identifier = "acme-sorter-s100"
    tube_systems: int = Field(default=1, ge=0, le=5)
    tube_profile: Identifier = "tubenet-pts9"
    robots: int = Field(default=3, ge=0, le=50)
    robot_profile: Identifier = "medicart-mc2"
    cabinets: int = Field(default=4, ge=0, le=100)
    cabinet_profile: Identifier = "medvault-mv40"
    cabinet_inventory_minutes: float = Field(
        default=60,
        gt=0,
        le=24 * 60,
        description="Each cabinet reports its full inventory on connect and then this often (simulated minutes).",
    )

    def ids(self) -> dict[str, list[str]]:
        """Device ids by family, as the scenario names them: sorter-1, tubes-1, robot-1, cabinet-1, ..."""
        return {
            "sorter": [f"sorter-{i}" for i in range(1, self.sorters + 1)],
            "tubes": [f"tubes-{i}" for i in range(1, self.tube_systems + 1)],
            "robot": [f"robot-{i}" for i in range(1, self.robots + 1)],
            "cabinet": [f"cabinet-{i}" for i in range(1, self.cabinets + 1)],
        }


class Traffic(_Strict):
    """How busy the hospital is from `start` until the next period starts (per hour, hospital time)."""

    start: time
    specimens_per_hour: float = Field(
        ge=0,
        description="Tubes walked to each sorter, besides those the tube system brings (a few it rejects).",
    )
    carriers_per_hour: float = Field(ge=0, description="Tube-system trips, ~60 % carrying specimens to the lab.")
    stat_share: float = Field(default=0.05, ge=0, le=1, description="STAT share of specimens (and other carriers).")
    deliveries_per_hour: float = Field(default=0, ge=0, description="Pharmacy robot deliveries.")
    cabinet_accesses_per_hour: float = Field(default=0, ge=0, description="Nurse accesses, per cabinet.")


class Fault(_Strict):
    at: time
    device: Identifier
    kind: FaultKind
    minutes: float = Field(default=5, gt=0, le=24 * 60)
    params: dict[str, Any] = Field(default_factory=dict)


class Scenario(_Strict):
    name: Identifier
    description: str = ""
    seed: int = 1
    speed: float = Field(default=60, gt=0, le=10_000, description="Simulated seconds per real second.")
    start: time = time(6, 0)
    end: time = time(23, 59)
    devices: Devices = Devices()
    traffic: list[Traffic] = Field(min_length=1)
    faults: list[Fault] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ordered(self) -> "Scenario":
        starts = [t.start for t in self.traffic]
        if starts != sorted(starts):
            raise ValueError("traffic periods must be in time order")
        if self.end <= self.start:
            raise ValueError("end must be after start (a scenario covers at most one day)")
        known = {device for ids in self.devices.ids().values() for device in ids}
        for i, fault in enumerate(self.faults):
            if fault.device not in known:
                raise ValueError(f"faults[{i}].device: no device {fault.device!r} (known: {', '.join(sorted(known))})")
        return self

    def traffic_at(self, moment: time) -> Traffic:
        """The period in force at `moment`; before the first one, the first."""
        current = self.traffic[0]
        for period in self.traffic:
            if period.start <= moment:
                current = period
        return current


class ScenarioError(ValueError):
    """A scenario file that does not validate; the message names the file, the field and the reason."""


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A scenario by name (`simulators/days/{name}.yaml`) or path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = DAYS_DIR / f"{name_or_path}.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path}: {exc}") from exc
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        lines = [f"{path}: {'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors()]
        raise ScenarioError("\n".join(lines)) from None


def available() -> list[str]:
    return sorted(p.stem for p in DAYS_DIR.glob("*.yaml"))
