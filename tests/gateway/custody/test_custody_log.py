"""The custody log as evidence: chained records in commit order, and `verify` catching every kind of tampering.

Stores tests run on an empty SQLite file and an empty PostgreSQL schema; the command line runs as a real process.
"""

import asyncio
import dataclasses
import hashlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from contract import Event, Subject, new_event
from gateway.composition.stores import Stores
from gateway.custody.log import GENESIS_HASH, CustodyFields, canonical_json, record_hash
from gateway.custody.verify import AuditReport, verify_custody_log
from gateway.settings import GatewaySettings
from gateway.storage.tables import custody_log, events
from tests.auth import in_process
from tests.cli import cli_env, wardlink

SITE, EDGE = "general-hospital", "ward-edge"
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def custody_event(kind: str, subject: str, seq: int, at: datetime, **data: Any) -> Event:
    """A received event about `subject`, of a custody kind (specimen, carrier, delivery, cabinet)."""
    defaults: dict[str, dict[str, Any]] = {
        "specimen.collected": {"priority": "stat", "category": "blood-gas", "ward": "ward-3a", "badge": "B100"},
        "carrier.dispatched": {"transaction": seq, "from_station": "st-3a", "to_station": "st-lab"},
        "delivery.loaded": {"robot": "robot-1", "drawer": "d1", "badge": "B200"},
        "cabinet.door_opened": {"badge": "B300"},
    }
    subject_kind = kind.split(".")[0]
    event = new_event(
        kind,
        seq=seq,
        site=SITE,
        edge=EDGE,
        device="cabinet-1" if subject_kind == "cabinet" else "station-1",
        subject=Subject(kind=subject_kind, id=subject),  # type: ignore[arg-type]
        occurred_at=at,
        data={**defaults.get(kind, {}), **data},
    )
    return event.model_copy(update={"received_at": at + timedelta(seconds=2)})


def device_event(seq: int, at: datetime) -> Event:
    event = new_event(
        "device.offline",
        seq=seq,
        site=SITE,
        edge=EDGE,
        device="sorter-1",
        subject=Subject(kind="device", id="sorter-1"),
        occurred_at=at,
        data={"reason": "modbus timeout"},
    )
    return event.model_copy(update={"received_at": at})


def first_batch() -> list[Event]:
    return [
        custody_event("carrier.dispatched", "C7", 3, T0 + timedelta(minutes=2), specimens=["S1"]),
        custody_event("specimen.collected", "S1", 1, T0),
        device_event(2, T0 + timedelta(minutes=1)),  # health, not custody: no record
        custody_event("delivery.loaded", "D1", 4, T0 + timedelta(minutes=2)),
    ]


def second_batch() -> list[Event]:
    # Happened before the first batch, committed after it: records follow commit order, not occurred_at.
    return [
        custody_event("cabinet.door_opened", "cabinet-1", 6, T0 - timedelta(minutes=5)),
        custody_event("specimen.collected", "S2", 5, T0 - timedelta(minutes=10)),
    ]


async def records(store: Stores) -> list[Any]:
    async with store.db.engine.connect() as connection:
        return list(await connection.execute(sa.select(custody_log).order_by(custody_log.c.position)))


async def verify(store: Stores) -> AuditReport:
    async with store.db.engine.connect() as connection:
        return await verify_custody_log(connection)


async def execute(store: Stores, *statements: sa.Executable) -> None:
    async with store.db.engine.begin() as connection:
        for statement in statements:
            await connection.execute(statement)


@pytest.fixture
async def chained(store: Stores) -> list[Event]:
    """Five custody records from two batches, in the order they were appended."""
    one, two = first_batch(), second_batch()
    await store.events.commit_batch(one)
    await store.events.commit_batch(two)

    def order(e: Event) -> tuple[datetime, int, str]:
        return (e.occurred_at, e.seq, str(e.id))

    return [*sorted((e for e in one if e.subject.kind != "device"), key=order), *sorted(two, key=order)]


