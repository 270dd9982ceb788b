"""Request and response models for alerts and the versioned rules."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from contract.ids import Identifier
from gateway.api.names import DetailNames, Named, NamedByKind
from gateway.api.page_models import KeysetListPublic


class AlertSubject(BaseModel):
    kind: str = Field(description="specimen, carrier, delivery, cabinet, device or edge.")
    id: Annotated[str, NamedByKind()] = Field(
        description="A barcode, carrier#transaction, delivery, cabinet, device or edge id."
    )
    name: str | None = Field(default=None, description="A cabinet's, device's or edge's name; null for the others.")


class AlertPublic(BaseModel):
    id: UUID
    kind: str = Field(description="e.g. specimen.at_risk, cabinet.cold_chain, device.offline.")
    severity: Literal["info", "warning", "critical"]
    state: Literal["raised", "acknowledged", "cleared"] = Field(
        description="raised (active, not acknowledged), acknowledged (active, acknowledged) or cleared; `active` "
        "and `acknowledged` give the two axes."
    )
    active: bool = Field(description="Its condition holds (as of the alert engine's last pass).")
    acknowledged: bool = Field(description="Someone acknowledged it.")
    owed: bool = Field(
        description="Cleared before anyone acknowledged it: still listed as open until someone does; if its "
        "condition returns first, the same alert is active again."
    )
    audience: list[Literal["lab", "pharmacy", "engineer", "admin"]] = Field(
        description="The roles that act on it (from `alerts.audiences`, plus those escalation added); admin sees "
        "every alert, and only the audience (or admin) may acknowledge it."
    )
    escalated_at: datetime | None = Field(description="When it last escalated unacknowledged (the gateway's clock).")
    escalation_level: int = Field(description="How many times it escalated; 0: never.")
    site: str
    subject: AlertSubject
    ward: Annotated[str | None, Named("location")]
    ward_name: str | None = None
    message: str = Field(description="What is wrong and what to do, for a person (ids, never patient data).")
    details: Annotated[dict[str, Any], DetailNames()]
    details_names: dict[str, str] = Field(
        default_factory=dict,
        description="Names of the ids in `details` that the reference data knows (devices, wards, stations, "
        "cabinets, robots, badges), by id.",
    )
    raised_at: datetime = Field(description="When the gateway raised it (the gateway's clock).")
    acknowledged_at: datetime | None
    acknowledged_by: Annotated[str | None, Named("staff")] = Field(
        description="The user (or service token) that acknowledged it: the authenticated caller, never a claim."
    )
    acknowledged_by_name: str | None = None
    cleared_at: datetime | None
    rules_version: int = Field(description="The rules version in force when it was raised.")


class AlertListPublic(KeysetListPublic):
    data: list[AlertPublic] = Field(description="Most severe first, then the newest first.")


class Acknowledgement(BaseModel):
    """The acknowledger is always the authenticated caller; a badge (and a note) may be added, never replace them."""

    model_config = ConfigDict(extra="forbid")

    badge: Identifier | None = Field(
        default=None,
        validation_alias=AliasChoices("badge", "by"),
        description="Optional: the badge of whoever is on it, when not the caller (a nurse at a shared terminal). "
        "Kept beside the caller in the alert's details and the audit trail; `by` is accepted as its old name.",
    )
    note: str | None = Field(default=None, max_length=200, description="What was done about it.")


class RulesVersionPublic(BaseModel):
    version: int
    created_at: datetime | None = Field(description="null for version 0, the shipped defaults.")
    created_by: str
    comment: str
    in_force: bool


class RulesVersionListPublic(BaseModel):
    data: list[RulesVersionPublic] = Field(description="Newest first; version 0 (the shipped defaults) last.")
    count: int
