"""The gateway's data parts, opened together: each built complete and handed to whoever needs just it.

`Stores` is a record, not a facade: it has no behaviour of its own beyond closing the database. The service
(`gateway.service`), the projector process, the CLI and the tests open one; routes and workers take single parts.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from gateway.alerts.queries import AlertQueries
from gateway.custody.queries import CustodyQueries
from gateway.ingest.edges import EdgeQueries
from gateway.ingest.event_store import BatchResult, EventStore
from gateway.projection.runner import Projected, ProjectionRunner
from gateway.reference.store import ReferenceStore
from gateway.rules.in_force import RulesInForce
from gateway.rules.versions import RulesVersions
from gateway.runtime.clock import Clock, utc_now
from gateway.settings import GatewaySettings
from gateway.storage.database import Database
from gateway.telemetry.robots import RobotQueries
from gateway.telemetry.store import TelemetryStore
from gateway.tracking.cabinets.queries import CabinetQueries
from gateway.tracking.carriers.queries import CarrierQueries
from gateway.tracking.deliveries.queries import DeliveryQueries
from gateway.tracking.devices.queries import DeviceQueries
from gateway.tracking.events import EventQueries
from gateway.tracking.registry import projectors
from gateway.tracking.specimens.queries import SpecimenQueries
from gateway.tracking.specimens.store import reproject_open


@dataclass(frozen=True, slots=True)
class Stores:
    """The database and what reads and writes it."""

    db: Database
    rules: RulesInForce
    """The rules in force (turnaround targets, alert thresholds); `gateway.rules.store` loads and versions them."""
    rules_versions: RulesVersions
    projection: ProjectionRunner
    events: EventStore
    event_log: EventQueries
    specimens: SpecimenQueries
    carriers: CarrierQueries
    deliveries: DeliveryQueries
    cabinets: CabinetQueries
    devices: DeviceQueries
    robots: RobotQueries
    telemetry: TelemetryStore
    edges: EdgeQueries
    custody: CustodyQueries
    alerts: AlertQueries
    reference: ReferenceStore
    """Names beside ids: locations, staff, formulary, devices (`gateway.reference`)."""

    @classmethod
    def build(
        cls,
        db: Database,
        settings: GatewaySettings,
        *,
        rules: RulesInForce | None = None,
        clock: Clock = utc_now,
        keep_for_projection: bool = True,
        on_commit: Iterable[Callable[[BatchResult], None]] = (),
        on_pass: Iterable[Callable[[Projected], None]] = (),
    ) -> "Stores":
        """The parts over an open database; `on_commit` and `on_pass` observers hear of commits and passes."""
        rules = rules or RulesInForce()
        projection = ProjectionRunner(
            db, projectors(), rules, held_subjects=settings.projection_held_subjects, on_pass=on_pass
        )
        events = EventStore(
            db,
            projection,
            keep_for_projection=keep_for_projection,
            clock=clock,
            historical_grace=timedelta(seconds=settings.historical_grace_s),
            max_seq_jump=settings.max_seq_jump,
            on_commit=on_commit,
        )
        return cls(
            db=db,
            rules=rules,
            rules_versions=RulesVersions(db, rules, reproject_open),
            projection=projection,
            events=events,
            event_log=EventQueries(db),
            specimens=SpecimenQueries(db, rules),
            carriers=CarrierQueries(db),
            deliveries=DeliveryQueries(db),
            cabinets=CabinetQueries(db, rules),
            devices=DeviceQueries(db),
            robots=RobotQueries(db),
            telemetry=TelemetryStore(db),
            edges=EdgeQueries(db, clock=clock),
            custody=CustodyQueries(db),
            alerts=AlertQueries(db, rules),
            reference=ReferenceStore(db),
        )

    @classmethod
    async def open(
        cls,
        settings: GatewaySettings,
        *,
        clock: Clock = utc_now,
        keep_for_projection: bool = True,
        on_commit: Iterable[Callable[[BatchResult], None]] = (),
        on_pass: Iterable[Callable[[Projected], None]] = (),
    ) -> "Stores":
        """Open (and migrate) the database of `settings` and build the parts over it (with the shipped rules: the
        service loads the rules in force, `gateway.rules.store.load_rules_in_force`)."""
        return cls.build(
            await Database.open(settings),
            settings,
            clock=clock,
            keep_for_projection=keep_for_projection,
            on_commit=on_commit,
            on_pass=on_pass,
        )

    async def close(self) -> None:
        await self.db.close()
