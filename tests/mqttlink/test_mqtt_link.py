"""The one MQTT link: reconnects and resubscribes when the broker drops it, backs off capped and jittered, stops
cleanly; and it is the only place that builds an `aiomqtt.Client`."""

import ast
import asyncio
import random
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import pytest

from mqttlink import Backoff, MqttLink, NotConnectedError, Subscription
from tests.chaos.proxy import Link
from tests.chaos.toxics import ResetPeer
from tests.infra import REAL_MQTT_URL, require_real_services
from tests.paths import ROOT
from wardlink.broker import EmbeddedBroker


@dataclass
class Broker:
    url: str
    drop: Callable[[str], Awaitable[None]]
    """Make the broker drop the link's connection (by its client id), as a broker restart or a takeover would."""


@asynccontextmanager
async def amqtt_broker() -> AsyncIterator[Broker]:
    # amqtt neither drops a client whose id connects again nor shuts down while clients are connected: its
    # connections are reset in a proxy in front of it instead.
    async with EmbeddedBroker() as broker:
        proxy = Link("broker", (broker.host, broker.port or 0))
        await proxy.start()

        async def reset(_identifier: str) -> None:
            proxy.add(ResetPeer())
            proxy.remove("reset_peer")

        try:
            yield Broker(f"mqtt://127.0.0.1:{proxy.port}", reset)
        finally:
            await proxy.stop()


@asynccontextmanager
async def mosquitto() -> AsyncIterator[Broker]:
    require_real_services()

    async def take_over(identifier: str) -> None:
        # A second client with the same id: Mosquitto drops the first one (MQTT 3.1.1, 3.1.4-2).
        async with aiomqtt.Client("127.0.0.1", 1883, identifier=identifier):
            pass

    yield Broker(REAL_MQTT_URL, take_over)


@pytest.fixture(params=["amqtt", pytest.param("mosquitto", marks=pytest.mark.real_services)])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    """The embedded amqtt broker (its connections reset) and the real Mosquitto (dropped by a session takeover)."""
    async with amqtt_broker() if request.param == "amqtt" else mosquitto() as value:
        yield value


def quick() -> Backoff:
    """Retries within a test's patience."""
    return Backoff(initial=0.05, cap=0.2)


def topic() -> str:
    return f"t{uuid.uuid4().hex[:12]}/link"


async def next_message(messages: AsyncIterator[aiomqtt.Message], timeout_s: float = 10) -> aiomqtt.Message:
    async with asyncio.timeout(timeout_s):
        return await anext(messages)


# -- backoff -----------------------------------------------------------------------------------------------------
def test_backoff_doubles_up_to_its_cap_and_each_delay_is_jittered_below_its_step() -> None:
    backoff = Backoff(initial=0.1, cap=1.0, random=random.Random(7).random)
    delays = [backoff.next_delay() for _ in range(40)]
    steps = [0.1, 0.2, 0.4, 0.8] + [1.0] * 36
    assert all(step / 2 <= delay <= step for delay, step in zip(delays, steps, strict=True))
    assert len({round(d, 6) for d in delays[4:]}) > 30, "capped delays still spread"
    backoff.reset()
    assert backoff.next_delay() <= 0.1


