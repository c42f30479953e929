"""GPIO contract shared by every backend (gpiod, rpigpio, sim).

Vocabulary:
- *pin* is the line offset on the board's GPIO chip. On a Raspberry Pi 3/4/5 this is the
  BCM GPIO number ("GPIO17" = pin 17), never the physical header position.
- Values are *logical*: ``True`` = active. ``active_low`` inverts between the logical
  value and the electrical level, so drivers think in "coil on" / "contact closed".
- Edge events are logical too (``rising`` = became active), as the Linux GPIO v2 uAPI
  reports them, and carry ``timestamp_ns`` on the monotonic clock (kernel-stamped with
  gpiod; stamped in the callback thread with rpigpio; given by the test with sim).

A ``GpioFactory.request()`` claims a set of lines for one device and returns a
``GpioLines`` object that keeps them claimed until ``close()`` (with gpiod: one
``LineRequest`` per device, held for the device's lifetime).
"""

from __future__ import annotations

import asyncio
import collections
import enum
from dataclasses import dataclass
from typing import AsyncIterator, Mapping, Protocol, Union, runtime_checkable


class Bias(enum.Enum):
    AS_IS = "as-is"          # keep whatever the device tree / previous user configured
    PULL_UP = "pull-up"
    PULL_DOWN = "pull-down"
    DISABLED = "disabled"    # external resistors only


class Edge(enum.Enum):
    NONE = "none"
    RISING = "rising"
    FALLING = "falling"
    BOTH = "both"


@dataclass(frozen=True)
class OutputConfig:
    """An output line. ``initial`` is the logical value set atomically with the claim."""

    initial: bool = False
    active_low: bool = False


@dataclass(frozen=True)
class InputConfig:
    """An input line; ``edge`` enables timestamped edge events, ``debounce_s`` a
    kernel debounce filter (gpiod) or the callback bounce time (rpigpio)."""

    bias: Bias = Bias.AS_IS
    active_low: bool = False
    edge: Edge = Edge.NONE
    debounce_s: float = 0.0


LineConfig = Union[OutputConfig, InputConfig]


@dataclass(frozen=True)
class EdgeEvent:
    """One edge on an input line: ``rising`` is True when the logical value became 1."""

    pin: int
    rising: bool
    timestamp_ns: int


@runtime_checkable
class GpioLines(Protocol):
    """Lines claimed for one device. Obligations: ``set`` only on outputs, ``get`` on
    any line (logical values); ``read_edge()``/``edges()`` deliver the events of the
    edge-detecting inputs in order to a single consumer (``read_edge`` is the
    cancellation-safe form: use it with timeouts); ``wait_value`` wakes on edges;
    ``close()`` is idempotent, wakes waiters and releases the lines (the kernel keeps the
    last output level, so drivers set a safe value first)."""

    pins: tuple[int, ...]

    def get(self, pin: int) -> bool: ...

    def set(self, pin: int, value: bool) -> None: ...

    async def wait_value(self, pin: int, value: bool, timeout_s: float) -> bool: ...

    async def read_edge(self, timeout_s: float | None = None) -> EdgeEvent | None: ...

    def edges(self) -> AsyncIterator[EdgeEvent]: ...

    def describe(self, pin: int) -> str: ...

    def close(self) -> None: ...


@runtime_checkable
class GpioFactory(Protocol):
    """A GPIO backend. ``request`` raises ``hal.errors.DeviceOpenError`` naming the pin,
    the chip and the fix when a line cannot be claimed. Call it from a coroutine (the
    rpigpio backend binds its callbacks to the running loop)."""

    backend: str

    def request(self, consumer: str, lines: Mapping[int, LineConfig]) -> GpioLines: ...

    def close(self) -> None: ...


# What ``GpioLines.get``/``set``/``wait_value`` raise when a line stops working: OSError
# from libgpiod (ENODEV once the chip is gone) and the sim, RuntimeError from RPi.GPIO /
# rpi-lgpio, ValueError for released lines. Drivers catch exactly these and report a
# HalError, so a GPIO failure is never a traceback.
LINE_ERRORS: tuple[type[Exception], ...] = (OSError, RuntimeError, ValueError)

