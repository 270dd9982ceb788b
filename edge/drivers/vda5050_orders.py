"""What master control sends a VDA 5050 robot: an order along a planned route, and instant actions."""

from typing import Any

from device_profiles.maps import Route
from device_profiles.vda5050 import HANDOVER_ACTION, Headers
from device_profiles.vda5050_schemas import check


def handover_action_id(order_id: str) -> str:
    return f"{order_id}.handover"


def order_message(
    headers: Headers, order_id: str, route: Route, *, drawer: str, load_id: str, pin: str | None
) -> dict[str, Any]:
    """A schema-valid order: every node and edge of the route released; the last node hands the drawer over."""
    handover = {
        "actionType": HANDOVER_ACTION,
        "actionId": handover_action_id(order_id),
        "actionDescription": f"hand over the load in {drawer}",
        "blockingType": "HARD",
        "actionParameters": [
            {"key": "drawer", "value": drawer},
            {"key": "loadId", "value": load_id},
            *([{"key": "pin", "value": pin}] if pin else []),
        ],
    }
    last = len(route.nodes) - 1
    nodes = [
        {
            "nodeId": node.id,
            "sequenceId": 2 * i,
            "released": True,
            "nodePosition": {"x": node.x, "y": node.y, "mapId": node.map, "allowedDeviationXY": 0.5},
            "actions": [handover] if i == last else [],
        }
        for i, node in enumerate(route.nodes)
    ]
    edges = [
        {
            "edgeId": step.edge.id,
            "sequenceId": 2 * i + 1,
            "released": True,
            "startNodeId": step.start.id,
            "endNodeId": step.end.id,
            "length": round(step.length, 3),
            **({"maxSpeed": step.edge.max_speed} if step.edge.max_speed else {}),
            "actions": [],
        }
        for i, step in enumerate(route.steps)
    ]
    message = {**headers("order"), "orderId": order_id, "orderUpdateId": 0, "nodes": nodes, "edges": edges}
    return check("order", message)


def instant_actions_message(headers: Headers, *actions: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    """Instant actions as (actionType, actionId, parameters), each blocking NONE."""
    body = [
        {
            "actionType": kind,
            "actionId": action_id,
            "blockingType": "NONE",
            **({"actionParameters": [{"key": k, "value": v} for k, v in params.items()]} if params else {}),
        }
        for kind, action_id, params in actions
    ]
    return check("instantActions", {**headers("instantActions"), "actions": body})
