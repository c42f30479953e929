"""GpioContactor over the sim GPIO backend; the test plays the mirror contact."""

from __future__ import annotations

import asyncio

import pytest

from drivers.contactor.gpio_contactor import SPEC, GpioContactor
from drivers.registry import BuildContext
from hal.errors import ContactorDidNotClose, ContactorFault, ContactorWelded, DeviceOpenError
from hal.gpio import OutputConfig
from hal.gpio.sim import SimGpioFactory
from hal.interfaces import Contactor
from hal.options import validate_table

COIL, FEEDBACK = 17, 27


class Contact:
    """The physical contactor: the main contacts follow the coil after ``delay_s``
    unless welded or without coil supply; the feedback pin is wired per ``active_low``."""

    def __init__(self, gpio: SimGpioFactory, *, coil_active_low=False, feedback_active_low=False,
                 delay_s=0.0):
        self.gpio = gpio
        self.coil_active_low = coil_active_low
        self.feedback_active_low = feedback_active_low
        self.delay_s = delay_s
        self.welded = False
        self.no_pull_in = False
        self.closed = False
        self._pending: asyncio.TimerHandle | None = None
        gpio.on_output(COIL, self._coil_changed)
        self._set(False)

    def _set(self, closed: bool) -> None:
        self.closed = closed
        self.gpio.drive(FEEDBACK, closed != self.feedback_active_low)

    def _coil_changed(self, level: bool) -> None:
        energised = level != self.coil_active_low
        target = energised and not self.no_pull_in
        if self.welded and not target:
            return
        if self._pending:
            self._pending.cancel()
        if self.delay_s:
            self._pending = asyncio.get_running_loop().call_later(self.delay_s, self._set, target)
        else:
            self._set(target)

    def coil_energised(self) -> bool:
        return self.gpio.level(COIL) != self.coil_active_low


SUCCEEDS_S = 10.0  # feedback timeout where the contact follows: a deadline, never reached
EXPIRES_S = 0.2    # where the timeout expiring is what the test proves


def make(gpio, **kw) -> GpioContactor:
    opts = dict(coil_pin=COIL, feedback_pin=FEEDBACK, feedback_timeout_s=SUCCEEDS_S)
    opts.update(kw)
    values, problems = validate_table(opts, SPEC.options, "connector[1].contactor")
    assert not problems
    return SPEC.build(BuildContext(name="connector 1 contactor", connector_id=1, gpio=gpio), values)


@pytest.mark.parametrize("coil_active_low", [False, True])
@pytest.mark.parametrize("feedback_active_low", [False, True])
async def test_close_and_open_follow_feedback(coil_active_low, feedback_active_low):
    gpio = SimGpioFactory()
    contact = Contact(gpio, coil_active_low=coil_active_low,
                      feedback_active_low=feedback_active_low, delay_s=0.01)
    dev = make(gpio, coil_active_low=coil_active_low, feedback_active_low=feedback_active_low)
    assert isinstance(dev, Contactor)
    await dev.open()
    assert not contact.coil_energised() and not dev.is_closed
    await dev.check()
    await dev.close_contactor()
    assert contact.coil_energised() and contact.closed and dev.is_closed
    await dev.check()
    await dev.open_contactor()
    assert not contact.coil_energised() and not dev.is_closed
    await dev.close()
    assert not gpio.claimed(COIL) and not gpio.claimed(FEEDBACK)


async def test_coil_never_pulls_in_raises_and_switches_coil_off():
    gpio = SimGpioFactory()
    contact = Contact(gpio)
    contact.no_pull_in = True
    dev = make(gpio, feedback_timeout_s=EXPIRES_S)
    await dev.open()
    with pytest.raises(ContactorDidNotClose, match="did not report closed within 0.2 s"):
        await dev.close_contactor()
    assert not contact.coil_energised()
    assert "ContactorNoPullIn" == ContactorDidNotClose.vendor_error_code
    assert dev.info().last_error
    await dev.check()                       # consistent again: coil off, contact open
    await dev.close()


async def test_welded_contact_on_open_and_while_idle():
    gpio = SimGpioFactory()
    contact = Contact(gpio)
    dev = make(gpio, feedback_timeout_s=EXPIRES_S)
    await dev.open()
    await dev.close_contactor()
    contact.welded = True
    with pytest.raises(ContactorWelded):
        await dev.open_contactor()
    assert not contact.coil_energised()     # the coil stays off
    assert dev.is_closed
    with pytest.raises(ContactorWelded):
        await dev.check()
    await dev.close()


async def test_weld_while_idle_is_noticed_by_check():
    gpio = SimGpioFactory()
    Contact(gpio)
    dev = make(gpio)
    await dev.open()
    await dev.check()
    gpio.drive(FEEDBACK, True)              # contacts closed with the coil off
    with pytest.raises(ContactorWelded, match="welded"):
        await dev.check()
    assert dev.is_closed
    await dev.close()


async def test_contact_dropping_out_while_closed_is_reported_and_coil_released():
    gpio = SimGpioFactory()
    contact = Contact(gpio)
    dev = make(gpio)
    await dev.open()
    await dev.close_contactor()
    gpio.drive(FEEDBACK, False)             # e.g. coil supply lost
    with pytest.raises(ContactorDidNotClose, match="dropped"):
        await dev.check()
    assert not contact.coil_energised()
    await dev.close()


async def test_open_needs_gpio_table_and_free_pins():
    dev = make(None)
    with pytest.raises(DeviceOpenError, match=r"\[gpio\]"):
        await dev.open()
    gpio = SimGpioFactory()
    gpio.request("someone else", {COIL: OutputConfig()})
    dev = make(gpio)
    with pytest.raises(DeviceOpenError, match="pin 17"):
        await dev.open()
    await dev.close()                       # safe after a failed open
    with pytest.raises(DeviceOpenError, match="two different lines"):
        await make(SimGpioFactory(), feedback_pin=COIL).open()


def test_options_are_validated():
    _, problems = validate_table({"coil_pin": 17}, SPEC.options, "c")
    assert [str(p) for p in problems] == ["c.feedback_pin: missing (required)"]
    _, problems = validate_table({"coil_pin": 17, "feedback_pin": 27, "feedback_timeout_s": 0,
                                  "feedback_bias": "up"}, SPEC.options, "c")
    assert {p.key for p in problems} == {"c.feedback_timeout_s", "c.feedback_bias"}


async def test_a_vanished_gpio_chip_is_a_contactor_fault_not_a_traceback():
    """Raw OSError would escape the hardware worker (it catches HalError): a chip that
    goes away (USB expander unplugged) must become a ContactorFault, and close() still
    works."""
    gpio = SimGpioFactory()
    Contact(gpio)
    dev = make(gpio)
    await dev.open()
    await dev.close_contactor()
    gpio.remove()
    for op in (dev.open_contactor, dev.check, dev.close_contactor):
        with pytest.raises(ContactorFault, match="GPIO failed"):
            await op()
    assert "GPIO failed" in dev.info().last_error
    await dev.close()
