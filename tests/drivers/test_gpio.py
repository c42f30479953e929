"""GPIO contract over the sim backend; gpiod error paths that need no hardware; gpiod
on a real chip only when /dev/gpiochip* exists."""

from __future__ import annotations

import asyncio
import glob

import pytest

from hal.errors import DeviceOpenError
from hal.gpio import (GPIO_OPTIONS, Bias, Edge, EdgeEvent, GpioFactory, GpioLines, InputConfig,
                      OutputConfig, open_gpio_factory)
from hal.gpio.sim import SimGpioFactory


def test_open_gpio_factory_is_explicit():
    assert open_gpio_factory({"factory": "sim"}).backend == "sim"
    assert open_gpio_factory({"factory": "gpiod", "chip_label": "pinctrl-rp1"}).backend == "gpiod"
    assert open_gpio_factory({"factory": "rpigpio"}).backend == "rpigpio"
    with pytest.raises(ValueError, match="factory: missing"):
        open_gpio_factory({})
    with pytest.raises(ValueError, match="must be one of"):
        open_gpio_factory({"factory": "auto"})
    with pytest.raises(ValueError, match="unknown key"):
        open_gpio_factory({"factory": "sim", "pin_factory": "x"})
    with pytest.raises(ValueError, match="device path"):
        open_gpio_factory({"factory": "gpiod", "chip": "gpiochip0"})
    assert {o.name for o in GPIO_OPTIONS} == {"factory", "chip_label", "chip", "consumer"}


