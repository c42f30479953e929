"""Cable lock of a socket outlet on GPIO lines: an actuator and a feedback switch.

IEC 62196 Type 2 sockets lock the plug with an actuator pin and report its position on a
feedback (micro)switch. Three actuators are supported (``actuator``):

- ``"motor"``: a DC motor (or a bistable two-coil solenoid) behind an H-bridge driver.
  ``lock_pin`` drives the "lock" direction, ``unlock_pin`` the "unlock" direction, each for
  one pulse of ``pulse_s`` (the full travel time from the lock's datasheet); the other
  output is switched off before one is switched on, so the bridge is never asked to
  drive both ways at once (a shoot-through on many bridges).
- ``"solenoid-hold"``: a monostable solenoid on ``lock_pin``, energised for as long as the
  cable stays locked (a power cut releases the cable).
- ``"solenoid-pulse"``: a latching (push-push) mechanism on ``lock_pin``: every pulse of
  ``pulse_s`` toggles it, so ``lock()``/``unlock()`` pulse only when the feedback says the
  latch is not already where it should be.

The feedback input reads logical True = "locked". The default wiring is fail-safe: a
switch that closes when locked connects ``feedback_pin`` to GND, read with the internal
pull-up and ``feedback_active_low = true``, so a broken feedback wire reads "unlocked" and
the lock fails (a fault) instead of confirming a lock that is not there.

Obligations (hal.interfaces.ConnectorLock):
- ``lock()`` returns True only when the feedback reads "locked" within ``lock_timeout_s``
  of the start and then holds it for ``feedback_settle_s``; otherwise every output is
  de-energised and it returns False (the hardware worker turns that into ``LockFailed``,
  and the core faults the connector with ``ConnectorLockFailure`` and offers no energy).
- ``unlock()`` likewise with "unlocked" and ``unlock_timeout_s``.
- A GPIO chip that goes away (or any line error) raises ``DeviceUnavailable`` after a
  best-effort switch-off; closing the device during an operation makes it return False.
- Opening claims every output de-energised; closing de-energises them first.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from drivers.errors import DriverError
from hal.errors import DeviceOpenError, DeviceUnavailable
from hal.gpio import (LINE_ERRORS, BIAS_CHOICES, Bias, Edge, GpioLines, InputConfig,
                      OutputConfig)
from hal.interfaces import DeviceInfo
from hal.options import optional, required
from drivers.registry import BuildContext, DriverSpec

log = logging.getLogger(__name__)

ACTUATORS = ("motor", "solenoid-hold", "solenoid-pulse")


class LockClosed(DriverError):
    """Internal: the device was closed while an operation waited."""


class GpioConnectorLock:
    """``ConnectorLock`` over a ``GpioFactory`` (see the module docstring for wiring).

    :param gpio: the board's GPIO factory (``BuildContext.gpio``)
    :param actuator: "motor" | "solenoid-hold" | "solenoid-pulse"
    :param lock_pin: output driving the lock direction / the solenoid
    :param unlock_pin: output driving the unlock direction ("motor" only)
    :param feedback_pin: input of the position switch
    :param pulse_s: drive time of one pulse ("motor", "solenoid-pulse"), seconds
    :param lock_timeout_s: time from the start of ``lock()`` within which the feedback must
        confirm "locked" (a pulse longer than this is cut at the timeout)
    :param unlock_timeout_s: the same for ``unlock()``
    :param feedback_settle_s: how long the feedback must hold still to count
    """

    def __init__(self, gpio: Any, *, lock_pin: int, feedback_pin: int,
                 actuator: str = "motor", unlock_pin: int | None = None,
                 pulse_s: float = 0.6, lock_timeout_s: float = 1.5,
                 unlock_timeout_s: float = 1.5, outputs_active_low: bool = False,
                 feedback_active_low: bool = True, feedback_bias: str = "pull-up",
                 feedback_debounce_s: float = 0.005, feedback_settle_s: float = 0.05,
                 name: str = "lock") -> None:
        self._gpio = gpio
        self.actuator = actuator
        self.lock_pin = lock_pin
        self.unlock_pin = unlock_pin
        self.feedback_pin = feedback_pin
        self.pulse_s = pulse_s
        self.lock_timeout_s = lock_timeout_s
        self.unlock_timeout_s = unlock_timeout_s
        self.outputs_active_low = outputs_active_low
        self.feedback_active_low = feedback_active_low
        self.feedback_bias = Bias(feedback_bias)
        self.feedback_debounce_s = feedback_debounce_s
        self.feedback_settle_s = feedback_settle_s
        self.name = name
        self._lines: GpioLines | None = None
        self._busy = asyncio.Lock()
        self._commanded = "unlocked"
        self._last_feedback = False
        self._last_error = ""

    @property
    def _outputs(self) -> tuple[int, ...]:
        return (self.lock_pin,) if self.unlock_pin is None else (self.lock_pin, self.unlock_pin)

    # -- Device ---------------------------------------------------------------------
    async def open(self) -> None:
        if self._lines is not None:
            return
        if self._gpio is None:
            raise DeviceOpenError(f"{self.name}: driver 'gpio' needs GPIO but the board config "
                                  f"has no [gpio] table: add [gpio] factory = \"gpiod\"")
        problems = option_problems(self._options())
        if problems:
            raise DeviceOpenError(f"{self.name}: " + "; ".join(f"{k}: {m}" for k, m in problems))
        pins = self._outputs + (self.feedback_pin,)
        if len(set(pins)) != len(pins):
            raise DeviceOpenError(f"{self.name}: lock_pin, unlock_pin and feedback_pin "
                                  f"({', '.join(str(p) for p in pins)}) share a line: wire "
                                  f"and configure different lines")
        config: dict[int, OutputConfig | InputConfig] = {
            # claimed de-energised: opening the device never moves the lock
            pin: OutputConfig(initial=False, active_low=self.outputs_active_low)
            for pin in self._outputs}
        config[self.feedback_pin] = InputConfig(bias=self.feedback_bias,
                                                active_low=self.feedback_active_low,
                                                edge=Edge.BOTH,
                                                debounce_s=self.feedback_debounce_s)
        self._lines = self._gpio.request(self.name, config)
        self._commanded = "unlocked"
        self._last_feedback = self._lines.get(self.feedback_pin)

    async def close(self) -> None:
        lines, self._lines = self._lines, None
        if lines is None:
            return
        try:
            self._safe_off(lines)  # a chip that went away must not make close() raise
        finally:
            lines.close()

    def info(self) -> DeviceInfo:
        port = ""
        lines = self._lines
        if lines is not None:
            outs = ", ".join(lines.describe(p) for p in self._outputs)
            port = f"actuator {outs}, feedback {lines.describe(self.feedback_pin)}"
        return DeviceInfo(role="lock", name=self.name, backend="gpio", port=port,
                          last_error=self._last_error,
                          details={"actuator": self.actuator, "commanded": self._commanded,
                                   "feedback": "locked" if self._last_feedback else "unlocked",
                                   "lock_timeout_s": f"{self.lock_timeout_s:g}",
                                   "unlock_timeout_s": f"{self.unlock_timeout_s:g}"})

    # -- ConnectorLock --------------------------------------------------------------
    async def lock(self) -> bool:
        return await self._operate(True, self.lock_timeout_s)

    async def unlock(self) -> bool:
        return await self._operate(False, self.unlock_timeout_s)

    async def _operate(self, locked: bool, timeout_s: float) -> bool:
        word = "locked" if locked else "unlocked"
        async with self._busy:
            lines = self._lines  # after the wait: a close() meanwhile is seen here
            if lines is None:
                raise DeviceOpenError(f"{self.name}: lock used before open()")
            self._commanded = word
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout_s
            try:
                await self._drive(lines, locked, deadline)
                ok = await self._settled(lines, locked, deadline)
            except LockClosed:
                self._fail(f"{self.name}: closed while waiting for '{word}'")
                return False
            except LINE_ERRORS as exc:
                self._safe_off(lines)
                raise self._fault(DeviceUnavailable(
                    f"{self.name}: GPIO failed while trying to get '{word}' ({exc}); "
                    f"actuator switched off (check the GPIO chip/expander)")) from exc
            except BaseException:
                self._safe_off(lines)   # cancelled: never leave a coil or motor driven
                raise
            if not ok:
                self._safe_off(lines)
                self._fail(f"{self.name}: the feedback on {lines.describe(self.feedback_pin)} "
                           f"did not report {word} within {timeout_s:g} s; actuator switched "
                           f"off (check the actuator supply, a jammed pin or plug, and the "
                           f"feedback wiring/polarity)")
                return False
            self._last_error = ""
            return True

    async def _drive(self, lines: GpioLines, locked: bool, deadline: float) -> None:
        """Move the actuator towards ``locked``; returns once the drive is over."""
        if self.actuator == "solenoid-hold":
            lines.set(self.lock_pin, locked)
            return
        if self._read(lines) == locked:
            return                       # already there: a pulse would only stall or toggle
        if self.actuator == "motor":
            assert self.unlock_pin is not None
            on, off = (self.lock_pin, self.unlock_pin) if locked else \
                (self.unlock_pin, self.lock_pin)
            lines.set(off, False)        # never both directions at once
        else:
            on = self.lock_pin
        lines.set(on, True)
        try:
            loop = asyncio.get_running_loop()
            await asyncio.sleep(max(0.0, min(self.pulse_s, deadline - loop.time())))
        finally:
            if self._lines is lines:
                lines.set(on, False)
        if self._lines is not lines:
            raise LockClosed()

    async def _settled(self, lines: GpioLines, locked: bool, deadline: float) -> bool:
        """True once the feedback holds ``locked`` for ``feedback_settle_s`` before
        ``deadline``; a flapping feedback keeps restarting the settle time."""
        loop = asyncio.get_running_loop()
        while True:
            remaining = deadline - loop.time()
            reached = await lines.wait_value(self.feedback_pin, locked, max(0.0, remaining))
            if self._lines is not lines:
                raise LockClosed()
            self._read(lines)
            if not reached:
                return False
            left = await lines.wait_value(self.feedback_pin, not locked, self.feedback_settle_s)
            if self._lines is not lines:
                raise LockClosed()
            self._read(lines)
            if not left:
                return True
            if loop.time() >= deadline:
                return False

    def _read(self, lines: GpioLines) -> bool:
        self._last_feedback = lines.get(self.feedback_pin)
        return self._last_feedback

    def _safe_off(self, lines: GpioLines) -> None:
        """Switch every output off, as far as the lines still allow (never raises)."""
        for pin in self._outputs:
            try:
                lines.set(pin, False)
            except LINE_ERRORS as exc:
                log.debug("%s: switching pin %d off failed: %s", self.name, pin, exc)

    def _fail(self, message: str) -> None:
        self._last_error = message
        log.error("%s", message)

    def _fault(self, exc: Exception) -> Exception:
        self._fail(str(exc))
        return exc

    def _options(self) -> dict[str, Any]:
        return {"actuator": self.actuator, "unlock_pin": self.unlock_pin,
                "pulse_s": self.pulse_s, "lock_timeout_s": self.lock_timeout_s,
                "unlock_timeout_s": self.unlock_timeout_s}


def option_problems(values: dict[str, Any]) -> list[tuple[str, str]]:
    """Problems between options (``(key, message)``) that one option's check cannot see;
    ``check-config`` reports them through ``DriverSpec.check``, ``open()`` refuses them."""
    problems: list[tuple[str, str]] = []
    actuator = values.get("actuator")
    unlock_pin = values.get("unlock_pin")
    if actuator == "motor" and unlock_pin is None:
        problems.append(("unlock_pin", 'required with actuator = "motor" (the H-bridge\'s '
                                       'unlock input)'))
    if actuator in ("solenoid-hold", "solenoid-pulse") and unlock_pin is not None:
        problems.append(("unlock_pin", f'unused with actuator = "{actuator}" (one output: '
                                       f'lock_pin); remove it'))
    if actuator != "solenoid-hold":
        pulse_s = values.get("pulse_s", 0.0)
        for key in ("lock_timeout_s", "unlock_timeout_s"):
            timeout = values.get(key)
            if isinstance(timeout, (int, float)) and timeout < pulse_s:
                problems.append((key, f"{timeout:g} s is shorter than pulse_s = {pulse_s:g} s: "
                                      f"the pulse would be cut before the travel ends"))
    return problems


OPTIONS = (
    optional("actuator", str, "motor", "'motor': DC motor or two-coil solenoid behind an "
             "H-bridge (lock_pin and unlock_pin pulsed); 'solenoid-hold': one coil on lock_pin "
             "energised while locked; 'solenoid-pulse': one coil on lock_pin, each pulse "
             "toggles a latch", choices=ACTUATORS),
    required("lock_pin", int, "output driving the lock direction (motor) or the solenoid "
             "(BCM GPIO number on a Raspberry Pi)", minimum=0, maximum=1023),
    optional("unlock_pin", int, None, "output driving the unlock direction; required with "
             "actuator = 'motor', not allowed otherwise", minimum=0, maximum=1023),
    required("feedback_pin", int, "input of the lock's position (feedback) switch",
             minimum=0, maximum=1023),
    optional("pulse_s", float, 0.6, "drive time of one pulse (motor, solenoid-pulse): the "
             "full travel time from the lock's datasheet", minimum=0.01, maximum=5.0),
    optional("lock_timeout_s", float, 1.5, "seconds from the start of a lock within which the "
             "feedback must report locked; otherwise the actuator is switched off and the "
             "connector faults (ConnectorLockFailure)", minimum=0.05, maximum=10.0),
    optional("unlock_timeout_s", float, 1.5, "the same for unlocking (an UnlockConnector "
             "is answered UnlockFailed)", minimum=0.05, maximum=10.0),
    optional("outputs_active_low", bool, False, "true when the driver inputs switch on at a "
             "LOW level (many opto-isolated relay/driver boards)"),
    optional("feedback_active_low", bool, True, "true (fail-safe wiring): a LOW level on "
             "feedback_pin means 'locked', i.e. a switch to GND that closes when locked, read "
             "with the pull-up, so a broken wire reads 'unlocked' and the lock fails; false "
             "for a switch that opens when locked"),
    optional("feedback_bias", str, "pull-up", "bias of the feedback input", choices=BIAS_CHOICES),
    optional("feedback_debounce_s", float, 0.005, "debounce filter of the feedback input "
             "(gpiod kernel debounce; 0 = off)", minimum=0.0, maximum=0.1),
    optional("feedback_settle_s", float, 0.05, "the feedback must hold still this long to "
             "confirm; a flapping switch never confirms", minimum=0.0, maximum=1.0),
)


def build(ctx: BuildContext, options: dict[str, Any]) -> GpioConnectorLock:
    return GpioConnectorLock(ctx.gpio, name=ctx.name, **options)


SPEC = DriverSpec(role="lock", name="gpio", options=OPTIONS, build=build, uses_gpio=True,
                  check=option_problems,
                  doc="Cable lock (motor behind an H-bridge, or a solenoid) on GPIO outputs "
                      "with a position feedback switch on a GPIO input; needs a [gpio] table.")
