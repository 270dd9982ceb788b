"""What a simulated VDA 5050 robot is and does, without a network: order, motion, battery, drawers, errors.

Time is whatever `step(dt_s)` is given, so the same inputs give the same robot; `RobotSimulator` (robot.py)
drives it over MQTT, compressed in time. Orders and instant actions arrive as schema-valid dicts.
"""

import math
from dataclasses import dataclass, field
from typing import Any

from device_profiles.maps import MapNode, NodeGraph, Step
from device_profiles.vda5050 import HANDOVER_ACTION, RELEASE_ACTION, RELEASED_INFO, Vda5050Profile

_ORDER_ERRORS = ("validationError", "orderError", "orderUpdateError", "noOrderToCancel")
_INSTANT_LOG = 20  # instant action states kept in `state` (the newest)
_CLEAR_LOW_ABOVE = 2.0  # percentage points above the low threshold before batteryLow clears (no flapping)


def _params(action: dict[str, Any]) -> dict[str, Any]:
    return {p["key"]: p["value"] for p in action.get("actionParameters") or []}


def _refs(**values: object) -> list[dict[str, str]]:
    return [{"referenceKey": k, "referenceValue": str(v)} for k, v in values.items() if v is not None]


@dataclass
class Drawer:
    id: str
    locked: bool = False
    load_id: str | None = None


TRIGGER_ACTION = "waitForTrigger"
"""The standard action this robot also hands over with: the trigger is a badge shown at its reader."""


@dataclass
class Handover:
    """What the destination waits for: `handOverLoad` (a drawer, and the PIN the order set; None: a badge
    opens it), `waitForTrigger` (a badge at the reader, any drawer) or, for an order with no action there, a
    badge at the reader once it has arrived (`action_id` None)."""

    action_id: str | None
    drawer: str | None
    pin: str | None
    node_id: str
    due: bool = False


@dataclass
class OrderLeg:
    """One edge of the order still to drive, and the node at its end."""

    step: Step
    edge_sequence: int
    node_sequence: int
    node_actions: list[dict[str, Any]]