# -- the chain ---------------------------------------------------------------------------------------------------
async def test_each_custody_event_gets_one_record_chained_to_the_one_before_in_commit_order(
    store: Stores, chained: list[Event]
) -> None:
    rows = await records(store)
    assert [r.position for r in rows] == [1, 2, 3, 4, 5]
    assert [r.event_id for r in rows] == [e.id for e in chained]
    assert [(r.subject_kind, r.subject_id, r.type) for r in rows] == [
        (e.subject.kind, e.subject.id, e.type) for e in chained
    ]
    assert [r.prev_hash for r in rows] == [GENESIS_HASH, *(r.hash for r in rows[:-1])]
    for row, event in zip(rows, chained, strict=True):
        body = json.dumps(event.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        assert row.body_sha256 == hashlib.sha256(body.encode()).hexdigest()
        assert row.occurred_at == event.occurred_at
        assert row.hash == record_hash(row.prev_hash, CustodyFields.of(row))
    assert (await verify(store)).intact


async def test_duplicates_and_non_custody_events_add_no_record(store: Stores, chained: list[Event]) -> None:
    before = await records(store)
    await store.events.commit_batch([*chained[:2], device_event(9, T0 + timedelta(hours=1))])
    assert await records(store) == before


async def test_a_clean_chain_passes_and_reports_its_head(store: Stores, chained: list[Event]) -> None:
    report = await verify(store)
    head = (await records(store))[-1]
    assert (report.intact, report.problems, report.records) == (True, [], 5)
    assert (report.head_position, report.head_hash) == (5, head.hash)
    assert report.summary().startswith("custody log intact: 5 record(s)")


async def test_an_empty_log_is_intact(store: Stores) -> None:
    report = await verify(store)
    assert (report.intact, report.records, report.head_position) == (True, 0, None)


async def test_gateway_replicas_committing_at_once_extend_one_unbroken_chain(
    store: Stores, gateway_settings: GatewaySettings
) -> None:
    replica = await Stores.open(gateway_settings)
    try:

        async def commit(target: Stores, n: int) -> None:
            # Deliveries and cabinets: batches that no other projection serialises.
            kind, subject = ("delivery.loaded", f"D{n}") if n % 3 else ("cabinet.door_opened", f"cabinet-{n}")
            batch = [custody_event(kind, subject, n * 10 + k, T0 + timedelta(seconds=k)) for k in range(3)]
            await target.events.commit_batch(batch)

        await asyncio.gather(*(commit(store if n % 2 else replica, n) for n in range(1, 21)))
    finally:
        await replica.close()
    rows = await records(store)
    assert [r.position for r in rows] == list(range(1, 61))
    report = await verify(store)
    assert report.intact, report.problems


async def test_events_stored_before_the_log_existed_are_recorded_first(store: Stores) -> None:
    old = [custody_event("specimen.collected", "OLD1", 1, T0), custody_event("cabinet.door_opened", "cabinet-1", 2, T0)]
    async with store.db.engine.begin() as connection:  # as a database upgraded from before the custody log holds them
        await connection.execute(
            sa.insert(events),
            [
                {
                    "id": e.id,
                    "site": e.site,
                    "edge": e.edge,
                    "seq": e.seq,
                    "device": e.device,
                    "subject_kind": e.subject.kind,
                    "subject_id": e.subject.id,
                    "type": e.type,
                    "occurred_at": e.occurred_at,
                    "received_at": e.received_at,
                    "body": e.model_dump(mode="json"),
                }
                for e in old
            ],
        )
    assert [p.kind for p in (await verify(store)).problems] == ["unrecorded", "unrecorded"]
    new = custody_event("specimen.collected", "NEW1", 3, T0 - timedelta(hours=1))
    await store.events.commit_batch([new])
    assert [r.subject_id for r in await records(store)] == ["OLD1", "cabinet-1", "NEW1"]
    assert (await verify(store)).intact


def test_canonical_json_ignores_key_order_spacing_and_integral_float_spelling() -> None:
    assert canonical_json({"b": 1.0, "a": [1, 2.5, {"y": None, "x": True}]}) == canonical_json(
        {"a": [1.0, 2.5, {"x": True, "y": None}], "b": 1}
    )
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"\\u00e9","b":1}'
    assert canonical_json({"a": 0.1}) != canonical_json({"a": 0.10000000000000002})


