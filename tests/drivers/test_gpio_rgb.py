"""The RGB indicator: the sans-I/O pattern function, then the thin GPIO device over the
sim backend (the test watches the three outputs)."""

from __future__ import annotations

import asyncio
import math

import pytest

from drivers.indicator.gpio_rgb import (BLUE, GREEN, OFF, PATTERNS, RED, SPEC, UNKNOWN,
                                        YELLOW, GpioRgbIndicator, colour_at, next_change_s)
from drivers.registry import BuildContext
from hal.errors import DeviceOpenError, DeviceUnavailable
from hal.gpio import OutputConfig
from hal.gpio.sim import SimGpioFactory
from hal.interfaces import Indicator
from hal.options import validate_table

R, G, B = 5, 6, 13
OCPP_STATUSES = ("Available", "Preparing", "Charging", "SuspendedEVSE", "SuspendedEV",
                 "Finishing", "Reserved", "Unavailable", "Faulted")


# -- the pattern function ---------------------------------------------------------------
def test_every_ocpp_status_and_authorizing_has_its_own_pattern():
    assert set(OCPP_STATUSES) | {"Authorizing"} == set(PATTERNS)
    assert len({PATTERNS[s] for s in PATTERNS}) == len(PATTERNS)   # all distinguishable


def test_steady_patterns():
    for t in (0.0, 0.3, 1.7, 1e6):
        assert colour_at("Available", t) == GREEN
        assert colour_at("Charging", t) == BLUE
        assert colour_at("Reserved", t) == YELLOW
        assert colour_at("Unavailable", t) == RED
        assert next_change_s("Available", t) is None


def test_faulted_blinks_red_fast_starting_on():
    assert colour_at("Faulted", 0.0) == RED
    assert colour_at("Faulted", 0.3) == OFF
    assert colour_at("Faulted", 0.5) == RED
    assert next_change_s("Faulted", 0.0) == pytest.approx(0.25)
    assert next_change_s("Faulted", 0.3) == pytest.approx(0.2)


def test_preparing_blinks_green_slowly_and_authorizing_blue_quickly():
    assert [colour_at("Preparing", t) for t in (0.0, 1.2, 2.1)] == [GREEN, OFF, GREEN]
    assert [colour_at("Authorizing", t) for t in (0.0, 0.2, 0.35)] == [BLUE, OFF, BLUE]


def test_suspended_evse_alternates_blue_and_yellow():
    assert [colour_at("SuspendedEVSE", t) for t in (0.5, 1.5, 2.5)] == [BLUE, YELLOW, BLUE]


@pytest.mark.parametrize("t", [-5.0, math.nan, math.inf, -math.inf])
def test_bad_times_show_the_first_step_and_never_raise(t):
    """A clock that jumps back or a NaN never produces a traceback or a wrong colour."""
    assert colour_at("Faulted", t) == RED
    change = next_change_s("Faulted", t)
    assert change is not None and 0 < change <= 0.25


@pytest.mark.parametrize("status", ["", "charging", "Charging\x00", "X" * 10_000, "Occupied"])
def test_unknown_status_shows_the_unknown_pattern(status):
    assert colour_at(status, 0.0) == colour_at("?", 0.0) == UNKNOWN.steps[0][1]
    assert next_change_s(status, 0.0) is not None


def test_a_change_point_lands_on_the_other_colour():
    for status in PATTERNS:
        t = 0.0
        for _ in range(10):
            wait = next_change_s(status, t)
            if wait is None:
                break
            assert wait > 0
            before = colour_at(status, t)
            t += wait
            assert colour_at(status, t + 1e-9) != before, (status, t)


