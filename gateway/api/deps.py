"""Dependencies, as `Annotated` aliases so that routes read as sentences; each route takes only the parts it uses."""

from typing import Annotated

from fastapi import Depends, Request

from gateway.alerts.held import HeldSpecimens
from gateway.alerts.queries import AlertQueries
from gateway.composition.stores import Stores
from gateway.custody.queries import CustodyQueries
from gateway.ingest.edges import EdgeQueries
from gateway.ingest.event_store import EventStore
from gateway.ingest.subscriber import Ingest
from gateway.projection.runner import ProjectionRunner
from gateway.reference.model import ReferenceData
from gateway.reference.store import ReferenceStore
from gateway.rules.in_force import RulesInForce
from gateway.rules.versions import RulesVersions
from gateway.runtime.clock import Clock
from gateway.settings import GatewaySettings
from gateway.storage.database import Database
from gateway.telemetry.robots import RobotQueries
from gateway.telemetry.store import TelemetryStore
from gateway.tracking.cabinets.queries import CabinetQueries
from gateway.tracking.carriers.queries import CarrierQueries
from gateway.tracking.deliveries.queries import DeliveryQueries
from gateway.tracking.devices.queries import DeviceQueries
from gateway.tracking.events import EventQueries
from gateway.tracking.specimens.queries import SpecimenQueries


def get_stores(request: Request) -> Stores:
    return request.app.state.stores  # type: ignore[no-any-return]  # app.state is untyped


def get_settings(request: Request) -> GatewaySettings:
    return request.app.state.settings  # type: ignore[no-any-return]  # app.state is untyped


def get_ingest(request: Request) -> Ingest | None:
    return request.app.state.ingest  # type: ignore[no-any-return]  # app.state is untyped


def get_clock(request: Request) -> Clock:
    return request.app.state.clock  # type: ignore[no-any-return]  # app.state is untyped


StoresDep = Annotated[Stores, Depends(get_stores)]
"""The whole record: for the parts' getters below, not for routes."""
SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
IngestDep = Annotated[Ingest | None, Depends(get_ingest)]
ClockDep = Annotated[Clock, Depends(get_clock)]


def get_db(stores: StoresDep) -> Database:
    return stores.db


def get_rules(stores: StoresDep) -> RulesInForce:
    return stores.rules


def get_rules_versions(stores: StoresDep) -> RulesVersions:
    return stores.rules_versions


def get_projection(stores: StoresDep) -> ProjectionRunner:
    return stores.projection


def get_events(stores: StoresDep) -> EventStore:
    return stores.events


def get_event_log(stores: StoresDep) -> EventQueries:
    return stores.event_log


def get_specimens(stores: StoresDep) -> SpecimenQueries:
    return stores.specimens


def get_carriers(stores: StoresDep) -> CarrierQueries:
    return stores.carriers


def get_deliveries(stores: StoresDep) -> DeliveryQueries:
    return stores.deliveries


def get_cabinets(stores: StoresDep) -> CabinetQueries:
    return stores.cabinets


def get_devices(stores: StoresDep) -> DeviceQueries:
    return stores.devices


def get_robots(stores: StoresDep) -> RobotQueries:
    return stores.robots


def get_telemetry(stores: StoresDep) -> TelemetryStore:
    return stores.telemetry


def get_edges(stores: StoresDep) -> EdgeQueries:
    return stores.edges


def get_custody(stores: StoresDep) -> CustodyQueries:
    return stores.custody


def get_alerts(stores: StoresDep) -> AlertQueries:
    return stores.alerts


def get_held(stores: StoresDep) -> HeldSpecimens:
    return HeldSpecimens(stores.db)


def get_reference_store(stores: StoresDep) -> ReferenceStore:
    return stores.reference


async def get_reference(stores: StoresDep) -> ReferenceData:
    """The reference data in force, for putting names beside ids."""
    return await stores.reference.current()


DatabaseDep = Annotated[Database, Depends(get_db)]
RulesDep = Annotated[RulesInForce, Depends(get_rules)]
RulesVersionsDep = Annotated[RulesVersions, Depends(get_rules_versions)]
ProjectionDep = Annotated[ProjectionRunner, Depends(get_projection)]
EventStoreDep = Annotated[EventStore, Depends(get_events)]
EventLogDep = Annotated[EventQueries, Depends(get_event_log)]
SpecimensDep = Annotated[SpecimenQueries, Depends(get_specimens)]
CarriersDep = Annotated[CarrierQueries, Depends(get_carriers)]
DeliveriesDep = Annotated[DeliveryQueries, Depends(get_deliveries)]
CabinetsDep = Annotated[CabinetQueries, Depends(get_cabinets)]
DevicesDep = Annotated[DeviceQueries, Depends(get_devices)]
RobotsDep = Annotated[RobotQueries, Depends(get_robots)]
TelemetryDep = Annotated[TelemetryStore, Depends(get_telemetry)]
EdgesDep = Annotated[EdgeQueries, Depends(get_edges)]
CustodyDep = Annotated[CustodyQueries, Depends(get_custody)]
AlertsDep = Annotated[AlertQueries, Depends(get_alerts)]
HeldDep = Annotated[HeldSpecimens, Depends(get_held)]
ReferenceStoreDep = Annotated[ReferenceStore, Depends(get_reference_store)]
ReferenceDep = Annotated[ReferenceData, Depends(get_reference)]
"""The reference data in force (names beside ids); unknown ids look up as None."""
