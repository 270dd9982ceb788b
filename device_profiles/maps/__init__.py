"""Node graphs robots drive on (one YAML file per building) and the shortest route across one."""

from device_profiles.maps.graph import (
    MAPS_DIR,
    MapEdge,
    MapNode,
    NodeGraph,
    NoRouteError,
    Route,
    Step,
    load_map,
    map_names,
)

__all__ = [
    "MAPS_DIR",
    "MapEdge",
    "MapNode",
    "NoRouteError",
    "NodeGraph",
    "Route",
    "Step",
    "load_map",
    "map_names",
]