@dataclass
class RobotBody:
    profile: Vda5050Profile
    graph: NodeGraph
    node: MapNode
    battery_pct: float = 100.0
    x: float = field(init=False)
    y: float = field(init=False)
    theta: float = 0.0
    map_id: str = field(init=False)
    last_node_id: str = field(init=False)
    last_node_sequence: int = 0
    order_id: str = ""
    order_update_id: int = 0
    legs: list[OrderLeg] = field(default_factory=list)
    progress_m: float = 0.0
    driving: bool = False
    paused: bool = False
    actions: dict[str, dict[str, Any]] = field(default_factory=dict)
    instant_ids: list[str] = field(default_factory=list)
    errors: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    information: list[dict[str, Any]] = field(default_factory=list)
    handover: Handover | None = None
    blocked_edges: set[str] = field(default_factory=set)
    drawers: dict[str, Drawer] = field(init=False)
    odometer_m: float = 0.0
    factsheet_requested: bool = False

    def __post_init__(self) -> None:
        self.x, self.y, self.map_id = self.node.x, self.node.y, self.node.map
        self.last_node_id = self.node.id
        self.drawers = {d: Drawer(d) for d in self.profile.drawers}

    # -- errors ------------------------------------------------------------------------------------------------
    def raise_error(self, kind: str, level: str, description: str, **refs: object) -> None:
        key = (kind, str(next(iter(refs.values()), "")) if refs else "")
        self.errors[key] = {
            "errorType": kind,
            "errorLevel": level,
            "errorDescription": description[:200],
            "errorReferences": _refs(**refs),
        }

    def clear_errors(self, *kinds: str) -> None:
        for key in [k for k in self.errors if k[0] in kinds]:
            del self.errors[key]

    @property
    def fatal(self) -> bool:
        return any(e["errorLevel"] == "FATAL" for e in self.errors.values())

    # -- orders ------------------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """Still executing: nodes to reach, or order actions neither finished nor failed."""
        open_actions = any(
            a["actionStatus"] not in ("FINISHED", "FAILED")
            for aid, a in self.actions.items()
            if aid not in self.instant_ids
        )
        return bool(self.legs) or open_actions

    def take_order(self, order: dict[str, Any]) -> None:
        """Accept or reject an order (VDA 5050 6.6); a rejection is a WARNING error naming the reason."""
        order_id, update_id = order["orderId"], order["orderUpdateId"]
        if order_id == self.order_id and update_id == self.order_update_id:
            return  # the same order again (master control resent it): ignore
        if order_id == self.order_id:
            self.raise_error("orderUpdateError", "WARNING", "order updates are not supported", orderId=order_id)
            return
        if self.busy:
            self.raise_error("orderError", "WARNING", f"still executing order {self.order_id}", orderId=order_id)
            return
        if reason := self._order_problem(order):
            self.raise_error("orderError", "WARNING", reason, orderId=order_id)
            return
        self.clear_errors(*_ORDER_ERRORS)
        nodes, edges = order["nodes"], order["edges"]
        self.order_id, self.order_update_id = order_id, update_id
        self.actions = {}
        self.instant_ids = []
        self.information = []
        self.handover = None
        self.last_node_sequence = nodes[0]["sequenceId"]
        # After a cancel the robot may stand between nodes: it knows its way back to the last one.
        self.x, self.y, self.map_id = self.node.x, self.node.y, self.node.map
        self.progress_m = 0.0
        self.legs = []
        for i, edge in enumerate(edges):
            if not edge["released"] or not nodes[i + 1]["released"]:
                break  # the horizon is not ours to drive yet
            step = self.graph.step(edge["edgeId"], edge["startNodeId"], edge["endNodeId"])
            assert step is not None  # checked in _order_problem
            self.legs.append(OrderLeg(step, edge["sequenceId"], nodes[i + 1]["sequenceId"], nodes[i + 1]["actions"]))
        for item in [*nodes, *edges]:
            for action in item["actions"]:
                self.actions[action["actionId"]] = {
                    "actionId": action["actionId"],
                    "actionType": action["actionType"],
                    "actionStatus": "WAITING",
                }
                if action["actionType"] == HANDOVER_ACTION:
                    params = _params(action)
                    drawer = self.drawers[params["drawer"]]
                    drawer.locked, drawer.load_id = True, str(params.get("loadId", order_id))
                    pin = params.get("pin")
                    self.handover = Handover(action["actionId"], drawer.id, str(pin) if pin else None, item["nodeId"])
                elif action["actionType"] == TRIGGER_ACTION:
                    self.handover = Handover(action["actionId"], None, None, item["nodeId"])
        if self.handover is None and not nodes[-1]["actions"] and len(nodes) > 1:
            self.handover = Handover(None, None, None, nodes[-1]["nodeId"])
        self._arrive_actions(nodes[0]["actions"])

    def _order_problem(self, order: dict[str, Any]) -> str | None:
        nodes, edges = order["nodes"], order["edges"]
        if not nodes:
            return "an order needs at least one node"
        if nodes[0]["nodeId"] != self.last_node_id:
            return f"the order starts at {nodes[0]['nodeId']!r}, the robot's last node is {self.last_node_id!r}"
        if len(edges) != len(nodes) - 1:
            return "an order has one edge fewer than nodes"
        for i, edge in enumerate(edges):
            a, b = nodes[i]["nodeId"], nodes[i + 1]["nodeId"]
            if (edge["startNodeId"], edge["endNodeId"]) != (a, b) or self.graph.step(edge["edgeId"], a, b) is None:
                return f"edge {edge['edgeId']!r} does not join {a!r} to {b!r} on map {self.graph.name!r}"
            if edge["actions"]:
                return "edge actions are not supported"
        for node in nodes:
            for action in node["actions"]:
                if action["actionType"] == TRIGGER_ACTION:
                    continue
                if action["actionType"] != HANDOVER_ACTION:
                    return f"action type {action['actionType']!r} is not supported"
                drawer = _params(action).get("drawer")
                if drawer not in self.drawers:
                    return f"handOverLoad names drawer {drawer!r}; this robot has {', '.join(self.drawers)}"
        return None

    def _arrive_actions(self, actions: list[dict[str, Any]]) -> None:
        for action in actions:
            if self.handover and action["actionId"] == self.handover.action_id:
                self.handover.due = True
                self.actions[action["actionId"]]["actionStatus"] = "RUNNING"
                self.actions[action["actionId"]]["resultDescription"] = "waiting for a PIN or badge"

    # -- instant actions ---------------------------------------------------------------------------------------
    def instant(self, action: dict[str, Any]) -> None:
        kind, action_id = action["actionType"], action["actionId"]
        status, result = "FINISHED", ""
        if kind == "cancelOrder":
            status, result = self._cancel(action_id)
        elif kind in ("startPause", "stopPause"):
            self.paused = kind == "startPause"
        elif kind == "factsheetRequest":
            self.factsheet_requested = True
        elif kind == "stateRequest":
            pass
        elif kind == RELEASE_ACTION:
            params = _params(action)
            refused = self.release(str(params.get("drawer", "")), pin=params.get("pin"), badge=params.get("badge"))
            status, result = ("FAILED", refused) if refused else ("FINISHED", "released")
        else:
            status, result = "FAILED", f"instant action {kind!r} is not supported"
        self.actions[action_id] = {"actionId": action_id, "actionType": kind, "actionStatus": status}
        if result:
            self.actions[action_id]["resultDescription"] = result[:200]
        self.instant_ids.append(action_id)
        for old in self.instant_ids[:-_INSTANT_LOG]:
            self.actions.pop(old, None)
        self.instant_ids = self.instant_ids[-_INSTANT_LOG:]

    def _cancel(self, action_id: str) -> tuple[str, str]:
        if not self.busy:
            self.raise_error("noOrderToCancel", "WARNING", "no order to cancel", actionId=action_id)
            return "FAILED", "no order to cancel"
        self.legs = []
        self.driving = False
        for state in self.actions.values():
            if state["actionStatus"] in ("WAITING", "INITIALIZING", "RUNNING"):
                state["actionStatus"], state["resultDescription"] = "FAILED", "order cancelled"
        self.handover = None
        return "FINISHED", ""

    def release(self, drawer_id: str, *, pin: object = None, badge: object = None) -> str | None:
        """Someone at the robot opens a drawer with a PIN and/or badge; None when it opened, else why not."""
        handover = self.handover
        if drawer_id not in self.drawers:
            return f"no drawer {drawer_id!r}"
        if handover is None or handover.drawer not in (None, drawer_id) or not handover.due:
            return f"drawer {drawer_id} is not due for hand-over here"
        if handover.pin is not None and str(pin or "") != handover.pin:
            return "wrong PIN"
        if handover.pin is None and not badge:
            return "a badge is needed"
        drawer = self.drawers[drawer_id]
        drawer.locked, drawer.load_id = False, None
        how = f"badge {badge}" if badge else "PIN"
        if handover.action_id is not None:
            self.actions[handover.action_id].update(actionStatus="FINISHED", resultDescription=f"released by {how}")
        self.information.append(
            {
                "infoType": RELEASED_INFO,
                "infoLevel": "INFO",
                "infoDescription": f"{drawer_id} released by {how}",
                "infoReferences": _refs(
                    orderId=self.order_id, actionId=handover.action_id, drawer=drawer_id, badge=badge or None
                ),
            }
        )
        self.handover = None
        return None

    # -- time --------------------------------------------------------------------------------------------------
    def step(self, dt_s: float) -> None:
        """Advance `dt_s` seconds: drive the next edge (unless paused, blocked or out of battery), charge, drain."""
        self.driving = False
        leg = self.legs[0] if self.legs else None
        if leg is None or self.paused or self.fatal or (self.handover and self.handover.due):
            self.clear_errors("pathBlocked")
        elif leg.step.edge.id in self.blocked_edges:
            if ("pathBlocked", leg.step.edge.id) not in self.errors:
                self.clear_errors("pathBlocked")
                self.raise_error("pathBlocked", "WARNING", "obstacle on the path", edgeId=leg.step.edge.id)
        else:
            self.clear_errors("pathBlocked")
            self._drive(leg, dt_s)
        if self.charging:
            self.battery_pct = min(100.0, self.battery_pct + self.profile.battery.charge_pct_per_min * dt_s / 60)
        self._battery_errors()

    @property
    def charging(self) -> bool:
        return not self.driving and not self.legs and self.graph.by_id[self.last_node_id].kind == "charger"

    def _drive(self, leg: OrderLeg, dt_s: float) -> None:
        step = leg.step
        speed = min(self.profile.max_speed, step.edge.max_speed or math.inf)
        move = min(speed * dt_s, step.length - self.progress_m)
        self.driving = True
        self.progress_m += move
        self.odometer_m += move
        self.battery_pct = max(0.0, self.battery_pct - move * self.profile.battery.drain_pct_per_m)
        share = self.progress_m / step.length if step.length else 1.0
        self.x = step.start.x + (step.end.x - step.start.x) * share
        self.y = step.start.y + (step.end.y - step.start.y) * share
        if step.end.x != step.start.x or step.end.y != step.start.y:
            self.theta = math.atan2(step.end.y - step.start.y, step.end.x - step.start.x)
        if self.progress_m >= step.length - 1e-9:
            self.legs.pop(0)
            self.node = step.end
            self.x, self.y, self.map_id = step.end.x, step.end.y, step.end.map
            self.last_node_id, self.last_node_sequence = step.end.id, leg.node_sequence
            self.progress_m = 0.0
            self.driving = bool(self.legs)
            self._arrive_actions(leg.node_actions)
            if not self.legs and self.handover and self.handover.action_id is None:
                self.handover.due = True  # an order without a hand-over action: a badge at the reader will do

    def _battery_errors(self) -> None:
        low = self.profile.battery.low_pct
        if self.battery_pct <= 0:
            if ("batteryEmpty", "") not in self.errors:
                self.raise_error("batteryEmpty", "FATAL", "battery empty: the robot cannot drive")
        else:
            self.clear_errors("batteryEmpty")
        if self.battery_pct < low and ("batteryLow", "") not in self.errors:
            self.raise_error("batteryLow", "WARNING", f"battery below {low:g} %")
        elif self.battery_pct >= low + _CLEAR_LOW_ABOVE:
            self.clear_errors("batteryLow")

    # -- what it reports ---------------------------------------------------------------------------------------
    def position(self) -> dict[str, Any]:
        return {
            "x": round(self.x, 3),
            "y": round(self.y, 3),
            "theta": round(self.theta, 4),
            "mapId": self.map_id,
            "positionInitialized": True,
        }

    def velocity(self) -> dict[str, float]:
        if not self.driving or not self.legs:
            return {"vx": 0.0, "vy": 0.0, "omega": 0.0}
        speed = min(self.profile.max_speed, self.legs[0].step.edge.max_speed or math.inf)
        return {
            "vx": round(speed * math.cos(self.theta), 3),
            "vy": round(speed * math.sin(self.theta), 3),
            "omega": 0.0,
        }

    def state(self) -> dict[str, Any]:
        """The `state` message body (without the header)."""
        node_states, edge_states = [], []
        for leg in self.legs:
            edge_states.append({"edgeId": leg.step.edge.id, "sequenceId": leg.edge_sequence, "released": True})
            end = leg.step.end
            node_states.append(
                {
                    "nodeId": end.id,
                    "sequenceId": leg.node_sequence,
                    "released": True,
                    "nodePosition": {"x": end.x, "y": end.y, "mapId": end.map},
                }
            )
        return {
            "orderId": self.order_id,
            "orderUpdateId": self.order_update_id,
            "lastNodeId": self.last_node_id,
            "lastNodeSequenceId": self.last_node_sequence,
            "driving": self.driving,
            "paused": self.paused,
            "distanceSinceLastNode": round(self.progress_m, 3),
            "operatingMode": "AUTOMATIC",
            "nodeStates": node_states,
            "edgeStates": edge_states,
            "agvPosition": self.position(),
            "velocity": self.velocity(),
            "loads": [
                {"loadId": d.load_id, "loadType": "drawer", "loadPosition": d.id}
                for d in self.drawers.values()
                if d.load_id is not None
            ],
            "actionStates": list(self.actions.values()),
            "batteryState": {
                "batteryCharge": round(self.battery_pct, 2),
                "charging": self.charging,
                "reach": round(self.battery_pct / self.profile.battery.drain_pct_per_m, 1),
            },
            "errors": list(self.errors.values()),
            "information": list(self.information),
            "safetyState": {"eStop": "NONE", "fieldViolation": False},
        }

    def signature(self) -> str:
        """What makes a state 'changed' for VDA 5050's 'on change': everything but position and charge level."""
        body = self.state()
        for volatile in ("agvPosition", "velocity", "distanceSinceLastNode"):
            body.pop(volatile)
        body["batteryState"] = {"charging": self.charging}
        return repr(body)
