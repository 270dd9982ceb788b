"""A robot's task state from its VDA 5050 `state`: what staff and the device status show.

A robot stops at every node of its route for a moment; reporting `idle` there (and `driving` again a second
later) made one delivery a stream of status events. The task state looks at the order instead: a robot with
nodes still to reach is driving, one held at a node by an action (a hand-over, a trigger) is waiting, one
whose path is obstructed is blocked.
"""

from typing import Any

TaskState = str
"""fault, paused, blocked, charging, waiting, driving or idle."""

_BLOCKING_ERRORS = ("pathBlocked", "obstacleDetected", "noRouteFound")


def task_state(state: dict[str, Any]) -> TaskState:
    """The task state of one `state` message."""
    errors = state.get("errors") or []
    if any(e["errorLevel"] == "FATAL" for e in errors):
        return "fault"
    if state.get("paused"):
        return "paused"
    if any(e["errorType"] in _BLOCKING_ERRORS for e in errors):
        return "blocked"
    if (state.get("batteryState") or {}).get("charging"):
        return "charging"
    running = any(a["actionStatus"] in ("INITIALIZING", "RUNNING") for a in state.get("actionStates") or [])
    if running and not state.get("driving"):
        return "waiting"
    if state.get("driving") or state.get("nodeStates"):
        return "driving"
    return "idle"
