"""The rules model. Targets and expected leg times are here; alert thresholds are in `gateway.rules.alerting`.

A target applies to a priority and, optionally, a test category and a ward; the most specific match wins
(ward and category, then category, then ward, then priority alone). Expected leg times feed the prediction of
when a specimen will be resulted, which is what raises an at-risk alert while there is still time to act.
"""

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gateway.rules.alerting import AlertRules
from gateway.rules.pharmacy import CabinetRules, DeliveryRules

DEFAULT_RULES = Path(__file__).with_name("default.yaml")

Priority = Literal["stat", "urgent", "routine"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TurnaroundTarget(_Model):
    priority: Priority
    category: str | None = None
    ward: str | None = None
    minutes: float = Field(gt=0, le=7 * 24 * 60, description="Collection to result.")

    @property
    def specificity(self) -> int:
        return (2 if self.category else 0) + (1 if self.ward else 0)


class ExpectedLegs(_Model):
    """How long each leg usually takes, in minutes; the prediction adds the legs a specimen has not done yet."""

    collection_to_dispatch: float = Field(default=5, ge=0)
    transit: float = Field(default=5, ge=0)
    arrival_to_sorted: float = Field(default=3, ge=0)
    sorted_to_result: float = Field(default=20, ge=0)
    sorted_to_result_by_category: dict[str, float] = Field(default_factory=dict)

    def to_result(self, category: str | None) -> float:
        return self.sorted_to_result_by_category.get(category or "", self.sorted_to_result)

    @property
    def longest_minutes(self) -> float:
        """Every leg of the slowest category: no prediction lies further past its latest milestone (or now)."""
        slowest = max([self.sorted_to_result, *self.sorted_to_result_by_category.values()])
        return self.collection_to_dispatch + self.transit + self.arrival_to_sorted + slowest


class TurnaroundRules(_Model):
    targets: list[TurnaroundTarget] = Field(min_length=1)
    expected_legs: ExpectedLegs = ExpectedLegs()
    amber_slack_minutes: float = Field(
        default=10,
        ge=0,
        le=24 * 60,
        description="A specimen predicted on time with less slack than this is 'tight' (amber), not 'on track'.",
    )
    on_time_goal_percent: float = Field(
        default=90, gt=0, le=100, description="The share of specimens resulted within target the lab aims for."
    )

    @model_validator(mode="after")
    def _one_target_per_key(self) -> "TurnaroundRules":
        seen: set[tuple[str, str | None, str | None]] = set()
        for n, t in enumerate(self.targets):
            key = (t.priority, t.category, t.ward)
            if key in seen:
                raise ValueError(
                    f"targets[{n}]: a second target for priority {t.priority!r}, "
                    f"category {t.category!r}, ward {t.ward!r}; keep one"
                )
            seen.add(key)
        return self

    def target_minutes(self, priority: str | None, category: str | None, ward: str | None) -> float | None:
        """The most specific target that applies; None when no target names this priority."""
        matching = [
            t
            for t in self.targets
            if t.priority == (priority or "routine") and t.category in (None, category) and t.ward in (None, ward)
        ]
        if not matching:
            return None
        return max(matching, key=lambda t: t.specificity).minutes


class TrackingRules(_Model):
    """The whole configuration; `version` is given by the store when a set of rules is imported."""

    version: int = Field(default=0, ge=0)
    turnaround: TurnaroundRules
    alerts: AlertRules = AlertRules()
    deliveries: DeliveryRules = DeliveryRules()
    cabinets: dict[str, CabinetRules] = Field(default_factory=dict, description="Per cabinet id (the device id).")


def load_rules(path: Path) -> TrackingRules:
    """Read and validate a rules file; raises ValueError naming the file, the field and the reason."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    return validated_rules(path, raw)


def validated_rules(source: Path | str, raw: Any) -> TrackingRules:
    """A rules document as `TrackingRules`, or a ValueError that names the source, each field and the reason."""
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: a rules file is a mapping with at least 'turnaround'")
    try:
        return TrackingRules.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or '(top)'}: {error['msg']}" for error in exc.errors()
        )
        raise ValueError(f"{source}: {problems}") from None


@lru_cache(maxsize=1)
def default_rules() -> TrackingRules:
    """The shipped defaults (from the hospital's plans), used until someone imports their own."""
    return load_rules(DEFAULT_RULES)
