"""GPIO behind the HAL: one factory per board, chosen by the board config's ``[gpio]`` table.

```toml
[gpio]
factory = "gpiod"      # "gpiod" | "rpigpio" | "sim" — always explicit, never a fallback
chip_label = ""        # gpiod only: "" = pinctrl-rp1 / pinctrl-bcm2711 / pinctrl-bcm2835
chip = ""              # gpiod only: explicit "/dev/gpiochipN", overrides the label search
consumer = "borne"     # name shown by 'gpioinfo' for the claimed lines
```

Backends are imported only when chosen, so a board without GPIO never loads gpiod or
RPi.GPIO. ``open_gpio_factory`` does not touch hardware yet: the chip is opened when
the first device requests its lines, from that device's ``open()``, so a failure is
reported as that device's ``DeviceOpenError``.
"""

from __future__ import annotations

from typing import Any

from hal.gpio.base import (LINE_ERRORS, Bias, Edge, EdgeEvent, GpioFactory, GpioLines,
                           InputConfig, LineConfig, OutputConfig)
from hal.options import Option, optional, required, validate_table

__all__ = ["Bias", "Edge", "EdgeEvent", "GpioFactory", "GpioLines", "InputConfig", "LineConfig",
           "OutputConfig", "GPIO_OPTIONS", "FACTORIES", "open_gpio_factory", "BIAS_CHOICES",
           "LINE_ERRORS"]

FACTORIES = ("gpiod", "rpigpio", "sim")
BIAS_CHOICES = tuple(b.value for b in Bias)


def _chip_path_check(value: str) -> str | None:
    if value and not value.startswith("/dev/"):
        return f"must be a device path such as '/dev/gpiochip0', got {value!r}"
    return None


GPIO_OPTIONS: tuple[Option, ...] = (
    required("factory", str, "GPIO backend: 'gpiod' (libgpiod v2; Pi 3/4/5 and other Linux "
             "boards), 'rpigpio' (RPi.GPIO API; on a Pi 5 only through rpi-lgpio), 'sim' "
             "(in-memory, simulated boards and tests)", choices=FACTORIES),
    optional("chip_label", str, "", "gpiod: label of the GPIO chip to use; empty = the first "
             "of 'pinctrl-rp1' (Pi 5), 'pinctrl-bcm2711' (Pi 4), 'pinctrl-bcm2835' (Pi 3 "
             "and older) that exists"),
    optional("chip", str, "", "gpiod: explicit chip device path (e.g. '/dev/gpiochip0'); "
             "overrides the label search", check=_chip_path_check),
    optional("consumer", str, "borne", "consumer name attached to the claimed lines (shown by "
             "'gpioinfo')"),
)


def open_gpio_factory(options: dict[str, Any]) -> GpioFactory:
    """Build the GPIO factory named by a ``[gpio]`` table.

    ``options`` may be raw (from TOML) or already validated; invalid tables raise
    ``ValueError`` listing every problem (``borne check-config`` reports them first).
    """
    values, problems = validate_table(options, GPIO_OPTIONS, "gpio")
    if problems:
        raise ValueError("; ".join(str(p) for p in problems))
    factory = values["factory"]
    if factory == "sim":
        from hal.gpio.sim import SimGpioFactory
        return SimGpioFactory()
    if factory == "gpiod":
        from hal.gpio.gpiod_backend import GpiodFactory
        return GpiodFactory(chip=values["chip"], chip_label=values["chip_label"],
                            consumer=values["consumer"])
    from hal.gpio.rpigpio_backend import RpiGpioFactory
    return RpiGpioFactory()