# -- tampering ---------------------------------------------------------------------------------------------------
Tamper = Callable[[Stores, list[Any]], Awaitable[None]]


async def edit_a_record_field(store: Stores, rows: list[Any]) -> None:
    await execute(store, sa.update(custody_log).where(custody_log.c.position == 3).values(subject_id="D999"))


async def edit_a_record_time(store: Stores, rows: list[Any]) -> None:
    moved = rows[2].occurred_at - timedelta(minutes=30)
    await execute(store, sa.update(custody_log).where(custody_log.c.position == 3).values(occurred_at=moved))


async def edit_an_event_body(store: Stores, rows: list[Any]) -> None:
    async with store.db.engine.begin() as connection:
        body = (await connection.execute(sa.select(events.c.body).where(events.c.id == rows[2].event_id))).scalar_one()
        body["data"]["badge"] = "B666"  # someone else loaded the robot, says the edited body
        await connection.execute(sa.update(events).where(events.c.id == rows[2].event_id).values(body=body))


async def delete_a_record(store: Stores, rows: list[Any]) -> None:
    await execute(store, sa.delete(custody_log).where(custody_log.c.position == 3))


async def delete_a_record_and_its_event(store: Stores, rows: list[Any]) -> None:
    await execute(
        store,
        sa.delete(custody_log).where(custody_log.c.position == 3),
        sa.delete(events).where(events.c.id == rows[2].event_id),
    )


async def delete_an_event(store: Stores, rows: list[Any]) -> None:
    await execute(store, sa.delete(events).where(events.c.id == rows[2].event_id))


async def swap_two_records(store: Stores, rows: list[Any]) -> None:
    # A record's place in the chain is its place in its site's chain (`site_position`); its key moves along.
    c = custody_log.c
    await execute(
        store,
        sa.update(custody_log).where(c.position == 2).values(position=-2, site_position=-2),
        sa.update(custody_log).where(c.position == 4).values(position=2, site_position=2),
        sa.update(custody_log).where(c.position == -2).values(position=4, site_position=4),
    )


async def rewrite_a_record_with_a_fresh_hash(store: Stores, rows: list[Any]) -> None:
    # A careful forger recomputes the edited record's hash: the next record's link still gives it away.
    row = rows[2]
    digest = record_hash(row.prev_hash, dataclasses.replace(CustodyFields.of(row), subject_id="D999"))
    await execute(
        store, sa.update(custody_log).where(custody_log.c.position == 3).values(subject_id="D999", hash=digest)
    )


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (edit_a_record_field, [("edited", 3), ("edited", 3)]),  # the hash, and the event's own subject disagree
        (edit_a_record_time, [("edited", 3), ("edited", 3)]),
        (edit_an_event_body, [("edited", 3)]),
        (delete_a_record, [("unrecorded", None), ("removed", 3)]),
        (delete_a_record_and_its_event, [("removed", 3)]),
        (delete_an_event, [("removed", 3)]),
        (swap_two_records, [("reordered", 2), ("reordered", 3), ("reordered", 4), ("reordered", 5)]),
        (rewrite_a_record_with_a_fresh_hash, [("edited", 3), ("removed", 4)]),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
async def test_verify_names_every_tampering(
    store: Stores, chained: list[Event], tamper: Tamper, expected: list[tuple[str, int | None]]
) -> None:
    await tamper(store, await records(store))
    report = await verify(store)
    assert [(p.kind, p.position) for p in report.problems] == expected, report.problems
    assert not report.intact
    assert report.summary().startswith("custody log NOT intact")


async def test_a_tampered_log_stays_detectable_as_the_chain_grows(store: Stores, chained: list[Event]) -> None:
    await edit_an_event_body(store, await records(store))
    await store.events.commit_batch([custody_event("specimen.collected", "S9", 20, T0 + timedelta(hours=1))])
    report = await verify(store)
    assert [(p.kind, p.position) for p in report.problems] == [("edited", 3)]
    assert report.records == 6


