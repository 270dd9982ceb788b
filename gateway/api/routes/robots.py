"""Robots: the site's node graph they drive on, and where each robot is now, what it is doing, with its battery."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from contract import Identifier
from gateway.api.deps import ReferenceDep, RobotsDep, SettingsDep
from gateway.api.models import Problem
from gateway.api.names import PLACE, Named, named
from gateway.auth.deps import PrincipalDep, require
from gateway.tracking.devices.fold import DeviceRow
from gateway.tracking.devices.site_map import MapFileError, SiteMap, site_map

router = APIRouter(prefix="/robots", tags=["robots"], dependencies=[require("pharmacy", "engineer")])


class MapNodePublic(BaseModel):
    id: str
    map: str = Field(description="The floor (VDA 5050 mapId).")
    x: float
    y: float
    kind: str = Field(description="pharmacy, charger, corridor, elevator, ward or dock.")
    description: str


class MapEdgePublic(BaseModel):
    id: str
    start: str
    end: str
    one_way: bool


class NodeGraphPublic(BaseModel):
    name: str
    description: str
    floors: list[str] = Field(description="The floors (maps) in the order their first node is listed.")
    nodes: list[MapNodePublic]
    edges: list[MapEdgePublic]


class RobotPublic(BaseModel):
    site: str
    robot: Annotated[str, Named("device")]
    robot_name: str | None = None
    state: str = Field(description="online / offline / unknown, as the edge reports it.")
    task: str | None = Field(
        default=None,
        description="What it is doing, from its VDA 5050 state (edge/drivers/vda5050_task.py): driving, waiting, "
        "charging, blocked, paused, fault or idle; null while it is not online (no stale state) or before its first.",
    )
    faults: list[str] = Field(default_factory=list, description="Its active faults' descriptions, the oldest first.")
    battery_pct: float | None = Field(description="The latest battery charge; null before the first.")
    x: float | None = Field(description="The latest position on its floor, in metres; null before the first.")
    y: float | None
    position_at: datetime | None = Field(description="When the position was reported.")
    node: Annotated[str | None, Named(*PLACE)] = Field(
        description="The map node nearest its position (on the floor of the node its delivery last reached)."
    )
    node_name: str | None = None
    floor: str | None
    delivery: str | None = Field(
        description="The delivery it carries now; null when none is in progress (or, for a ward-scoped caller, "
        "when it is for another ward)."
    )


class RobotsPublic(BaseModel):
    site: str
    graph: NodeGraphPublic | None = Field(description="The site's node graph; null when the gateway has no map for it.")
    data: list[RobotPublic]
    count: int


def task_of(device: DeviceRow) -> str | None:
    """The robot's task state while it is online; an offline robot's last word is not what it does now."""
    return device.status if device.state == "online" else None


def graph_public(graph: SiteMap) -> NodeGraphPublic:
    return NodeGraphPublic(
        name=graph.name,
        description=graph.description,
        floors=graph.floors,
        nodes=[MapNodePublic(**node.model_dump()) for node in graph.nodes],
        edges=[MapEdgePublic(**edge.model_dump()) for edge in graph.edges],
    )


@router.get("", response_model=RobotsPublic, responses={500: {"model": Problem}})
async def read_robots(
    fleet: RobotsDep,
    settings: SettingsDep,
    caller: PrincipalDep,
    reference: ReferenceDep,
    site: Annotated[Identifier, Query(description="The site whose robots and map to show.")] = "general-hospital",
) -> RobotsPublic:
    """The devices that report a battery or a position (robots), placed on the site's node graph."""
    try:
        graph = site_map(settings.maps_dir, site)
    except MapFileError as exc:
        raise HTTPException(status_code=500, detail=f"{exc}; fix the map file (WARDLINK_MAPS_DIR)") from None
    robots = []
    for robot in await fleet.at(site):
        device, delivery = robot.device, robot.delivery
        battery, px, py = (robot.readings.get(m) for m in ("battery_charge", "position_x", "position_y"))
        node = robot.node(graph) if graph is not None else None
        robots.append(
            RobotPublic(
                site=device.site,
                robot=device.device,
                state=device.state,
                task=task_of(device),
                faults=[fault.description or fault.code for fault in device.faults],
                battery_pct=battery.value if battery else None,
                x=px.value if px else None,
                y=py.value if py else None,
                position_at=px.at if px else None,
                node=node.id if node else None,
                floor=node.map if node else None,
                # Robots serve every ward; a ward-scoped caller does not learn another ward's delivery from them.
                delivery=delivery.delivery if delivery and caller.can_see_ward(delivery.ward) else None,
            )
        )
    public = RobotsPublic(site=site, graph=graph_public(graph) if graph else None, data=robots, count=len(robots))
    return named(public, reference)
