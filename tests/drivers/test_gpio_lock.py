"""GpioConnectorLock over the sim GPIO backend; the test plays the lock mechanism.

Bad input first: a feedback that never arrives, one that flaps, the same pin twice,
a GPIO chip that vanishes mid-operation, and the options a board gets wrong.
"""

from __future__ import annotations

import asyncio

import pytest

from drivers.lock.gpio_lock import SPEC, GpioConnectorLock, option_problems
from drivers.registry import BuildContext
from hal.errors import DeviceOpenError, DeviceUnavailable
from hal.gpio import OutputConfig
from hal.gpio.sim import SimGpioFactory
from hal.interfaces import ConnectorLock
from hal.options import validate_table

LOCK, UNLOCK, FEEDBACK = 22, 23, 24


class Mechanism:
    """The lock actuator and its feedback switch.

    ``motor``: the pin travels towards locked while ``LOCK`` is driven, towards unlocked
    while ``UNLOCK`` is driven, taking ``travel_s`` of drive (a pulse shorter than that
    leaves it where it was). ``solenoid-hold``: locked while the coil is energised.
    ``solenoid-pulse``: each pulse toggles a latch. ``jammed``: the pin never moves.
    ``both_on`` records whether the two motor outputs were ever driven at once.
    """

    def __init__(self, gpio: SimGpioFactory, actuator: str = "motor", *,
                 outputs_active_low: bool = False, feedback_active_low: bool = True,
                 travel_s: float = 0.0) -> None:
        self.gpio = gpio
        self.actuator = actuator
        self.outputs_active_low = outputs_active_low
        self.feedback_active_low = feedback_active_low
        self.travel_s = travel_s
        self.jammed = False
        self.locked = False
        self.both_on = False
        self.pulses = 0
        self._moving: asyncio.TimerHandle | None = None
        gpio.on_output(LOCK, lambda level: self._changed())
        gpio.on_output(UNLOCK, lambda level: self._changed())
        self._set(False)

    def driven(self, pin: int) -> bool:
        return self.gpio.claimed(pin) and self.gpio.level(pin) != self.outputs_active_low

    def _set(self, locked: bool) -> None:
        self.locked = locked
        self.gpio.drive(FEEDBACK, locked != self.feedback_active_low)

    def _changed(self) -> None:
        lock_on, unlock_on = self.driven(LOCK), self.driven(UNLOCK)
        if lock_on and unlock_on:
            self.both_on = True
        if self._moving is not None:
            self._moving.cancel()
            self._moving = None
        if self.actuator == "solenoid-pulse":
            if lock_on:
                self.pulses += 1
                self._move(not self.locked)
            return
        if self.actuator == "solenoid-hold":
            target: bool | None = lock_on
        else:
            target = True if lock_on and not unlock_on else False if unlock_on and not lock_on \
                else None
        if target is not None and target != self.locked:
            self._move(target)

    def _move(self, target: bool) -> None:
        if self.jammed:
            return
        if self.travel_s:
            self._moving = asyncio.get_running_loop().call_later(self.travel_s, self._set,
                                                                 target)
        else:
            self._set(target)

    def outputs_off(self) -> bool:
        return not self.driven(LOCK) and not self.driven(UNLOCK)


def make(gpio, **kw) -> GpioConnectorLock:
    opts: dict = dict(actuator="motor", lock_pin=LOCK, unlock_pin=UNLOCK, feedback_pin=FEEDBACK,
                      pulse_s=0.05, lock_timeout_s=0.3, unlock_timeout_s=0.3,
                      feedback_settle_s=0.02)
    opts.update(kw)
    opts = {k: v for k, v in opts.items() if v is not None}
    values, problems = validate_table(opts, SPEC.options, "connector[1].lock")
    assert not problems
    assert option_problems(values) == []
    return SPEC.build(BuildContext(name="connector 1 lock", connector_id=1, gpio=gpio), values)


@pytest.mark.parametrize("outputs_active_low", [False, True])
@pytest.mark.parametrize("feedback_active_low", [False, True])
async def test_motor_locks_and_unlocks_with_pulses_never_both_outputs(outputs_active_low,
                                                                      feedback_active_low):
    gpio = SimGpioFactory()
    mech = Mechanism(gpio, outputs_active_low=outputs_active_low,
                     feedback_active_low=feedback_active_low, travel_s=0.02)
    dev = make(gpio, outputs_active_low=outputs_active_low,
               feedback_active_low=feedback_active_low)
    assert isinstance(dev, ConnectorLock)
    await dev.open()
    assert mech.outputs_off() and not mech.locked
    assert await dev.lock() is True
    assert mech.locked and mech.outputs_off()          # a pulse, not a hold
    assert dev.info().details["feedback"] == "locked"
    assert await dev.unlock() is True
    assert not mech.locked and mech.outputs_off()
    assert not mech.both_on
    await dev.close()
    assert not gpio.claimed(LOCK) and not gpio.claimed(FEEDBACK)