# -- the API -----------------------------------------------------------------------------------------------------
@pytest.fixture
async def api(gateway_settings: GatewaySettings, store: Stores) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(gateway_settings, store) as client:
        yield client


async def test_a_subjects_records_come_with_their_hashes(
    api: httpx.AsyncClient, store: Stores, chained: list[Event]
) -> None:
    await store.events.commit_batch(
        [custody_event("specimen.collected", "S1", 30, T0 + timedelta(hours=2), badge="B101")]
    )
    response = await api.get("/api/v1/custody/specimen/S1")
    assert response.status_code == 200
    body = response.json()
    rows = {r.position: r for r in await records(store)}
    assert (body["subject_kind"], body["subject_id"], body["count"]) == ("specimen", "S1", 2)
    assert [r["position"] for r in body["data"]] == [1, 6]
    assert [r["data"]["badge"] for r in body["data"]] == ["B100", "B101"]
    for record in body["data"]:
        row = rows[record["position"]]
        assert (record["hash"], record["prev_hash"], record["body_sha256"]) == (
            row.hash,
            row.prev_hash,
            row.body_sha256,
        )
        assert record["event_id"] == str(row.event_id)


async def test_verify_over_http_gives_the_same_verdict(
    api: httpx.AsyncClient, store: Stores, chained: list[Event]
) -> None:
    clean = (await api.get("/api/v1/custody/verify")).json()
    assert (clean["intact"], clean["records"], clean["problems"]) == (True, 5, [])
    await delete_a_record(store, await records(store))
    tampered = (await api.get("/api/v1/custody/verify")).json()
    assert tampered["intact"] is False
    assert [(p["kind"], p["position"]) for p in tampered["problems"]] == [("unrecorded", None), ("removed", 3)]


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/api/v1/custody/specimen/S404", 404, "no custody record for specimen S404 yet"),
        ("/api/v1/custody/robot/robot-1", 422, "subject_kind: Input should be"),
    ],
)
async def test_custody_errors_are_problem_details(api: httpx.AsyncClient, path: str, status: int, says: str) -> None:
    response = await api.get(path)
    assert (response.status_code, response.headers["content-type"]) == (status, "application/problem+json")
    assert says in response.json()["detail"]


# -- the command line --------------------------------------------------------------------------------------------
async def audit_verify(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    return await wardlink(env, "audit", "verify", *args)


async def test_audit_verify_exits_0_on_an_intact_log_and_1_naming_each_problem(
    store: Stores, gateway_settings: GatewaySettings, chained: list[Event]
) -> None:
    env = cli_env(gateway_settings)
    status, out, err = await audit_verify(env)
    assert (status, err) == (0, "")
    assert "custody log intact: 5 record(s)" in out

    await edit_a_record_field(store, await records(store))
    status, out, _ = await audit_verify(env)
    assert status == 1
    assert "custody log NOT intact: 2 problem(s): 2 edited" in out
    assert "record 3's fields no longer match its hash" in out

    status, out, _ = await audit_verify(env, "--json")
    report = json.loads(out)
    assert (status, report["intact"], [p["kind"] for p in report["problems"]]) == (1, False, ["edited", "edited"])


async def test_audit_verify_exits_2_when_the_database_cannot_be_read(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARDLINK_")}
    missing = {**env, "WARDLINK_DATA_DIR": str(tmp_path / "nowhere")}
    status, out, err = await audit_verify(missing)
    assert (status, out) == (2, "")
    assert "no database at" in err
    assert not (tmp_path / "nowhere").exists()  # looking did not create one

    (tmp_path / "wardlink.db").write_bytes(b"")  # a file, but never migrated: no custody log in it
    status, _, err = await audit_verify({**env, "WARDLINK_DATA_DIR": str(tmp_path)})
    assert status == 2
    assert "cannot read the custody log" in err
