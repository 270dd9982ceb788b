"""The chaos suite's short form: one fixed-seed run per fault family, every fault of the family in turn, on the
real processes (broker, gateway, edge, sorter simulator) behind the fault proxy. After healing, every event the
edge accepted is stored exactly once, no specimen's state went backwards, no sequence gap is left open, and the
edge takes new events again. The long form (`make chaos`) draws 100+ runs; see docs/reliability.md."""

from pathlib import Path

import pytest

from tests.chaos.faults import FAMILIES
from tests.chaos.run import RunConfig, RunResult, run_once
from tests.infra import require_real_services

SHORT_HOLD_S = (0.5, 1.5)


def _explain(result: RunResult) -> str:
    verdict = result.verdict
    lines = [result.error or "", *(verdict.problems if verdict else []), *result.injected]
    return f"run logs in {result.run_dir}:\n  " + "\n  ".join(line for line in lines if line)


async def _run(tmp_path: Path, infra: str, faults: tuple[str, ...], seed: int, deadline_s: float = 25) -> RunResult:
    if infra == "real":
        require_real_services()
    config = RunConfig(0, seed, infra, faults, tmp_path / "chaos", drain_deadline_s=deadline_s, hold_s=SHORT_HOLD_S)
    return await run_once(config)


def _assert_nothing_lost_or_doubled(result: RunResult, faults: tuple[str, ...]) -> None:
    assert result.ok, _explain(result)
    assert result.verdict is not None
    assert result.verdict.accepted > 50  # the faults landed mid-stream, not on an idle system
    assert result.verdict.stored == result.verdict.accepted
    assert len(result.injected) == len(faults)


@pytest.mark.real_services
async def test_kill_9_of_mosquitto_gateway_and_edge_loses_nothing(tmp_path: Path) -> None:
    """The real Mosquitto (own port, own persistence) and the gateway on PostgreSQL (own schema)."""
    faults = FAMILIES["process"]
    _assert_nothing_lost_or_doubled(await _run(tmp_path, "real", faults, 11), faults)


async def test_the_embedded_broker_dying_and_cut_reset_links_lose_nothing(tmp_path: Path) -> None:
    """amqtt drops in-flight QoS 1 when it dies: the edge's outbox has to cover it."""
    faults = ("kill_broker", "link_cut", "link_reset")
    _assert_nothing_lost_or_doubled(await _run(tmp_path, "embedded", faults, 21), faults)


async def test_a_misbehaving_device_and_a_locked_database_lose_nothing(tmp_path: Path) -> None:
    """Late answers with a wrong transaction id, exception responses, a reboot that resets the mailbox and the
    counters; then another process holds SQLite's write lock ("database is locked")."""
    faults = ("device_late_wrong_tid", "device_exception", "device_reboot", "db_locked")
    _assert_nothing_lost_or_doubled(await _run(tmp_path, "embedded", faults, 31), faults)


async def test_a_full_disk_on_the_edge_loses_nothing_and_the_edge_recovers(tmp_path: Path) -> None:
    """SQLite's "database or disk is full" while the sorter keeps sorting: the mailbox records stay on the device
    until the outbox can take them, the uplink backs off, and once the disk has room the edge drains and takes new
    events again."""
    result = await _run(tmp_path, "embedded", ("disk_full",), 51, deadline_s=6)
    assert result.error is None, _explain(result)
    verdict = result.verdict
    assert verdict is not None
    assert (verdict.lost, verdict.duplicates, verdict.regressed, verdict.tampered) == (0, 0, 0, 0), _explain(result)
    assert verdict.recovered, _explain(result)
    assert result.ok, _explain(result)


async def _lab_run(tmp_path: Path, infra: str, faults: tuple[str, ...], seed: int) -> RunResult:
    if infra == "real":
        require_real_services()
    config = RunConfig(0, seed, infra, faults, tmp_path / "chaos", hold_s=SHORT_HOLD_S, path="lab")
    return await run_once(config)


def _assert_lab_run_ends_as_undisturbed(result: RunResult, faults: tuple[str, ...]) -> None:
    assert result.ok, _explain(result)
    assert result.verdict is not None
    assert result.verdict.accepted > 100  # the plan was reported while the faults landed
    assert (result.verdict.stored, result.verdict.regressed) == (result.verdict.accepted, 0)
    assert len(result.injected) == len(faults)


