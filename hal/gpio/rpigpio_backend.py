"""RPi.GPIO API backend (Raspberry Pi <= 4 with RPi.GPIO; Pi 5 with the rpi-lgpio shim).

Kept for boards whose images already ship RPi.GPIO; prefer ``factory = "gpiod"``.
Limits, stated so nobody is surprised:
- RPi.GPIO itself fails on a Pi 5 ("Cannot determine SOC peripheral base address");
  there the same API comes from ``rpi-lgpio`` (``pip uninstall RPi.GPIO; pip install
  rpi-lgpio``). The module is imported lazily, so it stays an optional dependency.
- Edge callbacks run in a library thread; the event timestamp is taken in that thread
  (``time.monotonic_ns()``), not by the kernel, so it carries the callback latency. For
  Wiegand (20-100 µs pulses) use gpiod.
- For ``Edge.BOTH`` the direction is read back in the callback and can be wrong for
  pulses shorter than the callback latency.

Pins are BCM numbers (``GPIO.setmode(GPIO.BCM)``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Mapping

from hal.errors import DeviceOpenError
from hal.gpio.base import Bias, Edge, EdgeEvent, InputConfig, LineConfig, LinesBase, OutputConfig

log = logging.getLogger(__name__)

_FIX = ("on a Pi 5 or a recent kernel install rpi-lgpio (pip uninstall RPi.GPIO; "
        "pip install rpi-lgpio), on a Pi <= 4 install RPi.GPIO, or use [gpio] factory = \"gpiod\"")


def _import_rpigpio() -> Any:
    try:
        import RPi.GPIO as GPIO  # noqa: N814 - the library's conventional name
    except ImportError as exc:
        raise DeviceOpenError(f"GPIO factory 'rpigpio': module RPi.GPIO is not installed: {_FIX}") from exc
    except RuntimeError as exc:  # "This module can only be run on a Raspberry Pi!" etc.
        raise DeviceOpenError(f"GPIO factory 'rpigpio': RPi.GPIO refused to load ({exc}): {_FIX}") from exc
    return GPIO


class RpiGpioFactory:
    backend = "rpigpio"

    def __init__(self) -> None:
        self._gpio: Any = None
        self._requests: list[RpiGpioLines] = []

    def _module(self) -> Any:
        if self._gpio is None:
            gpio = _import_rpigpio()
            try:
                gpio.setwarnings(False)
                gpio.setmode(gpio.BCM)
            except (RuntimeError, ValueError) as exc:
                raise DeviceOpenError(f"GPIO factory 'rpigpio' cannot start ({exc}): {_FIX}") from exc
            self._gpio = gpio
        return self._gpio

    def request(self, consumer: str, lines: Mapping[int, LineConfig]) -> "RpiGpioLines":
        try:
            gpio = self._module()
        except DeviceOpenError as exc:
            pin_list = ", ".join(str(p) for p in lines)
            raise DeviceOpenError(f"GPIO pin(s) {pin_list} for '{consumer}': {exc}") from exc
        loop = asyncio.get_running_loop()
        pud = {Bias.AS_IS: gpio.PUD_OFF, Bias.DISABLED: gpio.PUD_OFF,
               Bias.PULL_UP: gpio.PUD_UP, Bias.PULL_DOWN: gpio.PUD_DOWN}
        req = RpiGpioLines(gpio, loop, consumer, lines)
        done: list[int] = []
        try:
            for pin, cfg in lines.items():
                if isinstance(cfg, OutputConfig):
                    level = cfg.initial != cfg.active_low
                    gpio.setup(pin, gpio.OUT, initial=gpio.HIGH if level else gpio.LOW)
                else:
                    # AS_IS cannot be expressed in RPi.GPIO; PUD_OFF is the closest
                    gpio.setup(pin, gpio.IN, pull_up_down=pud[cfg.bias])
                done.append(pin)
                if isinstance(cfg, InputConfig) and cfg.edge is not Edge.NONE:
                    req._add_detect(pin, cfg)
        except (RuntimeError, ValueError, OSError) as exc:
            if done:
                gpio.cleanup(done)
            pin_list = ", ".join(str(p) for p in lines)
            raise DeviceOpenError(f"GPIO pin(s) {pin_list} (BCM) cannot be set up with RPi.GPIO "
                                  f"({exc}): check the pin numbers and that no other process "
                                  f"uses them; {_FIX}") from exc
        self._requests.append(req)
        return req

    def close(self) -> None:
        for req in self._requests:
            req.close()
        self._requests.clear()


class RpiGpioLines(LinesBase):
    backend = "rpigpio"

    def __init__(self, gpio: Any, loop: asyncio.AbstractEventLoop, consumer: str,
                 configs: Mapping[int, LineConfig]) -> None:
        super().__init__(consumer, configs)
        self._gpio = gpio
        self._loop = loop

    def _add_detect(self, pin: int, cfg: InputConfig) -> None:
        gpio = self._gpio
        # RPi.GPIO edges are electrical; ours are logical (active_low flips them)
        electrical = {Edge.RISING: Edge.FALLING if cfg.active_low else Edge.RISING,
                      Edge.FALLING: Edge.RISING if cfg.active_low else Edge.FALLING,
                      Edge.BOTH: Edge.BOTH}[cfg.edge]
        kind = {Edge.RISING: gpio.RISING, Edge.FALLING: gpio.FALLING, Edge.BOTH: gpio.BOTH}[electrical]

        def callback(channel: int) -> None:  # runs in RPi.GPIO's thread
            ts = time.monotonic_ns()
            if cfg.edge is Edge.BOTH:
                rising = bool(gpio.input(channel)) != cfg.active_low
            else:
                rising = cfg.edge is Edge.RISING
            self._loop.call_soon_threadsafe(self._push, EdgeEvent(channel, rising, ts))

        kwargs: dict[str, Any] = {"callback": callback}
        bounce_ms = int(round(cfg.debounce_s * 1000))
        if bounce_ms > 0:
            kwargs["bouncetime"] = bounce_ms
        gpio.add_event_detect(pin, kind, **kwargs)

    def get(self, pin: int) -> bool:
        cfg = self._check_pin(pin)
        return bool(self._gpio.input(pin)) != cfg.active_low

    def set(self, pin: int, value: bool) -> None:
        cfg = self._check_pin(pin, output=True)
        level = value != cfg.active_low
        self._gpio.output(pin, self._gpio.HIGH if level else self._gpio.LOW)

    def describe(self, pin: int) -> str:
        return f"RPi.GPIO BCM {pin}"

    def _release(self) -> None:
        for pin, cfg in self.configs.items():
            if isinstance(cfg, InputConfig) and cfg.edge is not Edge.NONE:
                try:
                    self._gpio.remove_event_detect(pin)
                except (RuntimeError, ValueError) as exc:
                    log.debug("remove_event_detect(%d): %s", pin, exc)
        try:
            self._gpio.cleanup(list(self.pins))
        except (RuntimeError, ValueError) as exc:
            log.debug("cleanup(%s): %s", self.pins, exc)