async def test_feedback_never_arrives_fails_and_leaves_outputs_off():
    gpio = SimGpioFactory()
    mech = Mechanism(gpio)
    mech.jammed = True
    dev = make(gpio)
    await dev.open()
    assert await dev.lock() is False
    assert mech.outputs_off()
    assert "did not report locked within 0.3 s" in dev.info().last_error
    assert await dev.unlock() is True                  # it never left "unlocked"
    await dev.close()


async def test_unlock_that_never_confirms_fails_and_leaves_outputs_off():
    gpio = SimGpioFactory()
    mech = Mechanism(gpio)
    dev = make(gpio)
    await dev.open()
    assert await dev.lock() is True
    mech.jammed = True
    assert await dev.unlock() is False
    assert mech.outputs_off() and mech.locked
    assert "unlocked" in dev.info().last_error
    await dev.close()


async def test_broken_feedback_wire_reads_unlocked_and_the_lock_fails():
    """Default wiring (switch to GND closed when locked, pull-up, active low): an open
    wire reads HIGH = "unlocked", so a lock with no feedback can never confirm."""
    gpio = SimGpioFactory()             # nothing drives the feedback input: only the pull-up
    dev = make(gpio)
    await dev.open()
    assert dev.info().details["feedback"] == "unlocked"
    assert await dev.lock() is False
    assert not gpio.level(LOCK) and not gpio.level(UNLOCK)
    await dev.close()


async def test_flapping_feedback_does_not_confirm():
    """A switch that chatters (a pin that did not engage, a loose wire) never holds
    "locked" for feedback_settle_s: the lock fails instead of confirming on a bounce."""
    gpio = SimGpioFactory()
    mech = Mechanism(gpio)
    mech.jammed = True
    dev = make(gpio, lock_timeout_s=0.3, feedback_settle_s=0.05)
    await dev.open()

    async def flap() -> None:
        level = False
        while True:
            level = not level
            gpio.drive(FEEDBACK, level)
            await asyncio.sleep(0.01)

    flapper = asyncio.create_task(flap())
    try:
        assert await dev.lock() is False
    finally:
        flapper.cancel()
        await asyncio.gather(flapper, return_exceptions=True)
    assert mech.outputs_off()
    await dev.close()


async def test_feedback_settling_within_the_timeout_confirms():
    gpio = SimGpioFactory()
    Mechanism(gpio, travel_s=0.02)
    dev = make(gpio, feedback_settle_s=0.02)
    await dev.open()
    # one bounce right after the pulse, then stable (active low: high = unlocked)
    loop = asyncio.get_running_loop()
    loop.call_later(0.06, gpio.drive, FEEDBACK, True)
    loop.call_later(0.07, gpio.drive, FEEDBACK, False)
    assert await dev.lock() is True
    await dev.close()


async def test_solenoid_hold_is_energised_while_locked():
    gpio = SimGpioFactory()
    mech = Mechanism(gpio, "solenoid-hold")
    dev = make(gpio, actuator="solenoid-hold", unlock_pin=None)
    await dev.open()
    assert await dev.lock() is True
    assert mech.driven(LOCK) and mech.locked
    assert await dev.unlock() is True
    assert not mech.driven(LOCK) and not mech.locked
    mech.jammed = True
    assert await dev.lock() is False
    assert not mech.driven(LOCK)                       # de-energised after a failed lock
    await dev.close()


async def test_solenoid_pulse_toggles_only_when_needed():
    gpio = SimGpioFactory()
    mech = Mechanism(gpio, "solenoid-pulse")
    dev = make(gpio, actuator="solenoid-pulse", unlock_pin=None)
    await dev.open()
    assert await dev.lock() is True and mech.locked and mech.pulses == 1
    assert await dev.lock() is True and mech.locked and mech.pulses == 1   # no toggle back
    assert await dev.unlock() is True and not mech.locked and mech.pulses == 2
    assert await dev.unlock() is True and mech.pulses == 2
    assert mech.outputs_off()
    await dev.close()


async def test_opening_claims_outputs_de_energised():
    gpio = SimGpioFactory()
    mech = Mechanism(gpio, outputs_active_low=True)
    dev = make(gpio, outputs_active_low=True)
    await dev.open()
    assert mech.outputs_off()
    assert gpio.level(LOCK) is True and gpio.level(UNLOCK) is True  # active-low: high = off
    await dev.close()
    assert mech.outputs_off()


