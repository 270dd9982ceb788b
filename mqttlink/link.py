"""One MQTT connection kept up: connect, reconnect with capped jittered backoff, resubscribe, messages, a clean stop.

    async with MqttLink("mqtt://127.0.0.1:1883", subscriptions=[Subscription("plant/#", qos=1)]) as link:
        await link.publish("plant/hello", b"hi", qos=1)
        async for message in link.messages:
            ...

`async with` returns once the link is connected and subscribed and keeps it so until the block ends: a dropped
connection is made again after a backoff, its subscriptions renewed, and `messages` goes on across it. A service
that owns its link for its whole life may `await link.run()` in a task of its own instead (cancel it, or call
`stop()`, to leave cleanly). Hooks let the owner act on the link's life, each awaited in order:

- `on_connect(link)`: connected and subscribed, before any of this connection's messages (birth messages);
- `while_connected(link)`: work bound to one connection (a publish pump), cancelled when it drops; if it fails,
  the link reconnects (an `aiomqtt.MqttError` or one of `retry_on`) or ends with the error;
- `on_disconnect(error)`: a connection attempt failed or the connection dropped, before the backoff;
- `on_stop(link)`: a clean stop, still connected (goodbye messages; none after `cut()`), at most `GOODBYE_S`.

An error a hook raises that is neither an `aiomqtt.MqttError` nor one of `retry_on` ends the link: `run()`,
`async with` and `messages` raise it.
"""

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiomqtt
from paho.mqtt.reasoncodes import ReasonCode

from mqttlink.backoff import Backoff, FailureLog
from mqttlink.url import BrokerAddress

log = logging.getLogger(__name__)

GOODBYE_S = 2.0
"""How long a clean stop waits for `on_stop`'s goodbye messages before it disconnects anyway."""

Hook = Callable[["MqttLink"], Coroutine[Any, Any, None]]


@dataclass(frozen=True, slots=True)
class Subscription:
    """A topic filter the link subscribes to on every (re)connect."""

    topic_filter: str
    qos: int = 0


class NotConnectedError(aiomqtt.MqttError):
    """A publish while the link is down; the owner waits for `connected` or lets the message go."""