# Edge events kept per request when nobody consumes edges(); older ones are dropped.
# Large enough for several Wiegand frames (34 bits each).
EVENT_QUEUE_MAX = 1024
# wait_value() polls at this period for inputs requested without edge detection.
POLL_PERIOD_S = 0.005


class LinesBase:
    """Event queue, change notification and ``wait_value`` common to all backends.

    Backends call ``_push(event)`` for each edge (from the event loop thread) and
    implement ``get``/``set``/``describe``/``_release``; ``_start_events`` is called
    lazily on first use of ``edges()``/``wait_value()`` (inside the running loop).
    """

    backend = "?"

    def __init__(self, consumer: str, configs: Mapping[int, LineConfig]) -> None:
        self.consumer = consumer
        self.configs: dict[int, LineConfig] = dict(configs)
        self.pins = tuple(self.configs)
        self._events: collections.deque[EdgeEvent] = collections.deque(maxlen=EVENT_QUEUE_MAX)
        self._changed = asyncio.Event()
        self._closed = False
        self._events_started = False
        self.dropped_events = 0

    # -- helpers for backends -------------------------------------------------------
    def _check_pin(self, pin: int, output: bool | None = None) -> LineConfig:
        cfg = self.configs.get(pin)
        if cfg is None:
            raise ValueError(f"pin {pin} is not part of this request ({self.pins})")
        if output is True and not isinstance(cfg, OutputConfig):
            raise ValueError(f"pin {pin} is an input; it cannot be set")
        return cfg

    def _push(self, event: EdgeEvent) -> None:
        if len(self._events) == self._events.maxlen:
            self.dropped_events += 1
        self._events.append(event)
        self._notify()

    def _notify(self) -> None:
        # swap-and-set: every waiter that grabbed the old event wakes exactly once
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _has_edges(self, pin: int) -> bool:
        cfg = self.configs.get(pin)
        return isinstance(cfg, InputConfig) and cfg.edge is not Edge.NONE

    def _start_events(self) -> None:
        """Backend hook: start delivering edge events into ``_push``."""

    def _ensure_events(self) -> None:
        if not self._events_started and not self._closed:
            self._events_started = True
            self._start_events()

    # -- public API -------------------------------------------------------------------
    async def wait_value(self, pin: int, value: bool, timeout_s: float) -> bool:
        """Return True as soon as ``get(pin) == value``, False after ``timeout_s``.

        Wakes on edge events when the pin has edge detection, else polls every
        ``POLL_PERIOD_S``.
        """
        self._check_pin(pin)
        self._ensure_events()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            changed = self._changed
            if self.get(pin) == value:
                return True
            remaining = deadline - loop.time()
            if remaining <= 0 or self._closed:
                return False
            wait_s = remaining if self._has_edges(pin) else min(remaining, POLL_PERIOD_S)
            try:
                async with asyncio.timeout(wait_s):
                    await changed.wait()
            except TimeoutError:
                pass

    async def read_edge(self, timeout_s: float | None = None) -> EdgeEvent | None:
        """The next edge event, or None after ``timeout_s`` (or once closed).

        Cancellation-safe (unlike wrapping ``anext(edges())`` in a timeout, which would
        finish the generator): no event is lost when the wait is cancelled.
        """
        self._ensure_events()
        loop = asyncio.get_running_loop()
        deadline = None if timeout_s is None else loop.time() + timeout_s
        while True:
            if self._events:
                return self._events.popleft()
            if self._closed:
                return None
            changed = self._changed
            if deadline is None:
                await changed.wait()
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            try:
                async with asyncio.timeout(remaining):
                    await changed.wait()
            except TimeoutError:
                pass

    async def edges(self) -> AsyncIterator[EdgeEvent]:
        """Yield edge events of the lines requested with edge detection, in order.

        Ends when the lines are closed.
        """
        while True:
            event = await self.read_edge()
            if event is None:
                return
            yield event

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._release()
        finally:
            self._notify()

    def _release(self) -> None:
        """Backend hook: release the lines."""

    def get(self, pin: int) -> bool:  # pragma: no cover - overridden
        raise NotImplementedError

    def set(self, pin: int, value: bool) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def describe(self, pin: int) -> str:  # pragma: no cover - overridden
        return f"{self.backend} pin {pin}"
