"""Simulation control: which simulators are attached; start a scenario, inject or clear a fault in one of them.

A request goes to the simulator over MQTT (`contract.simulation`) and the answer comes back the same way. The route
waits up to `simulation_result_wait_s` (2 s) for it: **200** with the answered record (`status` `accepted`, or
`refused` with the simulator's `reason`), else **202** with the record still `pending`; then
`GET /api/v1/simulation/requests/{request_id}` (or the `requests` of `GET /api/v1/simulation`) shows the answer.
Every request is logged and written to the access audit trail (who, when, what). `WARDLINK_SIMULATION_CONTROL=false`
turns all of it off: these routes answer 404.
"""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from contract.ids import Identifier
from contract.simulation import MAX_FAULT_MINUTES, ClearFault, InjectFault, ParamValue, SimulatorPresence, StartScenario
from gateway.api.deps import SettingsDep
from gateway.api.models import Problem
from gateway.auth.deps import AuditDep, PrincipalDep, require
from gateway.simulation.control import (
    ControlRecord,
    SimulationLink,
    SimulationUnavailableError,
    SimulatorGoneError,
    new_request_id,
    now,
)

MAX_PAGE = 500


def _enabled(settings: SettingsDep) -> None:
    if not settings.simulation_control:
        raise HTTPException(status_code=404, detail="simulation control is disabled (WARDLINK_SIMULATION_CONTROL)")


router = APIRouter(
    prefix="/simulation",
    tags=["simulation"],
    dependencies=[require("engineer", "admin"), Depends(_enabled)],
    responses={404: {"model": Problem, "description": "Disabled, or no such simulator, fault or request."}},
)

_ANSWERED: dict[int | str, dict[str, Any]] = {
    202: {"model": ControlRecord, "description": "Sent; the simulator has not answered yet (`status: pending`)."},
    503: {"model": Problem, "description": "The gateway's simulation link lost the broker; try again shortly."},
}


class SimulationPublic(BaseModel):
    attached: bool = Field(description="True when at least one simulator is online.")
    simulators: list[SimulatorPresence] = Field(
        description="Each attached simulator's presence: its scenarios, the faults it offers, what runs now."
    )
    requests: list[ControlRecord] = Field(description="Control requests this gateway sent, the newest first.")


class ScenarioIn(BaseModel):
    simulator: Identifier
    scenario: Identifier = Field(description="One of the simulator's `scenarios`.")


class FaultIn(BaseModel):
    simulator: Identifier
    fault: Identifier = Field(description="One of the simulator's `faults[].fault`.")
    target: Identifier = Field(description="One of that fault's `targets` (a device id).")
    minutes: float = Field(gt=0, le=MAX_FAULT_MINUTES, description="How long, in simulated minutes.")
    params: dict[Identifier, ParamValue] = Field(default_factory=dict, description="The fault's `parameters`.")


def _link(request: Request) -> SimulationLink | None:
    return getattr(request.app.state, "simulation", None)


def _require_link(request: Request) -> SimulationLink:
    link = _link(request)
    if link is None:
        raise HTTPException(status_code=404, detail="no simulator is attached: this gateway runs no simulation link")
    return link


@router.get("", response_model=SimulationPublic)
async def overview(
    request: Request, limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Requests to list.")] = 50
) -> SimulationPublic:
    """The attached simulators (what each offers and runs now) and the latest control requests."""
    link = _link(request)
    if link is None:
        return SimulationPublic(attached=False, simulators=[], requests=[])
    simulators = link.attached()
    records = list(reversed(link.records.values()))[:limit]
    return SimulationPublic(attached=bool(simulators), simulators=simulators, requests=records)


@router.get("/requests/{request_id}", response_model=ControlRecord)
async def control_request(request_id: UUID, request: Request) -> ControlRecord:
    """One control request and, once it came, the simulator's answer."""
    link = _require_link(request)
    record = link.records.get(request_id)
    if record is None:
        raise HTTPException(
            status_code=404, detail=f"no control request {request_id}; GET /api/v1/simulation lists them"
        )
    return record


async def _send(
    request: Request,
    response: Response,
    simulator: str,
    control: StartScenario | InjectFault | ClearFault,
    audit: AuditDep,
    action: str,
    target: str,
) -> ControlRecord:
    link = _require_link(request)
    try:
        record = await link.send(simulator, control)
    except SimulatorGoneError:
        raise HTTPException(
            status_code=404, detail=f"no simulator {simulator!r} is attached; GET /api/v1/simulation lists them"
        ) from None
    except SimulationUnavailableError as exc:
        raise HTTPException(status_code=503, detail=f"{exc}; try again in a moment") from None
    settings = request.app.state.settings
    record = await link.wait(record.request_id, settings.simulation_result_wait_s)
    await audit(
        action,
        target=target,
        outcome="ok" if record.status != "refused" else "failed",
        detail=record.model_dump_json(
            include={"request_id", "scenario", "fault", "minutes", "params", "status", "reason"}
        ),
    )
    if record.status == "pending":
        response.status_code = 202
    return record


@router.post("/scenarios", response_model=ControlRecord, responses=_ANSWERED)
async def start_scenario(
    body: ScenarioIn, request: Request, response: Response, caller: PrincipalDep, audit: AuditDep
) -> ControlRecord:
    """Ask a simulator to play a scenario from now on (its traffic and faults, at their offsets from its start)."""
    control = StartScenario(
        request_id=new_request_id(), requested_by=caller.name, requested_at=now(), scenario=body.scenario
    )
    return await _send(request, response, body.simulator, control, audit, "simulation.scenario.start", body.simulator)


@router.post("/faults", response_model=ControlRecord, responses=_ANSWERED)
async def inject_fault(
    body: FaultIn, request: Request, response: Response, caller: PrincipalDep, audit: AuditDep
) -> ControlRecord:
    """Ask a simulator to inject a fault on one of its devices for `minutes`; the fault's id is the request's id."""
    control = InjectFault(
        request_id=new_request_id(),
        requested_by=caller.name,
        requested_at=now(),
        fault=body.fault,
        target=body.target,
        minutes=body.minutes,
        params=body.params,
    )
    target = f"{body.simulator}/{body.target}"
    return await _send(request, response, body.simulator, control, audit, "simulation.fault.inject", target)


@router.delete("/faults/{fault_id}", response_model=ControlRecord, responses=_ANSWERED)
async def clear_fault(
    fault_id: Identifier, request: Request, response: Response, caller: PrincipalDep, audit: AuditDep
) -> ControlRecord:
    """End an active fault early (an injected one, or one the scenario struck); some faults run their course."""
    link = _require_link(request)
    simulator = link.simulator_of_fault(fault_id)
    if simulator is None:
        raise HTTPException(
            status_code=404, detail=f"no active fault {fault_id!r}; GET /api/v1/simulation lists the active faults"
        )
    control = ClearFault(request_id=new_request_id(), requested_by=caller.name, requested_at=now(), fault_id=fault_id)
    return await _send(
        request, response, simulator, control, audit, "simulation.fault.clear", f"{simulator}/{fault_id}"
    )
