"""The VDA 5050 factsheet of a simulated robot, built from its profile."""

from typing import Any

from device_profiles.vda5050 import HANDOVER_ACTION, RELEASE_ACTION, Vda5050Profile
from simulators.robots.body import TRIGGER_ACTION


def _action(kind: str, description: str, scopes: list[str], params: list[tuple[str, str, bool]]) -> dict[str, Any]:
    out: dict[str, Any] = {"actionType": kind, "actionDescription": description, "actionScopes": scopes}
    if params:
        out["actionParameters"] = [
            {"key": key, "valueDataType": kind_, "isOptional": optional} for key, kind_, optional in params
        ]
    return out


def factsheet_body(profile: Vda5050Profile) -> dict[str, Any]:
    """Everything of the factsheet but the header."""
    return {
        "typeSpecification": {
            "seriesName": f"{profile.manufacturer} {profile.model}",
            "seriesDescription": profile.description[:200],
            "agvKinematic": "DIFF",
            "agvClass": "CARRIER",
            "maxLoadMass": profile.max_load_kg,
            "localizationTypes": ["NATURAL"],
            "navigationTypes": ["PHYSICAL_LINE_GUIDED"],
        },
        "physicalParameters": {
            "speedMin": 0.0,
            "speedMax": profile.max_speed,
            "accelerationMax": 0.5,
            "decelerationMax": 0.8,
            "heightMax": profile.height,
            "width": profile.width,
            "length": profile.length,
        },
        "protocolLimits": {
            "maxStringLens": {"idLen": 64, "topicSerialLen": 64},
            "maxArrayLens": {"order.nodes": 64, "order.edges": 63, "instantActions": 10},
            "timing": {"minOrderInterval": 1.0, "minStateInterval": 0.1, "defaultStateInterval": 30.0},
        },
        "protocolFeatures": {
            "optionalParameters": [],
            "agvActions": [
                _action("cancelOrder", "stop and drop the order", ["INSTANT"], []),
                _action("startPause", "pause driving", ["INSTANT"], []),
                _action("stopPause", "resume driving", ["INSTANT"], []),
                _action("factsheetRequest", "publish the factsheet", ["INSTANT"], []),
                _action("stateRequest", "publish the state", ["INSTANT"], []),
                _action(
                    HANDOVER_ACTION,
                    "keep the drawer locked until a PIN or badge releases it at this node",
                    ["NODE"],
                    [("drawer", "STRING", False), ("loadId", "STRING", True), ("pin", "STRING", True)],
                ),
                _action(
                    TRIGGER_ACTION,
                    "wait at this node until a badge is shown at the reader",
                    ["NODE"],
                    [("triggerType", "STRING", True)],
                ),
                _action(
                    RELEASE_ACTION,
                    "release a drawer due for hand-over (what the keypad and badge reader do)",
                    ["INSTANT"],
                    [("drawer", "STRING", False), ("pin", "STRING", True), ("badge", "STRING", True)],
                ),
            ],
        },
        "agvGeometry": {},
        "loadSpecification": {"loadPositions": list(profile.drawers)},
    }