async def test_same_pin_twice_is_refused_at_open():
    with pytest.raises(DeviceOpenError, match="different lines"):
        await make(SimGpioFactory(), unlock_pin=LOCK).open()
    with pytest.raises(DeviceOpenError, match="different lines"):
        await make(SimGpioFactory(), feedback_pin=UNLOCK).open()


async def test_open_needs_gpio_table_and_free_pins():
    with pytest.raises(DeviceOpenError, match=r"\[gpio\]"):
        await make(None).open()
    gpio = SimGpioFactory()
    gpio.request("someone else", {UNLOCK: OutputConfig()})
    dev = make(gpio)
    with pytest.raises(DeviceOpenError, match="pin 23"):
        await dev.open()
    await dev.close()                                   # safe after a failed open
    assert not gpio.claimed(LOCK)


async def test_use_before_open_is_an_error_not_a_traceback():
    with pytest.raises(DeviceOpenError, match="before open"):
        await make(SimGpioFactory()).lock()


async def test_chip_vanishing_mid_lock_is_device_unavailable():
    gpio = SimGpioFactory()
    mech = Mechanism(gpio, travel_s=1.0)   # never arrives before the chip goes
    dev = make(gpio, lock_timeout_s=2.0)
    await dev.open()
    asyncio.get_running_loop().call_later(0.1, gpio.remove)
    with pytest.raises(DeviceUnavailable, match="GPIO"):
        await dev.lock()
    assert "GPIO" in dev.info().last_error
    with pytest.raises(DeviceUnavailable):
        await dev.unlock()
    await dev.close()                       # still closes without a traceback
    del mech


async def test_close_during_lock_fails_it_and_leaves_outputs_off():
    gpio = SimGpioFactory()
    mech = Mechanism(gpio, "solenoid-hold", travel_s=1.0)
    dev = make(gpio, actuator="solenoid-hold", unlock_pin=None, lock_timeout_s=2.0)
    await dev.open()
    task = asyncio.create_task(dev.lock())
    await asyncio.sleep(0.05)
    assert mech.driven(LOCK)
    await dev.close()
    assert await task is False
    assert not mech.driven(LOCK)


async def test_cancelled_lock_de_energises():
    gpio = SimGpioFactory()
    mech = Mechanism(gpio, travel_s=1.0)
    dev = make(gpio, pulse_s=0.5, lock_timeout_s=2.0, unlock_timeout_s=2.0)
    await dev.open()
    task = asyncio.create_task(dev.lock())
    await asyncio.sleep(0.05)
    assert mech.driven(LOCK)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert mech.outputs_off()
    await dev.close()


def test_option_problems_name_the_key_and_the_fix():
    values, problems = validate_table({"lock_pin": 22, "feedback_pin": 24}, SPEC.options, "l")
    assert not problems
    assert option_problems(values) == [("unlock_pin", "required with actuator = \"motor\" "
                                                      "(the H-bridge's unlock input)")]
    values, _ = validate_table({"actuator": "solenoid-hold", "lock_pin": 22, "unlock_pin": 23,
                                "feedback_pin": 24}, SPEC.options, "l")
    assert [k for k, _ in option_problems(values)] == ["unlock_pin"]
    values, _ = validate_table({"lock_pin": 22, "unlock_pin": 23, "feedback_pin": 24,
                                "pulse_s": 1.0, "lock_timeout_s": 0.5}, SPEC.options, "l")
    assert [k for k, _ in option_problems(values)] == ["lock_timeout_s"]
    _, problems = validate_table({"lock_pin": 22, "feedback_pin": 24, "actuator": "servo",
                                  "lock_timeout_s": float("nan")}, SPEC.options, "l")
    assert {p.key for p in problems} == {"l.actuator", "l.lock_timeout_s"}


async def test_a_failed_lock_faults_the_connector_through_the_hardware_worker():
    """The same path as the contactor: LockCable → LockFailed → ConnectorLockFailure."""
    from firmware.core import effects as fx
    from firmware.core import events as ev
    from firmware.hardware import ConnectorHardware

    gpio = SimGpioFactory()
    mech = Mechanism(gpio)
    mech.jammed = True
    lock = make(gpio)
    await lock.open()
    hw = ConnectorHardware(1, pilot=None, contactor=None, meter=None,  # type: ignore[arg-type]
                           lock=lock)
    seen: list = []
    hw.dispatch = seen.append
    await hw._run_command(fx.LockCable(1))
    assert seen == [ev.LockFailed(1, "lock did not confirm")]
    gpio.remove()
    seen.clear()
    await hw._run_command(fx.LockCable(1))
    assert len(seen) == 1 and isinstance(seen[0], ev.LockFailed)
    await hw._run_command(fx.UnlockCable(1, "ref"))
    assert seen[-1] == ev.CableUnlocked(1, False, "ref")
    await lock.close()