async def test_the_lab_systems_hl7_path_survives_the_gateway_and_projector_killed(tmp_path: Path) -> None:
    """HL7 over MLLP from the lab system while kill -9 hits the gateway, then the projector process (the gateway
    runs with WARDLINK_PROJECTOR=false), then the MLLP link is reset: every message is answered AA once the
    gateway is back, every planned event is stored once, every specimen ends as in an undisturbed run."""
    faults = ("kill_gateway", "kill_projector", "link_reset")
    _assert_lab_run_ends_as_undisturbed(await _lab_run(tmp_path, "embedded", faults, 61), faults)


@pytest.mark.real_services
async def test_the_lab_systems_hl7_path_on_postgresql_survives_a_lock_and_a_cut_link(tmp_path: Path) -> None:
    """PostgreSQL's events table locked by another connection (the listener answers AR 207, the lab system sends
    again), the MLLP link cut, the gateway killed: the same end state as an undisturbed run."""
    faults = ("db_locked", "link_cut", "kill_gateway")
    _assert_lab_run_ends_as_undisturbed(await _lab_run(tmp_path, "real", faults, 71), faults)


@pytest.mark.real_services
async def test_two_gateways_sharing_the_stream_lose_nothing_when_one_is_killed(tmp_path: Path) -> None:
    """Two gateways on one PostgreSQL schema share the edge's events (MQTT 5 shared subscription on Mosquitto);
    kill -9 of the second mid-stream: what it had in flight is resent by the edge and taken by either."""
    faults = ("kill_replica", "kill_replica")
    _assert_nothing_lost_or_doubled(await _run(tmp_path, "real", faults, 81), faults)


async def test_tube_carriers_with_specimens_lose_nothing_when_the_edge_and_gateway_die(tmp_path: Path) -> None:
    """The tube system's controller (its mailbox of trip records) behind the edge; kill -9 of the edge, then of the
    gateway, while carriers with specimens travel: every record stored once, every specimen where its trip says."""
    faults = ("kill_edge", "kill_gateway")
    config = RunConfig(0, 91, "embedded", faults, tmp_path / "chaos", hold_s=SHORT_HOLD_S, path="tubes")
    result = await run_once(config)
    assert result.ok, _explain(result)
    assert result.verdict is not None
    assert result.verdict.accepted > 30
    assert result.verdict.stored == result.verdict.accepted


async def test_a_cabinet_losing_power_mid_removal_and_a_killed_edge_lose_nothing(tmp_path: Path) -> None:
    """A smart medication cabinet on MQTT (vendor JSON) with a busy ward's removals: kill -9 of the cabinet (a power
    loss, back with new activity), then of the edge: every movement the edge accepted is stored once."""
    faults = ("device_reboot", "kill_edge")
    config = RunConfig(0, 101, "embedded", faults, tmp_path / "chaos", hold_s=SHORT_HOLD_S, path="cabinet")
    result = await run_once(config)
    assert result.ok, _explain(result)
    assert result.verdict is not None
    assert result.verdict.accepted > 30
    assert result.verdict.stored == result.verdict.accepted


async def test_a_robot_mid_delivery_survives_its_edge_and_its_own_power_killed(tmp_path: Path) -> None:
    """A VDA 5050 robot carrying the deliveries the runner dispatches; kill -9 of the edge (its master control), of
    the robot (a power loss mid-trip: back at a dock without its order), then a cut MQTT link, each while a delivery
    is under way: every event the edge accepted is stored once, and every delivery ends handed over (after arriving)
    or failed with a reason, never stuck on its way."""
    faults = ("kill_edge", "device_reboot", "link_cut")
    config = RunConfig(0, 111, "embedded", faults, tmp_path / "chaos", hold_s=SHORT_HOLD_S, path="robots")
    result = await run_once(config)
    assert result.ok, _explain(result)
    assert result.verdict is not None
    assert result.verdict.stored == result.verdict.accepted
    assert result.verdict.deliveries.get("delivery.handed_over", 0) >= 1, _explain(result)
    assert result.verdict.deliveries.get("unfinished", 0) == 0, _explain(result)
    assert len(result.injected) == len(faults)
