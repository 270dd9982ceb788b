"""Export the contract's JSON Schemas (published under docs/schemas/)."""

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from contract.ack import Ack
from contract.command import command_adapter
from contract.deadletter import DeadLetter
from contract.edge_status import EdgeStatus
from contract.envelope import MAX_EVENTS_PER_MESSAGE, Event, event_adapter
from contract.simulation import ControlResult, SimulatorPresence, control_request_adapter
from contract.state import EdgeState
from contract.telemetry import Telemetry


def schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema, for every message on the wire."""
    return {
        "event.schema.json": event_adapter.json_schema(),
        "event-array.schema.json": TypeAdapter(
            Annotated[list[Event], Field(min_length=1, max_length=MAX_EVENTS_PER_MESSAGE)]
        ).json_schema(),
        "ack.schema.json": TypeAdapter(Ack).json_schema(),
        "edge-state.schema.json": TypeAdapter(EdgeState).json_schema(),
        "edge-status.schema.json": TypeAdapter(EdgeStatus).json_schema(),
        "deadletter.schema.json": TypeAdapter(DeadLetter).json_schema(),
        "telemetry.schema.json": TypeAdapter(Telemetry).json_schema(),
        "command.schema.json": command_adapter.json_schema(),
        "simulation-presence.schema.json": TypeAdapter(SimulatorPresence).json_schema(),
        "simulation-control.schema.json": control_request_adapter.json_schema(),
        "simulation-result.schema.json": TypeAdapter(ControlResult).json_schema(),
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def export(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in schemas().items():
        path = directory / name
        path.write_text(render(schema))
        written.append(path)
    return written
