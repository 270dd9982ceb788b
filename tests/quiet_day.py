"""A quiet hospital day for tests that inject their own faults: one device of each family, a little traffic, no
faults of the scenario's own, at 120x; the whole stack (simulators, edge, gateway) on the test's services."""

from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.infra import Infra
from tests.polling import eventually
from wardlink.stack import StackConfig


def quiet_day(path: Path, *, carriers_per_hour: int = 12, seed: int = 5) -> Path:
    """The scenario file, written to `path`: whatever goes wrong on this day, the test asked for it."""
    scenario = {
        "name": "quiet-test-day",
        "seed": seed,
        "speed": 120,
        "start": "07:00",
        "end": "20:00",
        "devices": {"sorters": 1, "tube_systems": 1, "robots": 1, "cabinets": 1},
        "traffic": [{"start": "07:00", "specimens_per_hour": 6, "carriers_per_hour": carriers_per_hour}],
    }
    path.write_text(yaml.safe_dump(scenario))
    return path


def quiet_stack(infra: Infra, tmp_path: Path, *, reference_data: bool = False, **day: Any) -> StackConfig:
    """The stack's configuration on `infra` for a quiet day (`quiet_day`'s options in `day`); with `reference_data`,
    the demo hospital's names and the tube stations' zones."""
    return StackConfig(
        data_dir=tmp_path / "data",
        mqtt_url=infra.mqtt_url,
        database_url=infra.database_url,
        database_schema=infra.database_schema,
        topic_root=infra.topic_root,
        api_port=0,
        scenario=str(quiet_day(tmp_path / "day.yaml", **day)),
        reference_data=reference_data,
    )


async def attached(api: httpx.AsyncClient) -> dict[str, Any]:
    """The simulation overview once the hospital simulator has attached to the gateway."""

    async def body() -> dict[str, Any] | None:
        answer = (await api.get("/api/v1/simulation")).json()
        return answer if answer["attached"] else None

    return await eventually(body, what="the hospital simulator attached", timeout_s=30)
