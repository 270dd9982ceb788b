"""Alert thresholds: defaults for the hospital, overridden per device type and per ward, and alert severities.

    alerts:
      carrier_transit_minutes: 15
      overrides:
        - {device_type: robot, offline_grace_minutes: 5}   # robots drop off Wi-Fi between floors
        - {ward: icu, cold_chain_minutes: 5}
      severities: {cabinet.below_par: warning}
      audiences: {cabinet.cold_chain: [pharmacy]}        # who acts on a kind (`gateway.rules.audiences`)
      owed_severities: [warning, critical]               # cleared before anyone acknowledged: stays until someone does
      escalation: {default_minutes: 15, minutes: {cabinet.cold_chain: 10}}   # `gateway.rules.escalation`

`AlertRules.thresholds(ward=..., device_type=...)` resolves what applies to one subject: the defaults, then the
device type's override, then the ward's (the ward is the more specific, so it wins where both set a field).
"""

from datetime import timedelta
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.rules.audiences import DEFAULT_AUDIENCES, AudienceRole, check_audiences, roles_for
from gateway.rules.escalation import EscalationRules

Severity = Literal["info", "warning", "critical"]
SEVERITY_RANK: dict[str, int] = {"critical": 3, "warning": 2, "info": 1}

AlertPriority = Literal["stat", "urgent", "routine"]

AlertKind = Literal[
    "specimen.at_risk",
    "specimen.overdue",
    "specimen.error_lane",
    "carrier.lost",
    "delivery.overdue",
    "robot.no_progress",
    "robot.battery_critical",
    "cabinet.cold_chain",
    "cabinet.door_ajar",
    "cabinet.discrepancy",
    "cabinet.below_par",
    "device.offline",
    "device.fault",
    "edge.offline",
    "edge.outbox_filling",
    "edge.sequence_gap",
    "event.tampered",
]
ALERT_KINDS: tuple[str, ...] = get_args(AlertKind)

DeviceType = Literal["sorter", "tube_system", "robot", "cabinet", "device"]
"""What the gateway can tell a device is from what it reports (see `gateway.alerts.snapshot`)."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AlertThresholds(_Model):
    """Every threshold one subject is judged by."""

    at_risk_priorities: tuple[AlertPriority, ...] = ("stat",)
    """Specimen priorities that raise `specimen.at_risk` when predicted to miss their target."""
    overdue_priorities: tuple[AlertPriority, ...] = ("stat", "urgent")
    carrier_transit_minutes: float = Field(default=15, gt=0)
    robot_no_progress_minutes: float = Field(default=10, gt=0)
    robot_moved_m: float = Field(default=0.5, gt=0)
    """A robot that moved at least this far made progress, even without a delivery event."""
    battery_critical_percent: float = Field(default=15, ge=0, le=100)
    cold_chain_min_c: float = Field(default=2, ge=-80, le=40)
    cold_chain_max_c: float = Field(default=8, ge=-80, le=40)
    cold_chain_minutes: float = Field(default=10, gt=0)
    door_ajar_minutes: float = Field(default=3, gt=0)
    offline_grace_minutes: float = Field(default=2, ge=0)
    error_lane_clear_after_minutes: float = Field(default=30, ge=0)
    """An acknowledged error-lane alert clears this long after acknowledgement (or when the lab receives it)."""
    outbox_warning_percent: float = Field(default=80, gt=0, le=100)
    """An edge's outbox this full (of `outbox_max_bytes`) raises `edge.outbox_filling` as a warning..."""
    outbox_critical_percent: float = Field(default=95, gt=0, le=100)
    """...and this full as critical (at 100 % the edge refuses new domain events)."""
    sequence_gap_minutes: float = Field(default=5, gt=0)
    """Seqs an edge's sequence misses for longer than this raise `edge.sequence_gap`."""

    @model_validator(mode="after")
    def _cold_chain_range(self) -> "AlertThresholds":
        if self.cold_chain_min_c >= self.cold_chain_max_c:
            raise ValueError(
                f"cold_chain_min_c ({self.cold_chain_min_c:g}) must be below cold_chain_max_c "
                f"({self.cold_chain_max_c:g})"
            )
        if self.outbox_warning_percent > self.outbox_critical_percent:
            raise ValueError(
                f"outbox_warning_percent ({self.outbox_warning_percent:g}) must not be above outbox_critical_percent "
                f"({self.outbox_critical_percent:g})"
            )
        return self

    def minutes(self, name: str) -> timedelta:
        return timedelta(minutes=float(getattr(self, name)))


class AlertOverride(_Model):
    """Thresholds for one ward or one device type; fields left out keep the value they had."""

    ward: str | None = Field(default=None, min_length=1, max_length=64)
    device_type: DeviceType | None = None
    at_risk_priorities: tuple[AlertPriority, ...] | None = None
    overdue_priorities: tuple[AlertPriority, ...] | None = None
    carrier_transit_minutes: float | None = Field(default=None, gt=0)
    robot_no_progress_minutes: float | None = Field(default=None, gt=0)
    robot_moved_m: float | None = Field(default=None, gt=0)
    battery_critical_percent: float | None = Field(default=None, ge=0, le=100)
    cold_chain_min_c: float | None = Field(default=None, ge=-80, le=40)
    cold_chain_max_c: float | None = Field(default=None, ge=-80, le=40)
    cold_chain_minutes: float | None = Field(default=None, gt=0)
    door_ajar_minutes: float | None = Field(default=None, gt=0)
    offline_grace_minutes: float | None = Field(default=None, ge=0)
    error_lane_clear_after_minutes: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_selector_and_something_to_change(self) -> "AlertOverride":
        if (self.ward is None) == (self.device_type is None):
            raise ValueError("an override names exactly one of 'ward' or 'device_type'")
        if not self.changes():
            raise ValueError("an override sets at least one threshold, e.g. cold_chain_minutes")
        return self

    @property
    def selector(self) -> tuple[str, str]:
        return ("ward", self.ward) if self.ward is not None else ("device_type", str(self.device_type))

    def changes(self) -> dict[str, object]:
        return {
            name: value for name, value in self.model_dump(exclude={"ward", "device_type"}).items() if value is not None
        }


