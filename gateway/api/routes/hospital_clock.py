"""The gateway's clock: hospital time, which in a simulated day is not the wall clock (the dashboard's "now")."""

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from gateway.api.deps import ClockDep
from gateway.auth.deps import require

router = APIRouter(prefix="/clock", tags=["clock"], dependencies=[require("lab", "pharmacy", "engineer")])


class ClockPublic(BaseModel):
    now: datetime = Field(description="The gateway's now: what overdue, at risk and 'the last 24 h' are judged by.")


@router.get("", response_model=ClockPublic)
async def read_clock(clock: ClockDep) -> ClockPublic:
    """The gateway's now (UTC); during a simulated day the simulation's time, else the wall clock."""
    return ClockPublic(now=clock())
