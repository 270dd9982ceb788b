"""Pharmacy rules: delivery targets per priority, and per cabinet its ward, who may open it, its fridge and par levels.

Par levels are per GTIN across the cabinet (all bins and lots of that item together): below `min` the pharmacy
refills it up to `max`.
"""

from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contract.ids import Gtin

DeliveryPriority = Literal["stat", "routine"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _default_delivery_targets() -> dict[DeliveryPriority, float]:
    return {"stat": 30, "routine": 120}


class DeliveryRules(_Model):
    target_minutes: dict[DeliveryPriority, float] = Field(
        default_factory=_default_delivery_targets,
        description="Created (or first heard of) to handed over, per priority, in minutes.",
    )

    @model_validator(mode="after")
    def _positive_targets(self) -> "DeliveryRules":
        for priority, minutes in self.target_minutes.items():
            if not 0 < minutes <= 7 * 24 * 60:
                raise ValueError(f"target_minutes.{priority} is {minutes:g}: give a number of minutes above 0")
        return self

    def target(self, priority: str | None) -> timedelta | None:
        """How long a delivery of this priority may take; None when no target names the priority."""
        minutes = self.target_minutes.get(priority or "routine")  # type: ignore[call-overload]  # a str asks; an unknown priority has no target
        return timedelta(minutes=minutes) if minutes is not None else None


class ParLevel(_Model):
    min: int = Field(ge=0, description="Below this many on hand (all bins and lots together) the item is picked.")
    max: int = Field(ge=1, description="What a refill brings the cabinet's stock of the item up to.")

    @model_validator(mode="after")
    def _max_at_least_min(self) -> "ParLevel":
        if self.max < self.min:
            raise ValueError(
                f"par max {self.max} is below min {self.min}: max is the level a refill brings the item up to, "
                "so make it at least min"
            )
        return self


class CabinetRules(_Model):
    ward: str = Field(min_length=1, max_length=64, description="The ward the cabinet serves.")
    allowed_badges: list[str] | None = Field(
        default=None, description="Badges that may open the cabinet and take items; null lets any badge."
    )
    refrigerated: bool = Field(default=False, description="The cabinet has a 2-8 °C fridge compartment.")
    refrigerated_bins: list[str] | None = Field(
        default=None, description="The bins inside the fridge; null means every bin when `refrigerated`."
    )
    par: dict[Gtin, ParLevel] = Field(default_factory=dict, description="Par levels per GTIN (14 digits).")

    @field_validator("par", mode="before")
    @classmethod
    def _gtins_are_text(cls, value: Any) -> Any:
        for key in value if isinstance(value, dict) else ():
            if isinstance(key, int):
                raise ValueError(f'GTIN {key} is a number: quote it ("{key:014d}") so its leading zeros are kept')
        return value

    @model_validator(mode="after")
    def _fridge_bins_need_a_fridge(self) -> "CabinetRules":
        if self.refrigerated_bins is not None and not self.refrigerated:
            raise ValueError("refrigerated_bins is set but refrigerated is false: set refrigerated: true or drop it")
        return self

    @property
    def cold_bins(self) -> list[str] | None:
        """The bins to watch for the cold chain: [] without a fridge, None for every bin (see `cabinet_items`)."""
        if not self.refrigerated:
            return []
        return self.refrigerated_bins

    def allows(self, badge: str | None) -> bool:
        """Whether this badge may access the cabinet (any badge when `allowed_badges` is null)."""
        return self.allowed_badges is None or (badge is not None and badge in self.allowed_badges)
