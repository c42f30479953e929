"""Contactor on two GPIO lines: the coil output and the feedback (mirror) contact input.

Wiring (see board_configs/README.md): the coil is switched by a relay/SSR driver on
``coil_pin``; the feedback contact connects ``feedback_pin`` to GND and the internal
pull-up makes the open contact read high. With a true mirror contact (IEC 60947-4-1
Annex F, normally closed, closed exactly when the main contacts are open) the default
``feedback_active_low = false`` reads "main contacts closed" when the input is high.
That choice fails safe: a broken feedback wire reads "closed", which is reported as a
weld while idle rather than hiding a real weld.

Obligations (hal.interfaces.Contactor):
- ``close_contactor()`` energises the coil and returns once the feedback says closed
  within ``feedback_timeout_s``; otherwise it de-energises the coil and raises
  ``ContactorDidNotClose``.
- ``open_contactor()`` de-energises the coil and returns once the feedback says open;
  otherwise ``ContactorWelded`` (the coil stays off).
- ``check()`` raises ``ContactorWelded`` when the feedback says closed while commanded
  open, ``ContactorDidNotClose`` when it says open while commanded closed (and then
  switches the coil off: a coil whose contact dropped out is never left energised).
- A GPIO line that fails (the chip went away) raises ``ContactorFault`` after a
  best-effort coil switch-off: the contactor's state is unknown, which is a fault.
"""

from __future__ import annotations

import logging
from typing import Any

from hal.errors import ContactorDidNotClose, ContactorFault, ContactorWelded, DeviceOpenError
from hal.gpio import (LINE_ERRORS, BIAS_CHOICES, Bias, Edge, GpioLines, InputConfig,
                      OutputConfig)
from hal.interfaces import DeviceInfo
from hal.options import optional, required
from drivers.registry import BuildContext, DriverSpec

log = logging.getLogger(__name__)