def test_importing_hal_gpio_does_not_load_backends():
    import subprocess
    import sys
    code = ("import sys, hal.gpio, drivers.contactor, drivers.rfid, drivers.meter, drivers.pilot; "
            "bad = [m for m in ('gpiod', 'RPi', 'serial', 'pymodbus') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


async def test_sim_outputs_inputs_and_polarity():
    gpio = SimGpioFactory()
    assert isinstance(gpio, GpioFactory)
    lines = gpio.request("dev", {17: OutputConfig(initial=False, active_low=True),
                                 27: InputConfig(bias=Bias.PULL_UP),
                                 22: InputConfig(bias=Bias.PULL_DOWN, active_low=True)})
    assert isinstance(lines, GpioLines)
    assert gpio.level(17) is True            # logical 0 on an active-low output = high
    lines.set(17, True)
    assert gpio.level(17) is False
    assert lines.get(27) is True             # pull-up, nothing driving
    assert lines.get(22) is True             # pull-down read active-low
    gpio.drive(27, False)
    assert lines.get(27) is False
    with pytest.raises(ValueError):
        lines.set(27, True)                  # inputs cannot be set
    with pytest.raises(ValueError):
        lines.get(5)                         # not requested
    lines.close()
    lines.close()                            # idempotent


async def test_sim_claims_are_exclusive_and_pins_checked():
    gpio = SimGpioFactory()
    first = gpio.request("coil", {17: OutputConfig()})
    with pytest.raises(DeviceOpenError, match=r"pin 17 .*already used by 'coil'"):
        gpio.request("other", {17: InputConfig()})
    with pytest.raises(DeviceOpenError, match="pin 99 does not exist"):
        gpio.request("other", {99: InputConfig()})
    first.close()
    gpio.request("other", {17: InputConfig()}).close()


async def test_sim_edges_are_logical_filtered_and_timestamped():
    gpio = SimGpioFactory()
    lines = gpio.request("w", {5: InputConfig(bias=Bias.PULL_UP, edge=Edge.FALLING),
                               6: InputConfig(bias=Bias.PULL_UP, edge=Edge.BOTH, active_low=True)})
    gpio.pulse(5, start_ns=1_000, width_ns=50)      # falling then rising: only falling kept
    gpio.drive(6, False, timestamp_ns=2_000)        # active-low: high→low is logical rising
    gpio.drive(6, True, timestamp_ns=3_000)
    got = [await lines.read_edge(1.0) for _ in range(3)]
    assert got == [EdgeEvent(5, False, 1_000), EdgeEvent(6, True, 2_000),
                   EdgeEvent(6, False, 3_000)]
    assert await lines.read_edge(0.01) is None      # nothing more: times out
    lines.close()
    assert await lines.read_edge(None) is None      # closed: returns instead of hanging


async def test_sim_edges_iterator_ends_on_close():
    gpio = SimGpioFactory()
    lines = gpio.request("w", {5: InputConfig(edge=Edge.RISING)})
    gpio.drive(5, True, timestamp_ns=7)

    async def consume():
        return [e async for e in lines.edges()]

    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(consume())
        await asyncio.sleep(0)          # let the consumer take the queued event
        lines.close()
    assert task.result() == [EdgeEvent(5, True, 7)]


async def test_wait_value_wakes_on_edge_and_times_out():
    gpio = SimGpioFactory()
    lines = gpio.request("fb", {27: InputConfig(edge=Edge.BOTH), 4: InputConfig()})
    loop = asyncio.get_running_loop()
    loop.call_soon(gpio.drive, 27, True)
    assert await lines.wait_value(27, True, timeout_s=5.0) is True
    assert await lines.wait_value(27, False, timeout_s=0.02) is False
    loop.call_soon(gpio.drive, 4, True)             # no edge detection: polled
    assert await lines.wait_value(4, True, timeout_s=5.0) is True
    lines.close()


def test_gpiod_line_settings_use_the_real_gpiod_types():
    """No chip needed: checks our mapping onto gpiod 2.x's LineSettings."""
    import datetime

    from gpiod.line import Bias as GBias, Direction, Edge as GEdge, Value
    from hal.gpio.gpiod_backend import line_settings

    out = line_settings(OutputConfig(initial=True, active_low=True))
    assert (out.direction, out.output_value, out.active_low) == (Direction.OUTPUT, Value.ACTIVE, True)
    inp = line_settings(InputConfig(bias=Bias.PULL_UP, edge=Edge.FALLING, debounce_s=0.005))
    assert (inp.direction, inp.bias, inp.edge_detection) == (Direction.INPUT, GBias.PULL_UP,
                                                             GEdge.FALLING)
    assert inp.debounce_period == datetime.timedelta(milliseconds=5)
    assert line_settings(InputConfig()).bias == GBias.AS_IS


async def test_gpiod_explicit_missing_chip_names_chip_and_fix():
    gpio = open_gpio_factory({"factory": "gpiod", "chip": "/dev/gpiochip99"})
    with pytest.raises(DeviceOpenError) as err:
        gpio.request("contactor", {17: OutputConfig()})
    assert "/dev/gpiochip99" in str(err.value) and "gpiodetect" in str(err.value)
    assert "GPIO pin(s) 17 " in str(err.value)       # the technician reads which line


async def test_every_gpiod_open_error_names_the_pins_and_the_device():
    gpio = open_gpio_factory({"factory": "gpiod", "chip": "/dev/gpiochip99"})
    with pytest.raises(DeviceOpenError) as err:
        gpio.request("connector 1 contactor", {17: OutputConfig(), 27: InputConfig()})
    assert str(err.value).startswith("GPIO pin(s) 17, 27 for 'connector 1 contactor': ")


@pytest.mark.skipif(bool(glob.glob("/dev/gpiochip*")), reason="a GPIO chip exists here")
async def test_gpiod_label_search_without_chips_says_so():
    gpio = open_gpio_factory({"factory": "gpiod"})
    with pytest.raises(DeviceOpenError) as err:
        gpio.request("contactor", {17: OutputConfig()})
    message = str(err.value)
    assert "pinctrl-rp1" in message and "no /dev/gpiochip* devices" in message
    assert "GPIO pin(s) 17 " in message


async def test_rpigpio_missing_module_is_a_clear_open_error():
    try:
        import RPi.GPIO  # noqa: F401
        pytest.skip("RPi.GPIO is installed here")
    except (ImportError, RuntimeError):
        pass
    gpio = open_gpio_factory({"factory": "rpigpio"})
    with pytest.raises(DeviceOpenError, match="rpi-lgpio") as err:
        gpio.request("contactor", {17: OutputConfig()})
    assert "GPIO pin(s) 17 " in str(err.value)


@pytest.mark.skipif(not glob.glob("/dev/gpiochip*"), reason="no /dev/gpiochip* on this machine "
                    "(gpiod needs a real chip or the gpio-sim kernel module)")
async def test_gpiod_real_chip_input_roundtrip():
    from hal.gpio.gpiod_backend import GpiodFactory, list_chips
    import gpiod
    path = list_chips()[0]
    with gpiod.Chip(path) as chip:
        info = chip.get_info()
        free = [o for o in range(info.num_lines) if not chip.get_line_info(o).used]
    if not free:
        pytest.skip(f"no free line on {path}")
    gpio = GpiodFactory(chip=path)
    lines = gpio.request("test", {free[-1]: InputConfig(edge=Edge.BOTH)})
    try:
        assert isinstance(lines.get(free[-1]), bool)
        assert path in lines.describe(free[-1])
    finally:
        lines.close()


async def test_sim_chip_removal_makes_lines_fail_like_gpiod():
    import errno

    gpio = SimGpioFactory()
    lines = gpio.request("dev", {1: OutputConfig(), 2: InputConfig()})
    gpio.remove()
    with pytest.raises(OSError) as err:
        lines.set(1, True)
    assert err.value.errno == errno.ENODEV
    with pytest.raises(OSError):
        await lines.wait_value(2, True, 1.0)
    with pytest.raises(DeviceOpenError, match="gone"):
        gpio.request("other", {3: OutputConfig()})
    lines.close()
