"""Option lists for a serial port, with explicit per-driver defaults.

Every serial driver declares port, baudrate, parity, stopbits and bytesize; the
defaults are the device's documented factory settings (hardware.md), never a library
default. ``settings_from(options)`` turns validated options into ``SerialSettings``.
"""

from __future__ import annotations

from typing import Any

from hal.options import Option, optional, required
from hal.serial import BYTESIZES, PARITIES, SerialSettings

SERIAL_KEYS = ("port", "baudrate", "parity", "stopbits", "bytesize")
BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400)


def _port_check(value: str) -> str | None:
    if not value.startswith("/"):
        return f"must be a device path such as '/dev/ttyUSB0' or '/dev/serial0', got {value!r}"
    return None


def serial_options(*, baudrate: int, parity: str = "N", stopbits: float = 1,
                   bytesize: int = 8, what: str = "device") -> tuple[Option, ...]:
    return (
        required("port", str, f"serial device of the {what} (prefer /dev/serial/by-id/... for "
                 f"USB adapters, /dev/serial0 for the Pi's UART)", check=_port_check),
        optional("baudrate", int, baudrate, "line speed in bit/s", choices=BAUDRATES),
        optional("parity", str, parity, "'N' none, 'E' even, 'O' odd", choices=PARITIES[:3]),
        optional("stopbits", float, stopbits, "stop bits: 1 or 2", choices=(1, 2)),
        optional("bytesize", int, bytesize, "data bits", choices=BYTESIZES),
    )


def settings_from(options: dict[str, Any]) -> SerialSettings:
    stopbits = options["stopbits"]
    return SerialSettings(port=options["port"], baudrate=options["baudrate"],
                          bytesize=options["bytesize"], parity=options["parity"],
                          stopbits=int(stopbits) if float(stopbits).is_integer() else stopbits)


def split(options: dict[str, Any]) -> tuple[SerialSettings, dict[str, Any]]:
    """(serial settings, the remaining driver options)."""
    rest = {k: v for k, v in options.items() if k not in SERIAL_KEYS}
    return settings_from(options), rest
