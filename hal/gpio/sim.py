"""In-memory GPIO backend for tests and the simulated board.

The "world" side (a test, or ``hal.sim``) drives the electrical level of inputs with
``drive()``/``pulse()`` and reads outputs with ``level()`` or ``on_output()``; the
device side uses the normal ``GpioFactory``/``GpioLines`` API. Levels are electrical
(``True`` = high); ``active_low`` is applied exactly like a real chip would, so a driver
that gets its polarity wrong fails here too.

Claims are exclusive like on a real chip: requesting a pin twice raises
``DeviceOpenError`` until the first request is closed. ``remove()`` plays a chip that
goes away under its users (a USB GPIO expander unplugged, a gpio-sim chip deleted):
from then on ``get``/``set`` raise ``OSError(ENODEV)`` as libgpiod does.
"""

from __future__ import annotations

import errno
import logging
import time
from typing import Callable, Mapping

from hal.errors import DeviceOpenError
from hal.gpio.base import (Bias, Edge, EdgeEvent, InputConfig, LineConfig, LinesBase,
                           OutputConfig)

log = logging.getLogger(__name__)


class SimGpioFactory:
    """Simulated GPIO chip with ``num_lines`` lines (default 54, like a BCM2711)."""

    backend = "sim"

    def __init__(self, num_lines: int = 54, label: str = "sim") -> None:
        self.num_lines = num_lines
        self.label = label
        self._levels: dict[int, bool] = {}          # electrical level per pin
        self._driven: set[int] = set()              # inputs the world has driven
        self._owners: dict[int, "SimGpioLines"] = {}
        self._output_watchers: dict[int, list[Callable[[bool], None]]] = {}
        self.removed = False

    # -- device side ------------------------------------------------------------------
    def request(self, consumer: str, lines: Mapping[int, LineConfig]) -> "SimGpioLines":
        if self.removed:
            raise DeviceOpenError(f"GPIO chip '{self.label}' is gone (removed): check the "
                                  f"GPIO expander's connection")
        for pin in lines:
            if not 0 <= pin < self.num_lines:
                raise DeviceOpenError(
                    f"GPIO pin {pin} does not exist on chip '{self.label}' "
                    f"(lines 0..{self.num_lines - 1}): fix the pin number in the board config")
            owner = self._owners.get(pin)
            if owner is not None:
                raise DeviceOpenError(
                    f"GPIO pin {pin} on chip '{self.label}' is already used by "
                    f"'{owner.consumer}': two devices in the board config share this pin")
        req = SimGpioLines(self, consumer, lines)
        for pin, cfg in lines.items():
            self._owners[pin] = req
            if isinstance(cfg, OutputConfig):
                self._set_level(pin, cfg.initial != cfg.active_low)
            elif pin not in self._driven:
                self._levels[pin] = self._bias_level(cfg)
        return req

    def close(self) -> None:
        for req in list(set(self._owners.values())):
            req.close()

    def _release(self, req: "SimGpioLines") -> None:
        for pin in req.pins:
            if self._owners.get(pin) is req:
                del self._owners[pin]

    @staticmethod
    def _bias_level(cfg: InputConfig) -> bool:
        return cfg.bias is Bias.PULL_UP

    def _set_level(self, pin: int, level: bool) -> None:
        old = self._levels.get(pin)
        self._levels[pin] = level
        if old != level:
            for watcher in list(self._output_watchers.get(pin, ())):
                watcher(level)

    # -- world side -------------------------------------------------------------------
    def level(self, pin: int) -> bool:
        """Electrical level of a pin (outputs: what the device drives)."""
        return self._levels.get(pin, False)

    def remove(self) -> None:
        """The chip disappears: every later ``get``/``set`` raises ``OSError(ENODEV)``;
        waiters are woken so that they find out."""
        self.removed = True
        for req in list(set(self._owners.values())):
            req._notify()

    def check_present(self) -> None:
        if self.removed:
            raise OSError(errno.ENODEV, f"GPIO chip '{self.label}' removed")

    def claimed(self, pin: int) -> bool:
        return pin in self._owners

    def on_output(self, pin: int, callback: Callable[[bool], None]) -> None:
        """Call ``callback(level)`` whenever the electrical level of output ``pin`` changes."""
        self._output_watchers.setdefault(pin, []).append(callback)

    def drive(self, pin: int, level: bool, timestamp_ns: int | None = None) -> None:
        """Set the electrical level on an input, producing an edge event if it changed
        and the line's edge detection asks for it."""
        ts = time.monotonic_ns() if timestamp_ns is None else timestamp_ns
        old = self._levels.get(pin, False)
        self._driven.add(pin)
        self._levels[pin] = level
        owner = self._owners.get(pin)
        if owner is None or old == level:
            return
        cfg = owner.configs[pin]
        if not isinstance(cfg, InputConfig):
            log.warning("sim: driving output pin %d has no effect on the device", pin)
            return
        rising = level != cfg.active_low
        wanted = (cfg.edge is Edge.BOTH or (cfg.edge is Edge.RISING and rising)
                  or (cfg.edge is Edge.FALLING and not rising))
        if wanted:
            owner._push(EdgeEvent(pin, rising, ts))
        else:
            owner._notify()

    def pulse(self, pin: int, start_ns: int, width_ns: int = 50_000) -> None:
        """An active-low pulse (high → low → high) as a Wiegand reader sends it."""
        self.drive(pin, False, start_ns)
        self.drive(pin, True, start_ns + width_ns)


class SimGpioLines(LinesBase):
    backend = "sim"

    def __init__(self, factory: SimGpioFactory, consumer: str,
                 configs: Mapping[int, LineConfig]) -> None:
        super().__init__(consumer, configs)
        self._factory = factory

    def get(self, pin: int) -> bool:
        cfg = self._check_pin(pin)
        self._factory.check_present()
        return self._factory.level(pin) != cfg.active_low

    def set(self, pin: int, value: bool) -> None:
        cfg = self._check_pin(pin, output=True)
        if self._closed:
            raise ValueError(f"sim pin {pin}: lines already released")
        self._factory.check_present()
        self._factory._set_level(pin, value != cfg.active_low)

    def describe(self, pin: int) -> str:
        return f"{self._factory.label} line {pin}"

    def _release(self) -> None:
        self._factory._release(self)
