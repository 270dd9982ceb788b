"""What a VDA 5050 robot says it can do (its factsheet), and the check made before an order is sent.

Master control asks for the factsheet when the robot connects (`factsheetRequest`) and keeps the last one. A
delivery whose hand-over (or pick-up) action the robot does not list for node scope is refused up front with
that reason, instead of being sent and rejected by the robot (or, worse, accepted and never finished).
"""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Capabilities:
    """The actions a robot's factsheet lists, by scope (INSTANT, NODE, EDGE)."""

    actions: dict[str, frozenset[str]]
    series: str

    @classmethod
    def of(cls, factsheet: dict[str, Any]) -> "Capabilities":
        listed = (factsheet.get("protocolFeatures") or {}).get("agvActions") or []
        actions = {a["actionType"]: frozenset(a.get("actionScopes") or []) for a in listed}
        series = (factsheet.get("typeSpecification") or {}).get("seriesName") or "robot"
        return cls(actions, str(series))

    def missing_node_action(self, action: str) -> str | None:
        """Why the robot cannot do `action` on a node, or None when its factsheet says it can."""
        if "NODE" in self.actions.get(action, frozenset()):
            return None
        node_actions = sorted(a for a, scopes in self.actions.items() if "NODE" in scopes)
        return (
            f"the robot ({self.series}) cannot do {action!r} on a node: its factsheet lists "
            f"{', '.join(node_actions) or 'no node actions'}"
        )
