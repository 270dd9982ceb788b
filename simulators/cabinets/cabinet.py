"""A ward medication cabinet as a real MQTT client speaking its vendor's JSON (MedVault MV-40, PillPort PP-7).

    async with CabinetSimulator(profile, "MV40-0231", broker_url, seed=1, speed=60) as cabinet:
        await cabinet.open_door("N-40217")
        await cabinet.remove("D1-03", 2, "N-40217", order_id="MO-0012345")
        await cabinet.close_door()

Topics come from the profile; the JSON shapes are its model's, chosen by the profile's name (`dialects`): the
MV-40's (`messages`, what `medvault-mv40.yaml` maps) or the PP-7's (`pp7`, what `pillport-pp7.yaml` maps). Times
are simulated seconds running `speed` times faster than real time; message timestamps are the cabinet clock (UTC).
Deterministic for a seed; `stock_seed` (default: `seed`) alone decides how the bins are stocked, so a cabinet
can hold the same stock whatever the traffic's seed. With `inventory_every_s` the cabinet reports its full
inventory on every connect and then every that many simulated seconds, as real cabinets do; without it, only when
asked (the INVENTORY command, `inventory()`). Faults: `warm_fridge`, door ajar (left open), `power_loss` (the
broker publishes the Last Will) and `reboot`, `malformed_frames`, `duplicate_messages`. Its parts: the MQTT
connection and journal (`link`), stamping and garbling the stream (`stream`), the JSON shapes (`dialect`,
`messages`, `pp7`), the fridge (`fridge`), the stock and badges (`stock`), all in `simulators.cabinets`.
"""

import asyncio
import contextlib
import random
from collections.abc import Callable
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any

from device_profiles import MqttJsonProfile
from mqttlink.url import BrokerAddress
from simulators.cabinets.dialect import ALARM_TEXT, CabinetCommand, Movement, Out, Reply
from simulators.cabinets.dialects import dialect_for
from simulators.cabinets.fridge import Fridge
from simulators.cabinets.link import CabinetLink
from simulators.cabinets.stock import BinStock, badges, stock_cabinet
from simulators.cabinets.stream import VendorStream
from simulators.cabinets.timers import Timers


class CabinetError(RuntimeError):
    """Something a real cabinet would not let happen (remove from a closed cabinet, more than the bin holds)."""


def _device_now() -> datetime:
    return datetime.now(UTC)


