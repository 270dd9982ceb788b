"""What master control sends a VDA 5050 robot: an order along a planned route, and instant actions.

Each message is shaped for the robot's version (see `instant_actions_message` for the one difference that
matters) and checked against that version's official schema before it leaves. Every send gets a fresh
header (VDA 5050 6.4: `headerId` increases with each message on a topic), resends included.
"""

from collections.abc import Mapping
from typing import Any

from device_profiles.maps import Route
from device_profiles.vda5050 import HANDOVER_ACTION, Handover, Headers, NodeAction
from device_profiles.vda5050_schemas import MessageKind, Vda5050SchemaError, check


class OwnMessageError(RuntimeError):
    """A message master control built breaks the schema: a fault of ours (a profile's parameters, a bug), never
    the robot's; it is logged and the delivery fails with it, and the device task carries on."""


def _checked(kind: MessageKind, message: dict[str, Any], version: str) -> dict[str, Any]:
    try:
        return check(kind, message, version)
    except Vda5050SchemaError as exc:
        raise OwnMessageError(
            f"master control's own {kind} message breaks the VDA 5050 {version} schema: {exc}"
        ) from exc


def handover_action_id(order_id: str) -> str:
    return f"{order_id}.handover"


def pickup_action_id(order_id: str) -> str:
    return f"{order_id}.pickup"


def _parameters(values: Mapping[str, object]) -> list[dict[str, object]]:
    return [{"key": key, "value": value} for key, value in values.items()]


def handover_node_action(
    handover: Handover, order_id: str, *, drawer: str, load_id: str, pin: str | None
) -> dict[str, Any] | None:
    """The destination's action: the maker's custom hand-over, a standard action, or none."""
    if handover.action == "none":
        return None
    if handover.action == HANDOVER_ACTION:
        parameters: dict[str, object] = {"drawer": drawer, "loadId": load_id, **({"pin": pin} if pin else {})}
        description = f"hand over the load in {drawer}"
    else:
        parameters = {**({"loadId": load_id} if handover.action == "drop" else {}), **handover.parameters}
        description = f"{handover.action}: hand over delivery {load_id}"
    return {
        "actionType": handover.action,
        "actionId": handover_action_id(order_id),
        "actionDescription": description[:200],
        "blockingType": "HARD",
        "actionParameters": _parameters(parameters),
    }


def pickup_node_action(pickup: NodeAction, order_id: str, *, load_id: str) -> dict[str, Any]:
    """The start node's action, for a robot that takes its load on board there (a standard `pick`)."""
    parameters = {**({"loadId": load_id} if pickup.action == "pick" else {}), **pickup.parameters}
    return {
        "actionType": pickup.action,
        "actionId": pickup_action_id(order_id),
        "actionDescription": f"{pickup.action}: take delivery {load_id} on board"[:200],
        "blockingType": "HARD",
        "actionParameters": _parameters(parameters),
    }


def order_message(
    headers: Headers,
    order_id: str,
    route: Route,
    *,
    handover: dict[str, Any] | None,
    pickup: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A schema-valid order: every node and edge of the route released, the actions on its first and last node."""
    last = len(route.nodes) - 1
    nodes = []
    for i, node in enumerate(route.nodes):
        actions = [a for a in ((pickup if i == 0 else None), (handover if i == last else None)) if a is not None]
        nodes.append(
            {
                "nodeId": node.id,
                "sequenceId": 2 * i,
                "released": True,
                "nodePosition": {"x": node.x, "y": node.y, "mapId": node.map, "allowedDeviationXY": 0.5},
                "actions": actions,
            }
        )
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
    return _checked("order", message, headers.version)


def fresh_header(headers: Headers, message: dict[str, Any]) -> dict[str, Any]:
    """The same order again, under a new header: a resend is a new message on the topic."""
    return {**message, **headers("order")}


def instant_actions_message(headers: Headers, *actions: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    """Instant actions as (actionType, actionId, parameters), each blocking NONE, keyed as the version names it."""
    body = [
        {
            "actionType": kind,
            "actionId": action_id,
            "blockingType": "NONE",
            **({"actionParameters": _parameters(params)} if params else {}),
        }
        for kind, action_id, params in actions
    ]
    # VDA 5050 2.0 and 2.1 name the array `actions`; 1.1 named it `instantActions`, and 2.0 vehicles built on
    # 1.1 code (vda-5050-lib) still read only that: a 2.0 message carries both, a 2.1 one `actions` alone.
    # Either kind of vehicle finds its array; the schemas allow the extra key.
    arrays = {"actions": body, **({"instantActions": body} if headers.version.startswith("2.0.") else {})}
    return _checked("instantActions", {**headers("instantActions"), **arrays}, headers.version)