DEFAULT_SEVERITIES: dict[str, Severity] = {
    "specimen.at_risk": "critical",  # warning below STAT
    "specimen.overdue": "critical",  # warning below STAT
    "specimen.error_lane": "warning",
    "carrier.lost": "critical",
    "delivery.overdue": "warning",  # critical for a STAT delivery
    "robot.no_progress": "warning",
    "robot.battery_critical": "critical",
    "cabinet.cold_chain": "critical",
    "cabinet.door_ajar": "warning",
    "cabinet.discrepancy": "warning",
    "cabinet.below_par": "info",
    "device.offline": "warning",  # critical for a sorter or tube system (a root cause: what it holds)
    "device.fault": "critical",  # jam, zone_blocked; other faults of sorters and tube systems as reported
    "edge.offline": "critical",
    "edge.outbox_filling": "warning",  # critical from outbox_critical_percent
    "edge.sequence_gap": "warning",
    "event.tampered": "critical",
}


class AlertRules(AlertThresholds):
    """The `alerts` section of the rules: default thresholds, overrides, severities and what is switched off."""

    overrides: tuple[AlertOverride, ...] = ()
    severities: dict[AlertKind, Severity] = Field(default_factory=dict)
    """A fixed severity for a kind, instead of the defaults (which depend on priority for specimens)."""
    disabled: tuple[AlertKind, ...] = ()
    """Kinds that never raise."""
    lookback_hours: float = Field(default=24, gt=0, le=24 * 14)
    """Specimens, removals and rejections older than this are no longer watched."""
    open_work_lookback_days: float = Field(default=14, gt=0, le=366)
    """Carrier trips that never arrived and deliveries never finished are watched this long (a lost carrier stays
    lost after a day), then let go: a trip whose arrival was never reported must not alarm forever."""
    audiences: dict[str, tuple[AudienceRole, ...]] = Field(default_factory=lambda: dict(DEFAULT_AUDIENCES))
    """Who acts on each kind or family (`device.*`); entries given change the defaults key by key."""
    owed_severities: tuple[Severity, ...] = ("warning", "critical")
    """An alert of these severities whose condition clears before anyone acknowledged it stays listed (cleared, not
    acknowledged) until someone does; others close when they clear (a cabinet below par is answered by the refill)."""
    escalation: EscalationRules = EscalationRules()

    @field_validator("audiences", mode="before")
    @classmethod
    def _over_the_default_audiences(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        return check_audiences(value, ALERT_KINDS)

    @field_validator("escalation")
    @classmethod
    def _escalation_names_kinds(cls, value: EscalationRules) -> EscalationRules:
        for key in value.minutes:
            if key not in ALERT_KINDS and not (key.endswith(".*") and key.count(".") == 1):
                raise ValueError(f"minutes: {key!r} is neither an alert kind nor a family like 'device.*'")
        return value

    @model_validator(mode="after")
    def _overrides_are_unambiguous_and_valid(self) -> "AlertRules":
        seen: set[tuple[str, str]] = set()
        for n, override in enumerate(self.overrides):
            if override.selector in seen:
                name, value = override.selector
                raise ValueError(f"overrides[{n}]: a second override for {name} {value!r}; keep one")
            seen.add(override.selector)
        device_types = [o.device_type for o in self.overrides if o.device_type is not None]
        wards = [o.ward for o in self.overrides if o.ward is not None]
        for device_type in [None, *device_types]:
            for ward in [None, *wards]:
                try:
                    self.thresholds(ward=ward, device_type=device_type)
                except ValueError as exc:
                    parts = [f"device_type {device_type!r}" if device_type else "", f"ward {ward!r}" if ward else ""]
                    where = " and ".join(part for part in parts if part)
                    raise ValueError(f"overrides for {where}: {_first_reason(exc)}") from None
        return self

    def thresholds(self, *, ward: str | None = None, device_type: str | None = None) -> AlertThresholds:
        """What applies to a subject in `ward` (if known) of `device_type` (if a device)."""
        values = self.model_dump(include=set(AlertThresholds.model_fields))
        for selector in (("device_type", device_type), ("ward", ward)):
            if selector[1] is None:
                continue
            for override in self.overrides:
                if override.selector == selector:
                    values.update(override.changes())
        return AlertThresholds.model_validate(values)

    def severity(self, kind: str, default: Severity) -> Severity:
        return self.severities.get(kind, default)  # type: ignore[call-overload, no-any-return]  # a str asks; a non-kind gets the default

    def enabled(self, kind: str) -> bool:
        return kind not in self.disabled

    def audience(self, kind: str) -> tuple[AudienceRole, ...]:
        """The roles that act on an alert of `kind`, in `AUDIENCE_ROLES` order."""
        return roles_for(kind, self.audiences)

    def owed(self, severity: str) -> bool:
        """Whether an alert of `severity` cleared unacknowledged waits for an acknowledgement."""
        return severity in self.owed_severities


def _first_reason(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return str(first["msg"]).removeprefix("Value error, ")
    return str(exc)
