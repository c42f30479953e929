"""Status light: an RGB LED (or three lamps) on three GPIO outputs.

The colours are on/off per channel (no PWM), so a pattern is a cycle of steps
``(duration_s, (red, green, blue))``. Scheme: green = free, blue = in use, yellow =
waiting on something, red = not usable; blinking = "something is expected or going on".

| status          | pattern                                   | meaning for the driver at the socket     |
|-----------------|-------------------------------------------|------------------------------------------|
| Available       | steady green                              | free: tap a card or plug in              |
| Preparing       | green, 1 s on / 1 s off                   | plugged in or card accepted: do the other|
| Authorizing     | blue, 0.15 s on / 0.15 s off              | card read, the CSMS is asked             |
| Charging        | steady blue                               | energy flows                             |
| SuspendedEV     | blue, 1 s on / 1 s off                    | session on, the vehicle draws nothing    |
| SuspendedEVSE   | blue 1 s / yellow 1 s                     | session on, the station holds energy back|
| Finishing       | steady cyan                               | session over: unplug                     |
| Reserved        | steady yellow                             | reserved for someone else                |
| Unavailable     | steady red                                | out of service (set by the operator)     |
| Faulted         | red, 0.25 s on / 0.25 s off               | fault: no charging                       |
| anything else   | white, 0.5 s on / 0.5 s off               | a status this driver does not know       |

"Authorizing" is not an OCPP status (OCPP reports Preparing while a card is checked);
the core shows it (``fx.ShowStatus``) so the driver knows the tap was read.

``colour_at`` and ``next_change_s`` are the sans-I/O part; ``GpioRgbIndicator`` sets the
lines and owns one task that steps blinking patterns (started in ``open()``, cancelled and
awaited in ``close()``).
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from typing import Any

from hal.errors import DeviceOpenError, DeviceUnavailable
from hal.gpio import LINE_ERRORS, GpioLines, OutputConfig
from hal.interfaces import DeviceInfo
from hal.options import optional, required
from drivers.registry import BuildContext, DriverSpec

log = logging.getLogger(__name__)

Rgb = tuple[bool, bool, bool]
OFF: Rgb = (False, False, False)
RED: Rgb = (True, False, False)
GREEN: Rgb = (False, True, False)
BLUE: Rgb = (False, False, True)
YELLOW: Rgb = (True, True, False)
CYAN: Rgb = (False, True, True)
WHITE: Rgb = (True, True, True)


@dataclass(frozen=True)
class Pattern:
    """A cycle of ``(duration_s, colour)`` steps; one step = steady."""

    steps: tuple[tuple[float, Rgb], ...]

    @property
    def period_s(self) -> float:
        return sum(d for d, _ in self.steps)


def _steady(colour: Rgb) -> Pattern:
    return Pattern(((1.0, colour),))


def _blink(colour: Rgb, on_s: float, off_s: float, other: Rgb = OFF) -> Pattern:
    return Pattern(((on_s, colour), (off_s, other)))


PATTERNS: dict[str, Pattern] = {
    "Available": _steady(GREEN),
    "Preparing": _blink(GREEN, 1.0, 1.0),
    "Authorizing": _blink(BLUE, 0.15, 0.15),
    "Charging": _steady(BLUE),
    "SuspendedEV": _blink(BLUE, 1.0, 1.0),
    "SuspendedEVSE": _blink(BLUE, 1.0, 1.0, YELLOW),
    "Finishing": _steady(CYAN),
    "Reserved": _steady(YELLOW),
    "Unavailable": _steady(RED),
    "Faulted": _blink(RED, 0.25, 0.25),
}
UNKNOWN = _blink(WHITE, 0.5, 0.5)


def _position(pattern: Pattern, elapsed_s: float) -> tuple[int, float]:
    """(step index, seconds left in that step) at ``elapsed_s`` since the status was
    shown; a negative, infinite or NaN time counts as 0 (the first step)."""
    if not math.isfinite(elapsed_s) or elapsed_s < 0:
        elapsed_s = 0.0
    pos = math.fmod(elapsed_s, pattern.period_s)
    start = 0.0
    for i, (duration, _) in enumerate(pattern.steps):
        end = start + duration
        if pos < end:
            return i, end - pos
        start = end
    return 0, pattern.steps[0][0]  # pos rounded up to the period: the cycle restarts


def colour_at(status: str, elapsed_s: float) -> Rgb:
    """The colour of ``status`` ``elapsed_s`` seconds after it was first shown."""
    pattern = PATTERNS.get(status, UNKNOWN)
    return pattern.steps[_position(pattern, elapsed_s)[0]][1]


def next_change_s(status: str, elapsed_s: float) -> float | None:
    """Seconds from ``elapsed_s`` until the colour changes; None for a steady pattern."""
    pattern = PATTERNS.get(status, UNKNOWN)
    if len(pattern.steps) == 1:
        return None
    return _position(pattern, elapsed_s)[1]


class GpioRgbIndicator:
    """``Indicator`` over a ``GpioFactory``: three outputs, logical True = channel lit.

    :param gpio: the board's GPIO factory (``BuildContext.gpio``)
    :param red_pin, green_pin, blue_pin: the outputs (through a transistor or LED driver
        for anything brighter than a few mA)
    :param active_low: a LOW level lights a channel (common-anode LED to 3.3 V)

    Failure modes: ``show()`` before ``open()`` raises ``DeviceOpenError``; a line error
    (the GPIO chip went away) raises ``DeviceUnavailable`` from ``show()``, while the blink
    task records it in ``last_error`` and keeps going (an indicator never stops the agent).
    """

    def __init__(self, gpio: Any, *, red_pin: int, green_pin: int, blue_pin: int,
                 active_low: bool = False, name: str = "indicator") -> None:
        self._gpio = gpio
        self.pins = (red_pin, green_pin, blue_pin)
        self.active_low = active_low
        self.name = name
        self._lines: GpioLines | None = None
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._status = ""
        self._since = 0.0
        self._lit: Rgb | None = None     # what the lines show now (None: unknown)
        self._last_error = ""

    # -- Device ---------------------------------------------------------------------
    async def open(self) -> None:
        if self._lines is not None:
            return
        if self._gpio is None:
            raise DeviceOpenError(f"{self.name}: driver 'gpio_rgb' needs GPIO but the board "
                                  f"config has no [gpio] table: add [gpio] factory = \"gpiod\"")
        if len(set(self.pins)) != 3:
            raise DeviceOpenError(f"{self.name}: red_pin, green_pin and blue_pin "
                                  f"({', '.join(str(p) for p in self.pins)}) share a line: "
                                  f"wire and configure three different lines")
        self._lines = self._gpio.request(self.name, {
            pin: OutputConfig(initial=False, active_low=self.active_low) for pin in self.pins})
        self._lit = OFF
        self._status = ""
        self._task = asyncio.get_running_loop().create_task(self._step_patterns(),
                                                            name=f"{self.name} patterns")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        lines, self._lines = self._lines, None
        if lines is None:
            return
        try:
            for pin in self.pins:
                lines.set(pin, False)
        except LINE_ERRORS as exc:
            log.debug("%s: switching off on close failed: %s", self.name, exc)
        finally:
            lines.close()

    def info(self) -> DeviceInfo:
        port = ""
        if self._lines is not None:
            port = ", ".join(f"{c} {self._lines.describe(p)}"
                             for c, p in zip("RGB", self.pins))
        return DeviceInfo(role="indicator", name=self.name, backend="gpio_rgb", port=port,
                          last_error=self._last_error,
                          details={"status": self._status[:40],
                                   "active_low": "true" if self.active_low else "false"})

    # -- Indicator ------------------------------------------------------------------
    async def show(self, status: str) -> None:
        lines = self._lines
        if lines is None:
            raise DeviceOpenError(f"{self.name}: indicator used before open()")
        if status not in PATTERNS:
            log.warning("%s: unknown status %r: showing the 'unknown' pattern",
                        self.name, status[:40])
        self._status = status
        self._since = asyncio.get_running_loop().time()
        self._changed.set()
        try:
            self._light(lines, colour_at(status, 0.0))
        except LINE_ERRORS as exc:
            raise DeviceUnavailable(self._last_error) from exc

    # -- internals --------------------------------------------------------------------
    def _light(self, lines: GpioLines, colour: Rgb) -> None:
        """Set the channels that differ; on a line error, record it and raise."""
        if colour == self._lit:
            return
        try:
            for pin, on in zip(self.pins, colour):
                lines.set(pin, on)
        except LINE_ERRORS as exc:
            self._lit = None                  # unknown: set every channel next time
            message = f"{self.name}: GPIO failed setting the indicator ({exc})"
            if message != self._last_error:
                log.error("%s", message)
            self._last_error = message
            raise
        self._lit = colour
        self._last_error = ""

    async def _step_patterns(self) -> None:
        """Owned by the device: wakes on ``show()`` and at each change of a blinking
        pattern; sleeps on steady ones."""
        loop = asyncio.get_running_loop()
        while True:
            self._changed.clear()
            lines = self._lines
            wait: float | None = None
            if lines is not None and self._status:
                elapsed = loop.time() - self._since
                try:
                    self._light(lines, colour_at(self._status, elapsed))
                except LINE_ERRORS:
                    pass                      # recorded in last_error; retried next step
                wait = next_change_s(self._status, elapsed)
            try:
                async with asyncio.timeout(wait):
                    await self._changed.wait()
            except TimeoutError:
                pass


OPTIONS = (
    required("red_pin", int, "output of the red channel (BCM GPIO number on a Raspberry Pi)",
             minimum=0, maximum=1023),
    required("green_pin", int, "output of the green channel", minimum=0, maximum=1023),
    required("blue_pin", int, "output of the blue channel", minimum=0, maximum=1023),
    optional("active_low", bool, False, "true when a LOW level lights a channel (common-anode "
             "LED wired to 3.3 V, or a driver board that switches on LOW)"),
)


def build(ctx: BuildContext, options: dict[str, Any]) -> GpioRgbIndicator:
    return GpioRgbIndicator(ctx.gpio, name=ctx.name, **options)


SPEC = DriverSpec(role="indicator", name="gpio_rgb", options=OPTIONS, build=build,
                  uses_gpio=True,
                  doc="RGB status LED on three GPIO outputs: steady green Available, blinking "
                      "green Preparing, fast blue Authorizing, blue Charging, blinking red "
                      "Faulted (full table in drivers/indicator/gpio_rgb.py); needs a [gpio] "
                      "table.")