def test_backoff_without_jitter_is_the_plain_capped_doubling() -> None:
    backoff = Backoff(initial=0.5, cap=3.0, jitter=0)
    assert [backoff.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_backoff_never_exceeds_its_cap_even_when_it_starts_above() -> None:
    assert Backoff(initial=60, cap=30, jitter=0).next_delay() == 30


@pytest.mark.parametrize(("initial", "cap", "jitter"), [(0, 1, 0.5), (1, 0, 0.5), (1, 2, 1.5), (1, 2, -0.1)])
def test_backoff_refuses_nonsense(initial: float, cap: float, jitter: float) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(initial=initial, cap=cap, jitter=jitter)


# -- the link ----------------------------------------------------------------------------------------------------
async def test_it_reconnects_and_resubscribes_after_the_broker_drops_it(broker: Broker) -> None:
    here = topic()
    identifier = f"link-test-{uuid.uuid4().hex[:8]}"
    connects: list[int] = []
    drops: list[Exception] = []

    async def connected(link: MqttLink) -> None:
        connects.append(len(connects) + 1)
        await link.publish(f"{here}/birth", str(len(connects)).encode(), qos=1)

    async def dropped(error: Exception) -> None:
        drops.append(error)

    link = MqttLink(
        broker.url,
        identifier=identifier,
        subscriptions=[Subscription(f"{here}/#", qos=1)],
        backoff=quick(),
        on_connect=connected,
        on_disconnect=dropped,
    )
    async with link:
        messages = aiter(link.messages)
        first = await next_message(messages)
        assert (str(first.topic), first.payload) == (f"{here}/birth", b"1")

        await broker.drop(identifier)
        # The same iterator goes on: the birth of the second connection comes through the renewed subscription.
        second = await next_message(messages, timeout_s=20)
        assert (str(second.topic), second.payload) == (f"{here}/birth", b"2")
        assert connects == [1, 2]
        assert len(drops) == 1
        assert isinstance(drops[0], aiomqtt.MqttError)
        assert link.connected.is_set()

        await link.publish(f"{here}/after", b"still subscribed", qos=1)
        third = await next_message(messages)
        assert (str(third.topic), third.payload) == (f"{here}/after", b"still subscribed")


async def test_a_broker_that_is_not_there_is_retried_with_the_backoff_until_it_is() -> None:
    broker = EmbeddedBroker()
    await broker.start()
    url = broker.url
    await broker.stop()
    drops: list[Exception] = []

    async def dropped(error: Exception) -> None:
        drops.append(error)
        if len(drops) == 3:
            await broker.start()

    async with MqttLink(url, backoff=quick(), on_disconnect=dropped) as link:
        assert link.connected.is_set()
    await broker.stop()
    assert len(drops) == 3
    assert all(isinstance(error, aiomqtt.MqttError) for error in drops)


async def test_a_clean_stop_says_goodbye_instead_of_the_last_will_and_ends_messages() -> None:
    async with EmbeddedBroker() as broker:
        state = f"{topic()}/state"
        async with MqttLink(broker.url, subscriptions=[Subscription(state, qos=1)]) as watcher:
            watched = aiter(watcher.messages)

            async def goodbye(link: MqttLink) -> None:
                await link.publish(state, b"offline (goodbye)", qos=1)

            link = MqttLink(
                broker.url,
                subscriptions=[Subscription(f"{topic()}/quiet", qos=1)],
                will=aiomqtt.Will(state, b"offline (last will)", qos=1),
                on_stop=goodbye,
            )
            async with link:
                messages = aiter(link.messages)
                reading = asyncio.create_task(anext(messages, "ended"))
            assert await asyncio.wait_for(reading, 10) == "ended"
            assert not link.connected.is_set()
            assert (await next_message(watched)).payload == b"offline (goodbye)"
            with pytest.raises(NotConnectedError):
                await link.publish(state, b"too late")
            # Nothing else came: no Last Will after a clean DISCONNECT.
            await watcher.publish(state, b"marker", qos=1)
            assert (await next_message(watched)).payload == b"marker"


async def test_a_cut_link_leaves_its_last_will_and_comes_back_and_run_stops_on_cancel() -> None:
    async with EmbeddedBroker() as broker:
        state = f"{topic()}/state"
        async with MqttLink(broker.url, subscriptions=[Subscription(state, qos=1)]) as watcher:
            watched = aiter(watcher.messages)
            connects: list[str] = []
            goodbyes: list[str] = []

            async def connected(link: MqttLink) -> None:
                connects.append("up")
                await link.publish(state, b"online", qos=1)

            async def goodbye(link: MqttLink) -> None:
                goodbyes.append("bye")
                await link.publish(state, b"offline (goodbye)", qos=1)

            link = MqttLink(
                broker.url,
                will=lambda: aiomqtt.Will(state, f"offline (last will {len(connects) + 1})".encode(), qos=1),
                backoff=quick(),
                on_connect=connected,
                on_stop=goodbye,
            )
            running = asyncio.create_task(link.run())
            assert (await next_message(watched)).payload == b"online"
            link.cut()
            assert (await next_message(watched)).payload == b"offline (last will 1)"
            assert (await next_message(watched)).payload == b"online"  # reconnected by itself
            assert connects == ["up", "up"]

            running.cancel()
            with pytest.raises(asyncio.CancelledError):
                await running
            assert (await next_message(watched)).payload == b"offline (goodbye)"
            assert goodbyes == ["bye"]


async def test_work_bound_to_a_connection_is_cancelled_when_it_drops_and_its_failure_reconnects() -> None:
    class DiskFullError(Exception):
        pass

    sessions: list[str] = []
    drops: list[Exception] = []

    async def session(link: MqttLink) -> None:
        sessions.append("started")
        if len(sessions) == 1:
            raise DiskFullError("no room")  # one of `retry_on`: start over like after a lost link
        await asyncio.Event().wait()

    async def dropped(error: Exception) -> None:
        drops.append(error)

    async with EmbeddedBroker() as broker:
        link = MqttLink(
            broker.url,
            backoff=quick(),
            retry_on=(DiskFullError,),
            while_connected=session,
            on_disconnect=dropped,
        )
        async with link:
            for _ in range(200):
                if len(sessions) == 2 and link.connected.is_set():
                    break
                await asyncio.sleep(0.05)
            assert sessions == ["started", "started"]
            assert [type(error) for error in drops] == [DiskFullError]


async def test_an_error_a_hook_raises_that_is_not_retried_ends_the_link() -> None:
    class RefusedError(RuntimeError):
        pass

    async def refuse(_link: MqttLink) -> None:
        raise RefusedError("this broker cannot serve us")

    async with EmbeddedBroker() as broker:
        link = MqttLink(broker.url, on_connect=refuse)
        with pytest.raises(RefusedError, match="cannot serve us"):
            async with link:
                pass
        assert not link.connected.is_set()
        with pytest.raises(RefusedError):
            async for _ in link.messages:
                pass


async def test_the_links_socket_sends_small_packets_at_once() -> None:
    async with EmbeddedBroker() as broker, MqttLink(broker.url) as link:
        raw = link._client._client.socket() if link._client is not None else None
        assert isinstance(raw, socket.socket)
        assert raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


# -- the architecture --------------------------------------------------------------------------------------------
def _our_modules() -> list[Path]:
    packages = [p for p in ROOT.iterdir() if (p / "__init__.py").is_file() and p.name != "tests"]
    return sorted(path for package in packages for path in package.rglob("*.py"))


def _builds_a_client(path: Path) -> bool:
    """Whether the module calls `aiomqtt.Client(...)`, however it imported aiomqtt or its `Client`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    modules: set[str] = set()
    classes: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(a.asname or a.name for a in node.names if a.name == "aiomqtt")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "aiomqtt":
            classes.update(a.asname or a.name for a in node.names if a.name == "Client")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "Client" and isinstance(func.value, ast.Name):
            if func.value.id in modules:
                return True
        elif isinstance(func, ast.Name) and func.id in classes:
            return True
    return False


def test_only_the_link_builds_an_aiomqtt_client() -> None:
    builders = {str(path.relative_to(ROOT)) for path in _our_modules() if _builds_a_client(path)}
    assert builders == {"mqttlink/link.py"}


def test_the_client_finder_sees_every_spelling(tmp_path: Path) -> None:
    spellings = {
        "import aiomqtt\naiomqtt.Client('h')\n": True,
        "import aiomqtt as mq\nmq.Client('h')\n": True,
        "from aiomqtt import Client\nClient('h')\n": True,
        "from aiomqtt.client import Client as C\nC('h')\n": True,
        "import aiomqtt\nx: aiomqtt.Client\n": False,  # naming the type builds nothing
    }
    for n, (source, builds) in enumerate(spellings.items()):
        path = tmp_path / f"m{n}.py"
        path.write_text(source)
        assert _builds_a_client(path) is builds, source


def test_mqttlink_imports_nothing_else_of_ours() -> None:
    ours = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()} - {"mqttlink"}
    imported: dict[str, set[str]] = {}
    for path in (ROOT / "mqttlink").rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        imported[path.name] = names & ours
    assert {name: bad for name, bad in imported.items() if bad} == {}
