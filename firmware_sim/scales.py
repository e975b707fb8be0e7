"""Simulated dock scales (MT-SICS and Toledo 8217) answering commands on a link.

Each sim runs a background thread that reads commands from its link and answers with the
protocol's real bytes. A placed load jitters (dynamic readings) until it settles.
Fault modes: overload, garbage replies, a load that never settles, a scale that stops answering.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import Decimal
from types import TracebackType
from typing import Literal, Self

from devices.scales import KG_PER_UNIT, Toledo8217Status
from firmware_sim.links import Link

logger = logging.getLogger(__name__)

_GARBAGE = bytes([0xFF, 0x13, 0x8A, 0x00, 0x7F, 0xC3])


@dataclass(frozen=True)
class _Weight:
    kg: Decimal
    stable: bool
    overload: bool = False
    underload: bool = False


class _SimScale(ABC):
    """Load state, fault modes and the command thread shared by both sims."""

    def __init__(
        self,
        link: Link,
        *,
        capacity_kg: Decimal = Decimal(1500),
        chunked: bool = False,
        seed: int | None = None,
    ) -> None:
        """Args:
        link: The device end of the link.
        capacity_kg: Loads above this read as overload.
        chunked: Write every reply in two parts with a pause between (partial frames).
        seed: Seed of the jitter of moving readings.
        """
        self.link = link
        self.capacity_kg = capacity_kg
        self.chunked = chunked
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._load_kg = Decimal(0)
        self._zero_kg = Decimal(0)
        self._tare_kg = Decimal(0)
        self._settles_at = 0.0
        self._unstable_forever = False
        self._overload = False
        self._garbage_every = 0
        self._replies = 0
        self.commands: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
        self._thread.start()

    def place(self, kg: Decimal, *, settle_after_s: float = 0.6) -> None:
        """Put a load of `kg` on the platform; readings move until `settle_after_s` passed."""
        with self._lock:
            self._load_kg = kg
            self._settles_at = time.monotonic() + settle_after_s

    def remove(self) -> None:
        """Take the load off (it reads 0 at once) and clear the fault modes."""
        with self._lock:
            self._load_kg = Decimal(0)
            self._settles_at = 0.0
            self._overload = False
            self._unstable_forever = False

    def overload(self) -> None:
        """Read as overloaded until `remove()`."""
        with self._lock:
            self._overload = True

    def unstable_forever(self) -> None:
        """The load never settles (wind, a forklift still touching the pallet)."""
        with self._lock:
            self._unstable_forever = True

    def garbage_every(self, n: int) -> None:
        """Replace every `n`-th reply with line noise; 0 turns it off."""
        with self._lock:
            self._garbage_every = n
            self._replies = 0

    def stop(self) -> None:
        """Stop answering (power off) and end the thread."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _weight(self) -> _Weight:
        with self._lock:
            gross = self._load_kg
            if self._overload or gross > self.capacity_kg:
                return _Weight(gross, stable=False, overload=True)
            net = gross - self._zero_kg - self._tare_kg
            if net < -Decimal("0.5"):
                return _Weight(net, stable=False, underload=True)
            if self._unstable_forever or time.monotonic() < self._settles_at:
                jitter = Decimal(self._random.randint(-500, 500)) / 1000
                return _Weight(max(net + jitter, Decimal(0)), stable=False)
            return _Weight(net, stable=True)

    def _zero(self) -> bool:
        weight = self._weight()
        if not weight.stable:
            return False
        with self._lock:
            self._zero_kg = self._load_kg - self._tare_kg
        return True

    def _tare(self) -> Decimal | None:
        weight = self._weight()
        if not weight.stable:
            return None
        with self._lock:
            self._tare_kg = self._load_kg - self._zero_kg
            return self._tare_kg

    def _clear_tare(self) -> None:
        with self._lock:
            self._tare_kg = Decimal(0)

    def _send(self, reply: bytes) -> None:
        with self._lock:
            self._replies += 1
            garbage = bool(self._garbage_every) and self._replies % self._garbage_every == 0
        if garbage:
            reply = _GARBAGE + self._terminator()
        if self.chunked and len(reply) > 1:
            middle = len(reply) // 2
            self.link.write(reply[:middle])
            time.sleep(0.02)
            reply = reply[middle:]
        self.link.write(reply)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                data = self.link.read(256, 0.05)
                if data:
                    self._received(data)
        except Exception:
            # A sim thread dying silently would look like a scale that stopped answering.
            logger.exception("%s stopped", type(self).__name__)

    @abstractmethod
    def _terminator(self) -> bytes:
        """What ends a frame in this protocol."""

    @abstractmethod
    def _received(self, data: bytes) -> None:
        """Handle bytes from the edge."""


