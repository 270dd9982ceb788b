"""Dependencies, as `Annotated` aliases so that routes read as sentences."""

from typing import Annotated

from fastapi import Depends, Request

from gateway.clock import Clock
from gateway.ingest import Ingest
from gateway.settings import GatewaySettings
from gateway.store import Store


def get_store(request: Request) -> Store:
    return request.app.state.store  # type: ignore[no-any-return]


def get_settings(request: Request) -> GatewaySettings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_ingest(request: Request) -> Ingest | None:
    return request.app.state.ingest  # type: ignore[no-any-return]


def get_clock(request: Request) -> Clock:
    return request.app.state.clock  # type: ignore[no-any-return]


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
IngestDep = Annotated[Ingest | None, Depends(get_ingest)]
ClockDep = Annotated[Clock, Depends(get_clock)]