class CabinetSimulator:
    def __init__(
        self,
        profile: MqttJsonProfile,
        topic_id: str,
        broker_url: str,
        seed: int = 1,
        speed: float = 1.0,
        *,
        telemetry_interval_s: float = 30.0,
        door_ajar_after_s: float = 120.0,
        fridge_setpoint_c: float = 5.0,
        stock_seed: int | None = None,
        inventory_every_s: float | None = None,
        boot: int = 0,
        today: date | None = None,
        clock: Callable[[], datetime] = _device_now,
    ) -> None:
        self.dialect = dialect_for(profile)
        if speed <= 0:
            raise ValueError("speed must be > 0")
        if inventory_every_s is not None and inventory_every_s <= 0:
            raise ValueError("inventory_every_s must be > 0 (or None: report the inventory only when asked)")
        self.profile = profile
        self.topic_id = topic_id
        self.broker = BrokerAddress.parse(broker_url)
        self.speed = speed
        self.telemetry_interval_s = telemetry_interval_s
        self.door_ajar_after_s = door_ajar_after_s
        self.inventory_every_s = inventory_every_s
        self.clock = clock
        self.rng = random.Random(seed)
        stock_rng = self.rng if stock_seed is None else random.Random(stock_seed)
        self.stock: dict[str, BinStock] = stock_cabinet(stock_rng, today or clock().date())
        self.nurses, self.pharmacy = badges(self.rng)
        self.enrolled = {*self.nurses, *self.pharmacy}
        self.door_opened_by: str | None = None
        self.unlocked_for: str | None = None
        self.fridge = Fridge(fridge_setpoint_c)
        self.alarms: set[str] = set()
        self.commands: list[dict[str, Any]] = []
        """Every command received, as JSON (tests read it)."""
        self.powered = False
        self.link = CabinetLink(
            self.broker,
            topic_id,
            status_topic=self.topic(self.dialect.status_topic),
            commands_topic=self.topic(self.dialect.commands_topic),
            client_id=f"{self.dialect.client_prefix}-{topic_id}",
            last_will=self.dialect.last_will(),
            online_status=lambda: self.stream.status(online=True),
            on_connected=self._connected,
            on_command=self._received,
        )
        self.connected = self.link.connected
        """Set while the cabinet is connected to the broker (after its ONLINE status)."""
        self.stream = VendorStream(self.link, self.dialect, self.topic, topic_id, clock, self.rng, boot)
        self._tasks: list[asyncio.Task[Any]] = []
        self._timers = Timers(self.real_seconds)

    def topic(self, name: str) -> str:
        return self.profile.topic(name, self.topic_id)

    @property
    def boot(self) -> int:
        """Power-ons so far (with the `boot` it was made with): part of every message number (the MV-40's msgId)."""
        return self.stream.boot

    @property
    def fridge_c(self) -> float:
        return self.fridge.temperature_c

    @property
    def setpoint_c(self) -> float:
        return self.fridge.setpoint_c

    @property
    def published(self) -> int:
        """Messages the broker acknowledged."""
        return self.link.published

    def real_seconds(self, sim_seconds: float) -> float:
        """How long `sim_seconds` of simulated time take in real time."""
        return sim_seconds / self.speed

    # -- lifecycle ---------------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Power on: connect (Last Will: OFFLINE, retained), publish ONLINE, report the fridge every interval.

        With `inventory_every_s`, the full inventory follows ONLINE on every connect and then every interval.
        """
        if self.powered:
            return
        self.powered = True
        self.stream.new_boot()
        self.door_opened_by = None
        self._tasks = [
            asyncio.create_task(self.link.run(), name=f"cabinet:{self.topic_id}:link"),
            asyncio.create_task(self._fridge_loop(), name=f"cabinet:{self.topic_id}:fridge"),
        ]
        if self.inventory_every_s is not None:
            inventory = self._inventory_loop(self.inventory_every_s)
            self._tasks.append(asyncio.create_task(inventory, name=f"cabinet:{self.topic_id}:inventory"))

    async def stop(self) -> None:
        """Shut down cleanly: OFFLINE (retained, cause shutdown), then disconnect (the Last Will is not sent)."""
        if not self.powered:
            return
        if self.connected.is_set():
            self._status(online=False, cause="shutdown")
            with contextlib.suppress(TimeoutError):
                await self.flushed(timeout_s=5)
        await self._power_off()

    async def power_loss(self, minutes: float | None = None) -> None:
        """The power goes: the TCP link dies without a DISCONNECT, so the broker publishes the Last Will.

        With `minutes`, the cabinet reboots by itself after that long (simulated); else `await reboot()`.
        """
        if not self.powered:
            return
        self.link.cut()
        await self._power_off()
        if minutes is not None:
            self._tasks.append(asyncio.create_task(self._reboot_after(minutes)))

    async def reboot(self) -> None:
        """Power comes back: a new boot; messages not yet published are still in the cabinet's journal."""
        await self._power_off()
        await self.start()

    async def _reboot_after(self, minutes: float) -> None:
        await asyncio.sleep(self.real_seconds(minutes * 60))
        await self.start()

    async def _power_off(self) -> None:
        self.powered = False
        self.link.detach()
        current = asyncio.current_task()
        tasks = [t for t in [*self._tasks, *self._timers.take()] if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks = [t for t in self._tasks if t is current]

    async def forget(self) -> None:
        """Withdraw the retained status from the broker (an empty retained message), e.g. after a test."""
        await self.link.forget()

    async def flushed(self, timeout_s: float = 30) -> None:
        """Wait until every message so far is published (the broker acknowledged it)."""
        await self.link.flushed(timeout_s)

    async def __aenter__(self) -> "CabinetSimulator":
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- the MQTT link -----------------------------------------------------------------------------------------
    def _connected(self) -> None:
        if self.inventory_every_s is not None:
            # Queued after anything the journal still holds: the snapshot is the stock as of now.
            self._publish(*self._snapshot(None))

    def _received(self, body: dict[str, Any]) -> None:
        self.commands.append(body)
        self._command(body)

    # -- publishing --------------------------------------------------------------------------------------------
    def _status(self, online: bool, cause: str | None = None) -> None:
        self.link.send(self.topic(self.dialect.status_topic), self.stream.status(online, cause), retain=True)

    def _publish(self, topic_name: str, body: dict[str, Any]) -> dict[str, Any]:
        if not self.powered:
            raise CabinetError(f"cabinet {self.topic_id} is powered off")
        return self.stream.publish(topic_name, body)

    def malformed(self, kind: str) -> tuple[str, bytes]:
        """A frame the edge must set aside (see `dialect.MALFORMED_KINDS`), and the topic its model sends it on."""
        return self.stream.malformed(kind)

    def send_malformed(self, kind: str) -> bytes:
        """Publish one malformed frame now; returns it."""
        topic, frame = self.malformed(kind)
        self.link.send(topic, frame)
        return frame

    def malformed_frames(self, minutes: float) -> None:
        """Fault: for `minutes` (simulated), every message is followed by a malformed frame."""
        self.stream.malformed_for(self.real_seconds(minutes * 60))

    def duplicate_messages(self, minutes: float) -> None:
        """Fault: for `minutes` (simulated), every message is published twice (the same msgId, the same bytes)."""
        self.stream.duplicate_for(self.real_seconds(minutes * 60))

    # -- nurse and pharmacy access -----------------------------------------------------------------------------
    async def open_door(self, badge: str) -> bool:
        """Badge in and open; an unknown badge raises (and clears) an access-denied alarm and returns False."""
        if badge not in self.enrolled:
            self._alarm("A-301", raised=True, badge=badge)
            self._alarm("A-301", raised=False, badge=badge)
            return False
        if self.door_opened_by is not None:
            raise CabinetError(f"the door is already open (by {self.door_opened_by})")
        self.door_opened_by = badge
        self.unlocked_for = None
        self._publish(*self.dialect.door(True, badge))
        self._timers.start("door_ajar", self.door_ajar_after_s, self._door_ajar)
        return True

    async def close_door(self, badge: str | None = None) -> None:
        badge = badge or self.door_opened_by
        if self.door_opened_by is None:
            raise CabinetError("the door is already closed")
        self.door_opened_by = None
        self._timers.cancel("door_ajar")
        self._publish(*self.dialect.door(False, badge))
        if "A-101" in self.alarms:
            self._alarm("A-101", raised=False)

    async def remove(
        self, bin_id: str, quantity: int = 1, badge: str | None = None, *, order_id: str | None = None
    ) -> dict[str, Any]:
        """Take items out against the medication order `order_id`; without one it is an override."""
        line = self._open_bin(bin_id)
        if quantity < 1 or quantity > line.quantity:
            raise CabinetError(f"bin {bin_id} holds {line.quantity}; cannot take {quantity}")
        self.stock[bin_id] = line.with_quantity(line.quantity - quantity)
        return self._movement("removed", line, quantity, badge, order_ref=order_id)

    async def return_item(self, bin_id: str, quantity: int = 1, badge: str | None = None) -> dict[str, Any]:
        line = self._open_bin(bin_id)
        self.stock[bin_id] = line.with_quantity(line.quantity + quantity)
        return self._movement("returned", line, quantity, badge)

    async def restock(
        self,
        bin_id: str,
        quantity: int,
        badge: str | None = None,
        *,
        lot: str | None = None,
        expiry: date | None = None,
        delivery: str | None = None,
    ) -> dict[str, Any]:
        """Fill a bin (from the pharmacy delivery `delivery`, if given); a new lot and expiry replace the bin's."""
        line = self._open_bin(bin_id)
        if lot is not None:
            line = BinStock(line.bin, line.gtin, lot, expiry or line.expiry, line.quantity, line.par, line.description)
        self.stock[bin_id] = line.with_quantity(line.quantity + quantity)
        return self._movement("restocked", line, quantity, badge, delivery_ref=delivery)

    def _open_bin(self, bin_id: str) -> BinStock:
        if self.door_opened_by is None:
            raise CabinetError("the door is closed: open_door(badge) first")
        if bin_id not in self.stock:
            raise CabinetError(f"no bin {bin_id!r}")
        return self.stock[bin_id]

    def _movement(
        self,
        kind: Movement,
        line: BinStock,
        quantity: int,
        badge: str | None,
        *,
        order_ref: str | None = None,
        delivery_ref: str | None = None,
    ) -> dict[str, Any]:
        txn_id = f"T{self.boot}-{self.stream.counter + 1:06d}"
        who = badge or self.door_opened_by
        return self._publish(
            *self.dialect.movement(kind, line, quantity, who, txn_id, order_ref=order_ref, delivery_ref=delivery_ref)
        )

    async def inventory(self, request_id: str | None = None) -> dict[str, Any]:
        """Publish a full stock snapshot (both models group bins by drawer)."""
        return self._publish(*self._snapshot(request_id))

    def _snapshot(self, request_id: Any) -> Out:
        return self.dialect.snapshot(self.stock, request_id)

    async def _inventory_loop(self, every_s: float) -> None:
        """The periodic full report; while the link is down there is none (the next connect reports anyway)."""
        while True:
            await asyncio.sleep(self.real_seconds(every_s))
            if self.connected.is_set():
                self._publish(*self._snapshot(None))

    # -- commands ----------------------------------------------------------------------------------------------
    def _command(self, body: dict[str, Any]) -> None:
        if not self.powered:
            return
        command = self.dialect.command(body)
        if command.kind == "unlock":
            badge = command.badge
            if badge in self.enrolled and self.door_opened_by is None:
                self.unlocked_for = badge
                self._reply(command, "granted")
            else:
                self._reply(command, "denied", "door already open" if badge in self.enrolled else "badge not enrolled")
        elif command.kind == "inventory":
            self._reply(command, "ok")
            self._publish(*self._snapshot(command.request_id))
        else:
            self._reply(command, "error", "unknown command")

    def _reply(self, command: CabinetCommand, result: Reply, why: str | None = None) -> None:
        self._publish(*self.dialect.reply(command, result, why))

    # -- fridge and alarms -------------------------------------------------------------------------------------
    def warm_fridge(self, target_c: float, minutes: float) -> None:
        """Fault: the fridge drifts toward `target_c` for `minutes` (simulated), then recovers to the setpoint."""
        self.fridge.warm(target_c)
        self._timers.start("fridge_fault", minutes * 60, self._fridge_recovers)

    def cool_fridge(self) -> None:
        """End a `warm_fridge` fault now: the fridge recovers toward its setpoint."""
        self._timers.cancel("fridge_fault")  # its timer would otherwise end a later warming early
        self.fridge.recover()

    async def _fridge_recovers(self) -> None:
        self.fridge.recover()

    async def _fridge_loop(self) -> None:
        while True:
            temperature = self.fridge.read(self.rng)
            door_open = self.door_opened_by is not None
            self._publish(*self.dialect.climate(temperature, self.setpoint_c, door_open))
            for code, out_of_range in Fridge.out_of_range(temperature).items():
                if out_of_range and code not in self.alarms:
                    self._alarm(code, raised=True, text=f"{ALARM_TEXT[code]}: {temperature:.1f} °C")
                elif not out_of_range and code in self.alarms:
                    self._alarm(code, raised=False)
            await asyncio.sleep(self.real_seconds(self.telemetry_interval_s))

    async def _door_ajar(self) -> None:
        if self.door_opened_by is not None and "A-101" not in self.alarms:
            self._alarm("A-101", raised=True, text=f"door open for {self.door_ajar_after_s:g} s")

    def _alarm(self, code: str, *, raised: bool, text: str | None = None, badge: str | None = None) -> None:
        """`code` is the simulator's alarm identity (the MV-40's code); the dialect writes it as its model does."""
        (self.alarms.add if raised else self.alarms.discard)(code)
        self._publish(*self.dialect.alarm(code, raised, text, badge))