class SimMtSicsScale(_SimScale):
    """An MT-SICS level 0/1 scale: SI, S, Z, T, @; unknown commands get ES."""

    def __init__(
        self,
        link: Link,
        *,
        unit: str = "kg",
        decimals: int = 2,
        stable_wait_s: float = 3.0,
        capacity_kg: Decimal = Decimal(1500),
        chunked: bool = False,
        seed: int | None = None,
    ) -> None:
        """Args:
        link: The device end of the link.
        unit: Unit the scale reports in (kg, g, lb...).
        decimals: Digits after the decimal point in weight replies.
        stable_wait_s: How long `S` waits for stability before answering `S I`.
        capacity_kg: Loads above this read as overload.
        chunked: Write every reply in two parts (partial frames).
        seed: Seed of the jitter of moving readings.
        """
        self.unit = unit
        self.decimals = decimals
        self.stable_wait_s = stable_wait_s
        self._line = bytearray()
        super().__init__(link, capacity_kg=capacity_kg, chunked=chunked, seed=seed)

    def _terminator(self) -> bytes:
        return b"\r\n"

    def _format(self, status: str, kg: Decimal) -> bytes:
        value = (kg / KG_PER_UNIT[self.unit]).quantize(Decimal(1).scaleb(-self.decimals))
        return f"S {status} {value:>10} {self.unit}\r\n".encode("ascii")

    def _weight_reply(self, weight: _Weight) -> bytes:
        if weight.overload:
            return b"S +\r\n"
        if weight.underload:
            return b"S -\r\n"
        return self._format("S" if weight.stable else "D", weight.kg)

    def _received(self, data: bytes) -> None:
        self._line += data
        while (end := self._line.find(b"\n")) >= 0:
            command = bytes(self._line[:end]).strip()
            del self._line[: end + 1]
            if command:
                self.commands.append(command)
                self._send(self._answer(command))

    def _answer(self, command: bytes) -> bytes:
        name = command.split()[0]
        if name == b"SI":
            return self._weight_reply(self._weight())
        if name == b"S":
            deadline = time.monotonic() + self.stable_wait_s
            while not self._stop.is_set():
                weight = self._weight()
                if weight.stable or weight.overload or weight.underload:
                    return self._weight_reply(weight)
                if time.monotonic() >= deadline:
                    return b"S I\r\n"
                time.sleep(0.05)
            return b"S I\r\n"
        if name == b"Z":
            return b"Z A\r\n" if self._zero() else b"Z I\r\n"
        if name == b"T":
            tare = self._tare()
            if tare is None:
                return b"T I\r\n"
            return self._format("S", tare).replace(b"S S", b"T S", 1)
        if name == b"@":
            return b'I4 A "SIM0001"\r\n'
        return b"ES\r\n"


class SimToledo8217Scale(_SimScale):
    """A Toledo 8217 scale: W, Z, T, C, and the E...F echo probe; no command terminator."""

    def __init__(
        self,
        link: Link,
        *,
        unit: Literal["kg", "lb"] = "kg",
        capacity_kg: Decimal = Decimal(1500),
        chunked: bool = False,
        seed: int | None = None,
    ) -> None:
        """Args:
        link: The device end of the link.
        unit: Unit the scale is set up for (frames carry none).
        capacity_kg: Loads above this read as overload.
        chunked: Write every reply in two parts (partial frames).
        seed: Seed of the jitter of moving readings.
        """
        self.unit = unit
        self._echo = False
        super().__init__(link, capacity_kg=capacity_kg, chunked=chunked, seed=seed)

    def _terminator(self) -> bytes:
        return b"\r"

    @staticmethod
    def _status_frame(**flags: bool) -> bytes:
        status = Toledo8217Status(
            motion=flags.get("motion", False),
            over_capacity=flags.get("over_capacity", False),
            under_zero=flags.get("under_zero", False),
            outside_zero_capture=False,
            centre_of_zero=False,
            net_weight=False,
            bad_command=flags.get("bad_command", False),
        )
        return b"\x02?" + bytes([status.to_byte()]) + b"\r"

    def _received(self, data: bytes) -> None:
        for byte in data:
            command = bytes([byte])
            self.commands.append(command)
            if self._echo:
                if command == b"F":
                    self._echo = False
                else:
                    self.link.write(command)
                continue
            reply = self._answer(command)
            if reply:
                self._send(reply)

    def _answer(self, command: bytes) -> bytes:
        if command == b"W":
            weight = self._weight()
            if weight.overload:
                return self._status_frame(over_capacity=True)
            if weight.underload:
                return self._status_frame(under_zero=True)
            if not weight.stable:
                return self._status_frame(motion=True)
            value = (weight.kg / KG_PER_UNIT[self.unit]).quantize(Decimal("0.001"))
            return f"\x02{value:>8}\r".encode("ascii")
        if command == b"E":
            self._echo = True
            return b"\x02E\r"
        if command == b"Z":
            self._zero()
            return b""
        if command == b"T":
            self._tare()
            return b""
        if command == b"C":
            self._clear_tare()
            return b""
        if command in (b"\r", b"\n"):
            return b""
        return self._status_frame(bad_command=True)