class GpioContactor:
    """``Contactor`` over a ``GpioFactory``.

    :param gpio: the board's GPIO factory (``BuildContext.gpio``)
    :param coil_pin: output line driving the coil (BCM number on a Pi)
    :param feedback_pin: input line of the feedback contact
    :param feedback_timeout_s: how long the feedback may take to follow the coil
    :param coil_active_low: the coil is energised by a low level (common relay boards)
    :param feedback_active_low: a low level means "main contacts closed"
    :param feedback_bias: "pull-up" / "pull-down" / "disabled" / "as-is"
    :param feedback_debounce_s: kernel debounce of the feedback input (gpiod)
    """

    def __init__(self, gpio: Any, *, coil_pin: int, feedback_pin: int,
                 feedback_timeout_s: float = 1.0, coil_active_low: bool = False,
                 feedback_active_low: bool = False, feedback_bias: str = "pull-up",
                 feedback_debounce_s: float = 0.005, name: str = "contactor") -> None:
        self._gpio = gpio
        self.coil_pin = coil_pin
        self.feedback_pin = feedback_pin
        self.feedback_timeout_s = feedback_timeout_s
        self.coil_active_low = coil_active_low
        self.feedback_active_low = feedback_active_low
        self.feedback_bias = Bias(feedback_bias)
        self.feedback_debounce_s = feedback_debounce_s
        self.name = name
        self._lines: GpioLines | None = None
        self._commanded_closed = False
        self._last_feedback = False
        self._last_error = ""

    # -- Device ---------------------------------------------------------------------
    async def open(self) -> None:
        if self._lines is not None:
            return
        if self._gpio is None:
            raise DeviceOpenError(f"{self.name}: driver 'gpio' needs GPIO but the board config "
                                  f"has no [gpio] table: add [gpio] factory = \"gpiod\"")
        if self.coil_pin == self.feedback_pin:
            raise DeviceOpenError(f"{self.name}: coil_pin and feedback_pin are both "
                                  f"{self.coil_pin}: wire and configure two different lines")
        self._lines = self._gpio.request(self.name, {
            # the coil is claimed de-energised: opening the device never closes the contactor
            self.coil_pin: OutputConfig(initial=False, active_low=self.coil_active_low),
            self.feedback_pin: InputConfig(bias=self.feedback_bias,
                                           active_low=self.feedback_active_low,
                                           edge=Edge.BOTH,
                                           debounce_s=self.feedback_debounce_s),
        })
        self._commanded_closed = False
        self._last_feedback = self._lines.get(self.feedback_pin)
        if self._last_feedback:
            # not an open failure: the runtime's first check() reports it as a weld
            log.warning("%s: feedback reads closed while the coil is off", self.name)

    async def close(self) -> None:
        lines, self._lines = self._lines, None
        if lines is None:
            return
        try:
            lines.set(self.coil_pin, False)
        except LINE_ERRORS as exc:  # a chip that went away must not make close() raise
            log.debug("%s: switching the coil off on close failed: %s", self.name, exc)
        finally:
            lines.close()
        self._commanded_closed = False

    def info(self) -> DeviceInfo:
        port = ""
        if self._lines is not None:
            port = (f"coil {self._lines.describe(self.coil_pin)}, "
                    f"feedback {self._lines.describe(self.feedback_pin)}")
        return DeviceInfo(role="contactor", name=self.name, backend="gpio", port=port,
                          last_error=self._last_error,
                          details={"commanded": "closed" if self._commanded_closed else "open",
                                   "feedback": "closed" if self._last_feedback else "open",
                                   "feedback_timeout_s": f"{self.feedback_timeout_s:g}"})

    # -- Contactor ------------------------------------------------------------------
    @property
    def is_closed(self) -> bool:
        return self._last_feedback

    def _require(self) -> GpioLines:
        if self._lines is None:
            raise DeviceOpenError(f"{self.name}: contactor used before open()")
        return self._lines

    async def close_contactor(self) -> None:
        try:
            await self._close_contactor()
        except LINE_ERRORS as exc:
            raise self._line_failed(exc) from exc

    async def open_contactor(self) -> None:
        try:
            await self._open_contactor()
        except LINE_ERRORS as exc:
            raise self._line_failed(exc) from exc

    async def check(self) -> None:
        try:
            await self._check()
        except LINE_ERRORS as exc:
            raise self._line_failed(exc) from exc

    def _line_failed(self, exc: Exception) -> ContactorFault:
        self._commanded_closed = False
        if self._lines is not None:
            try:
                self._lines.set(self.coil_pin, False)
            except LINE_ERRORS:
                pass
        fault = ContactorFault(f"{self.name}: GPIO failed ({exc}): contactor state unknown, "
                               f"coil switched off if the line still allows it (check the "
                               f"GPIO chip and its connection)")
        self._fault(fault)
        return fault

    async def _close_contactor(self) -> None:
        lines = self._require()
        self._commanded_closed = True
        lines.set(self.coil_pin, True)
        ok = await lines.wait_value(self.feedback_pin, True, self.feedback_timeout_s)
        self._last_feedback = lines.get(self.feedback_pin)
        if not ok:
            lines.set(self.coil_pin, False)
            self._commanded_closed = False
            raise self._fault(ContactorDidNotClose(
                f"{self.name}: coil energised but the feedback on "
                f"{lines.describe(self.feedback_pin)} did not report closed within "
                f"{self.feedback_timeout_s:g} s; coil switched off (check coil supply, "
                f"relay driver and feedback wiring/polarity)"))
        self._last_error = ""

    async def _open_contactor(self) -> None:
        lines = self._require()
        self._commanded_closed = False
        lines.set(self.coil_pin, False)
        ok = await lines.wait_value(self.feedback_pin, False, self.feedback_timeout_s)
        self._last_feedback = lines.get(self.feedback_pin)
        if not ok:
            raise self._fault(ContactorWelded(
                f"{self.name}: coil off but the feedback on {lines.describe(self.feedback_pin)} "
                f"still reports closed after {self.feedback_timeout_s:g} s: welded contact "
                f"(or feedback wiring fault)"))
        self._last_error = ""

    async def _check(self) -> None:
        lines = self._require()
        self._last_feedback = lines.get(self.feedback_pin)
        if self._last_feedback and not self._commanded_closed:
            raise self._fault(ContactorWelded(
                f"{self.name}: feedback reports closed while the coil is off: welded "
                f"contact (or feedback wiring fault)"))
        if not self._last_feedback and self._commanded_closed:
            lines.set(self.coil_pin, False)
            self._commanded_closed = False
            raise self._fault(ContactorDidNotClose(
                f"{self.name}: feedback reports open while the coil is on (contact dropped "
                f"out); coil switched off"))

    def _fault(self, exc: Exception) -> Exception:
        self._last_error = str(exc)
        log.error("%s", exc)
        return exc


OPTIONS = (
    required("coil_pin", int, "output line driving the contactor coil (BCM GPIO number on a "
             "Raspberry Pi)", minimum=0, maximum=1023),
    required("feedback_pin", int, "input line of the feedback (mirror) contact (BCM number)",
             minimum=0, maximum=1023),
    optional("feedback_timeout_s", float, 1.0, "seconds the feedback may take to follow the "
             "coil before ContactorDidNotClose / ContactorWelded", minimum=0.01, maximum=10.0),
    optional("coil_active_low", bool, False, "true when the coil is energised by a LOW level "
             "(many opto-isolated relay boards)"),
    optional("feedback_active_low", bool, False, "true when a LOW level on feedback_pin means "
             "'main contacts closed' (normally-open auxiliary contact to GND); false for a "
             "mirror (normally-closed) contact to GND with pull-up"),
    optional("feedback_bias", str, "pull-up", "bias of the feedback input", choices=BIAS_CHOICES),
    optional("feedback_debounce_s", float, 0.005, "debounce filter of the feedback input "
             "(gpiod kernel debounce; 0 = off)", minimum=0.0, maximum=0.1),
)


def build(ctx: BuildContext, options: dict[str, Any]) -> GpioContactor:
    return GpioContactor(ctx.gpio, name=ctx.name, **options)


SPEC = DriverSpec(role="contactor", name="gpio", options=OPTIONS, build=build, uses_gpio=True,
                  doc="Contactor coil on a GPIO output, feedback (mirror) contact on a GPIO "
                      "input; needs a [gpio] table.")