class MqttLink:
    """One broker connection, kept up until stopped (see the module's docstring)."""

    def __init__(
        self,
        broker: BrokerAddress | str,
        *,
        identifier: str | Callable[[], str] | None = None,
        subscriptions: Iterable[Subscription] = (),
        will: aiomqtt.Will | Callable[[], aiomqtt.Will] | None = None,
        protocol: aiomqtt.ProtocolVersion = aiomqtt.ProtocolVersion.V311,
        keepalive: int = 15,
        timeout: float | None = None,
        max_inflight_messages: int | None = None,
        max_queued_incoming_messages: int | None = None,
        logger: logging.Logger | None = None,
        backoff: Backoff | None = None,
        label: str | None = None,
        log_failures: bool = True,
        retry_on: tuple[type[Exception], ...] = (),
        on_connect: Hook | None = None,
        while_connected: Hook | None = None,
        on_disconnect: Callable[[Exception], Awaitable[None]] | None = None,
        on_stop: Hook | None = None,
    ) -> None:
        """`identifier` and `will` may be functions, called for each connection (a fresh id, a will naming when).

        `label` names the link in logs (default: "MQTT link to <broker>"); with `log_failures=False` the owner
        reports failures itself (from `on_disconnect`). `logger` is aiomqtt's (paho's) logger.
        """
        self.broker = broker if isinstance(broker, BrokerAddress) else BrokerAddress.parse(broker)
        self.subscriptions: tuple[Subscription, ...] = tuple(subscriptions)
        self.label = label or f"MQTT link to {self.broker}"
        self._identifier = identifier
        self._will = will
        self._client_options: dict[str, Any] = {
            "protocol": protocol,
            # Always a clean session; MQTT 5 has clean start instead (paho refuses clean_session there, and the
            # default starts clean).
            "clean_session": True if protocol != aiomqtt.ProtocolVersion.V5 else None,
            "keepalive": keepalive,
            "timeout": timeout,
            "max_inflight_messages": max_inflight_messages,
            "max_queued_incoming_messages": max_queued_incoming_messages,
            "logger": logger,
        }
        self._backoff = backoff or Backoff(initial=0.2, cap=5.0)
        self._failures = FailureLog(log, self.label) if log_failures else None
        self._retry_on: tuple[type[Exception], ...] = (aiomqtt.MqttError, *retry_on)
        self._on_connect = on_connect
        self._while_connected = while_connected
        self._on_disconnect = on_disconnect
        self._on_stop = on_stop
        self.connected = asyncio.Event()
        """Set while connected and subscribed (after `on_connect`)."""
        self.granted: dict[str, Sequence[ReasonCode | int]] = {}
        """Each subscription's SUBACK codes from the latest (re)connect, by topic filter (for `on_connect` to check)."""
        self._client: aiomqtt.Client | None = None
        self._inbox: asyncio.Queue[aiomqtt.Message | None] = asyncio.Queue()
        self._stop = asyncio.Event()
        self._done = asyncio.Event()
        self._done.set()
        self._failure: BaseException | None = None
        self._runner: asyncio.Task[None] | None = None
        """`run()` as started by `async with`."""
        self._task: asyncio.Task[Any] | None = None
        """The task running `run()`."""
        self._cut = False
        self._saying_goodbye = False

    # -- the owner's side --------------------------------------------------------------------------------------
    @property
    def messages(self) -> AsyncIterator[aiomqtt.Message]:
        """Every message of the subscriptions, across reconnects; ends when the link stops, raises what ended it."""
        return self._messages()

    async def publish(
        self, topic: str, payload: bytes | str | None = None, *, qos: int = 0, retain: bool = False
    ) -> None:
        """Publish on the current connection (QoS 1 and 2: return once the broker has it); `NotConnectedError` when
        there is none."""
        client = self._client
        if client is None:
            raise NotConnectedError(f"{self.label}: not connected")
        await client.publish(topic, payload, qos=qos, retain=retain)
        if not self._saying_goodbye:
            raise_if_cancelled()

    async def run(self) -> None:
        """Keep the link until `stop()` or cancellation, then leave cleanly; raise what a hook raised that ends it."""
        if not self._done.is_set():
            raise RuntimeError(f"{self.label} is already running")
        self._done.clear()
        self._failure = None
        self._inbox = asyncio.Queue()  # a run starts afresh, as a new client does
        self._task = asyncio.current_task()
        try:
            await self._keep()
        except BaseException as exc:
            if not isinstance(exc, asyncio.CancelledError):
                self._failure = exc
            raise
        finally:
            self._inbox.put_nowait(None)  # ends `messages`
            self._task = None
            self._stop.clear()  # a stop asked before the run started ends that run; a later run starts afresh
            self._done.set()

    async def stop(self) -> None:
        """Say goodbye (`on_stop`), disconnect, end `messages`; return once the link is down."""
        self._stop.set()
        if self._done.is_set() or self._task is asyncio.current_task():
            return  # not running, or asked from inside `run` (a hook): the loop sees the stop
        done = asyncio.ensure_future(self._done.wait())
        try:
            await done
        finally:
            done.cancel()

    def cut(self) -> None:
        """Drop the connection without a DISCONNECT, as a power cut would: the broker publishes the Last Will.

        The link reconnects after its backoff unless stopped, and a stop after a cut says no goodbye.
        """
        client = self._client
        if client is None:
            return
        self._cut = True
        # aiomqtt resolves its disconnect future with an error that nobody awaits once the link moves on.
        client._disconnected.add_done_callback(lambda f: f.cancelled() or f.exception())
        sock = client._client.socket()  # no public way to die mid-connection: it is a power loss
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    async def __aenter__(self) -> "MqttLink":
        runner = asyncio.create_task(self.run(), name=self.label)
        self._runner = runner
        up = asyncio.create_task(self.connected.wait())
        try:
            await asyncio.wait({runner, up}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            raise
        finally:
            up.cancel()
        if runner.done():
            runner.result()  # what ended it
            raise NotConnectedError(f"{self.label}: stopped before it connected")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
        runner, self._runner = self._runner, None
        if runner is not None and runner.done() and not runner.cancelled():
            failure = runner.exception()  # retrieved here, or asyncio would log it as never retrieved
            if failure is not None and exc_type is None:
                raise failure

    # -- keeping the link --------------------------------------------------------------------------------------
    async def _keep(self) -> None:
        while not self._stop.is_set():
            error: Exception | None = None
            try:
                await self._connection()
            except* self._retry_on as errors:
                error = _first(errors)
            if error is None:
                return  # stopped
            if _cancelling():
                # A failure that raced a cancellation (a TaskGroup reports the failure, not the cancellation):
                # keep the stop.
                raise asyncio.CancelledError
            if self._on_disconnect is not None:
                await self._on_disconnect(error)
            if self._failures is not None and isinstance(error, aiomqtt.MqttError):
                self._failures.failed(str(error))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._backoff.next_delay()):
                    await self._stop.wait()

    async def _connection(self) -> None:
        """One connection, from connect to its end: returns on a stop, raises why it ended otherwise."""
        identifier = self._identifier() if callable(self._identifier) else self._identifier
        client = aiomqtt.Client(
            **self.broker.client_kwargs(),
            identifier=identifier,
            will=self._will() if callable(self._will) else self._will,
            **self._client_options,
        )
        async with client:
            self._cut = False
            for subscription in self.subscriptions:
                granted = await client.subscribe(subscription.topic_filter, qos=subscription.qos)
                self.granted[subscription.topic_filter] = granted or []
            raise_if_cancelled()  # one aiomqtt swallowed while connecting or subscribing (see `raise_if_cancelled`)
            self._client = client
            try:
                if self._on_connect is not None:
                    await self._on_connect(self)
                if self._failures is not None:
                    self._failures.recovered()
                self._backoff.reset()
                self.connected.set()
                log.debug("%s: connected as %s", self.label, client.identifier)
                await self._serve(client)
            finally:
                self.connected.clear()
                if (self._stop.is_set() or _cancelling()) and not self._cut:
                    await self._goodbye()
                self._client = None

    async def _serve(self, client: aiomqtt.Client) -> None:
        """Hand messages on and run `while_connected` until a stop (return) or the connection's end (raise)."""
        pump = asyncio.create_task(self._pump(client), name=f"{self.label}: messages")
        stop = asyncio.create_task(self._stop.wait())
        # `while_connected` in a task of its own: when a TaskGroup's child fails, Python 3.11 cancels the group's
        # parent task and never uncancels it, which would make this task read as stopping.
        session = (
            asyncio.create_task(self._while_connected(self), name=f"{self.label}: session")
            if self._while_connected is not None
            else None
        )
        waiting: set[asyncio.Task[Any]] = {pump, stop} | ({session} if session is not None else set())
        try:
            while True:
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if done == {session} and session is not None and not session.cancelled() and not session.exception():
                    waiting.discard(session)  # its work is done; the connection stays
                    continue
                break
        finally:
            for task in waiting:
                task.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)
        for ended in (session, pump):
            if ended is not None and ended.done() and not ended.cancelled() and (error := ended.exception()):
                raise error

    async def _pump(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            self._inbox.put_nowait(message)

    async def _goodbye(self) -> None:
        if self._on_stop is None:
            return
        self._saying_goodbye = True
        try:
            async with asyncio.timeout(GOODBYE_S):
                await self._on_stop(self)
        except (aiomqtt.MqttError, TimeoutError) as exc:
            log.debug("%s: no goodbye on stopping: %s", self.label, exc)
        finally:
            self._saying_goodbye = False

    async def _messages(self) -> AsyncIterator[aiomqtt.Message]:
        while True:
            message = await self._inbox.get()
            if message is None:
                self._inbox.put_nowait(None)  # for any other reader
                if self._failure is not None:
                    raise self._failure
                return
            yield message


def raise_if_cancelled() -> None:
    """Honour a cancellation that aiomqtt swallowed.

    aiomqtt 2 waits for a PUBACK (SUBACK, CONNACK) with `asyncio.wait_for`, which on Python 3.11 returns the result
    when the answer and a cancellation arrive in the same loop iteration and drops the `CancelledError` (the task
    stays `cancelling()`). A loop that carried on would never stop. `MqttLink.publish` calls this after each publish;
    call it after publishes gathered in tasks of their own.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling() > 0:
        raise asyncio.CancelledError


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _first(errors: BaseExceptionGroup[Exception]) -> Exception:
    """The first error of a (possibly nested) exception group."""
    first: BaseException = errors
    while isinstance(first, BaseExceptionGroup):
        first = first.exceptions[0]
    assert isinstance(first, Exception)
    return first