# -- the device -----------------------------------------------------------------------
class Led:
    """The LED as the world sees it: logical colour from the three electrical levels."""

    def __init__(self, gpio: SimGpioFactory, active_low: bool = False) -> None:
        self.gpio = gpio
        self.active_low = active_low
        self.seen: list[tuple[bool, bool, bool]] = []
        for pin in (R, G, B):
            gpio.on_output(pin, lambda level: self.seen.append(self.colour()))

    def colour(self) -> tuple[bool, bool, bool]:
        return tuple(self.gpio.level(p) != self.active_low for p in (R, G, B))  # type: ignore


def make(gpio, **kw) -> GpioRgbIndicator:
    opts = dict(red_pin=R, green_pin=G, blue_pin=B)
    opts.update(kw)
    values, problems = validate_table(opts, SPEC.options, "connector[1].indicator")
    assert not problems
    return SPEC.build(BuildContext(name="connector 1 indicator", connector_id=1, gpio=gpio),
                      values)


@pytest.mark.parametrize("active_low", [False, True])
async def test_show_sets_the_colour_at_once_and_off_on_close(active_low):
    gpio = SimGpioFactory()
    led = Led(gpio, active_low)
    dev = make(gpio, active_low=active_low)
    assert isinstance(dev, Indicator)
    await dev.open()
    assert led.colour() == OFF
    await dev.show("Available")
    assert led.colour() == GREEN
    await dev.show("Charging")
    assert led.colour() == BLUE
    assert dev.info().details["status"] == "Charging"
    await dev.close()
    assert led.colour() == OFF and not gpio.claimed(R)
    assert dev._task is None


async def test_faulted_blinks_through_the_devices_own_task():
    gpio = SimGpioFactory()
    led = Led(gpio)
    dev = make(gpio)
    await dev.open()
    await dev.show("Faulted")
    await asyncio.sleep(0.6)
    assert RED in led.seen and OFF in led.seen[led.seen.index(RED):]
    await dev.show("Available")
    await asyncio.sleep(0.3)
    assert led.colour() == GREEN                       # the blink stopped
    await dev.close()


async def test_close_cancels_and_awaits_the_blink_task():
    gpio = SimGpioFactory()
    dev = make(gpio)
    await dev.open()
    await dev.show("Faulted")
    task = dev._task
    assert task is not None and not task.done()
    await dev.close()
    assert task.done()
    await dev.close()                                  # twice is fine


async def test_same_pin_twice_and_no_gpio_table_are_refused():
    with pytest.raises(DeviceOpenError, match="different lines"):
        await make(SimGpioFactory(), blue_pin=R).open()
    with pytest.raises(DeviceOpenError, match=r"\[gpio\]"):
        await make(None).open()
    gpio = SimGpioFactory()
    gpio.request("other", {G: OutputConfig()})
    dev = make(gpio)
    with pytest.raises(DeviceOpenError, match="pin 6"):
        await dev.open()
    await dev.close()
    assert dev._task is None


async def test_show_before_open_is_an_error():
    with pytest.raises(DeviceOpenError, match="before open"):
        await make(SimGpioFactory()).show("Available")


async def test_a_vanished_chip_is_device_unavailable_and_the_task_survives():
    gpio = SimGpioFactory()
    dev = make(gpio)
    await dev.open()
    await dev.show("Faulted")
    gpio.remove()
    await asyncio.sleep(0.3)                           # the blink task meets the dead chip
    assert dev._task is not None and not dev._task.done()
    assert "removed" in dev.info().last_error
    with pytest.raises(DeviceUnavailable, match="indicator"):
        await dev.show("Available")
    await dev.close()                                  # no traceback


async def test_unknown_status_is_shown_not_refused():
    gpio = SimGpioFactory()
    led = Led(gpio)
    dev = make(gpio)
    await dev.open()
    await dev.show("Bogus\n" * 100)
    assert led.colour() == UNKNOWN.steps[0][1]
    assert len(dev.info().details["status"]) <= 40
    await dev.close()


def test_options_are_validated():
    _, problems = validate_table({"red_pin": 5, "green_pin": -1}, SPEC.options, "i")
    assert {p.key for p in problems} == {"i.green_pin", "i.blue_pin"}
