"""Readers that print the card UID as a text line on a serial port (USB CDC or UART).

``CardRead.uid`` is the parsed bytes in the order printed; ``raw`` the line as
received; ``technology`` is configurable
(default "ISO14443A"). Unparseable lines are logged at INFO and dropped.
"""

from __future__ import annotations

import logging
import time
from typing import Any, AsyncIterator, Callable

from drivers import serial_options
from drivers.registry import BuildContext, DriverSpec
from drivers.rfid.debounce import CardDebouncer
from drivers.rfid.line_codec import FORMATS, BadLine, LineDecoder, LineFormat
from hal.interfaces import CardRead, DeviceInfo
from hal.options import optional
from hal.serial import SerialPort, SerialSettings

log = logging.getLogger(__name__)


class LineReader:
    """``RfidReader`` for UID-per-line readers; ``cards()`` raises ``DeviceUnavailable``
    when the port disappears."""

    def __init__(self, settings: SerialSettings, fmt: LineFormat, *, name: str = "rfid",
                 debounce_s: float = 1.0, technology: str = "ISO14443A",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.settings = settings
        self.fmt = fmt
        self.technology = technology
        self._port = SerialPort(settings)
        self._decoder = LineDecoder(fmt)
        self._debouncer = CardDebouncer(debounce_s, clock)
        self._last_error = ""
        self.bad_lines = 0

    async def open(self) -> None:
        await self._port.open()

    async def close(self) -> None:
        await self._port.close()

    def info(self) -> DeviceInfo:
        return DeviceInfo(role="rfid", name=self.name, backend="line",
                          port=self.settings.describe(), last_error=self._last_error,
                          details={"format": self.fmt.format, "bad_lines": str(self.bad_lines)})

    async def cards(self) -> AsyncIterator[CardRead]:
        await self._port.ensure_open()       # after a lost port: reopen or raise
        while True:
            for item in self._decoder.feed(await self._port.read()):
                if isinstance(item, BadLine):
                    self.bad_lines += 1
                    # the line may be a card number: keep it out of INFO logs
                    self._last_error = f"ignored line ({item.reason})"
                    log.info("%s: ignored a line of %d chars: %s", self.name, len(item.line),
                             item.reason)
                    log.debug("%s: ignored line %r", self.name, item.line)
                    continue
                if self._debouncer.seen(item.uid):
                    yield CardRead(uid=item.uid, raw=item.line, reader=self.name,
                                   technology=self.technology)


def _separator_check(value: str) -> str | None:
    return None if len(value) <= 1 else f"must be empty or one character, got {value!r}"


OPTIONS = serial_options.serial_options(baudrate=9600, what="reader") + (
    optional("format", str, "hex", "how the UID is printed: 'hex' or 'decimal'", choices=FORMATS),
    optional("separator", str, "", "hex only: character between byte groups (':' , ' ', '-'); "
             "empty = contiguous digits", check=_separator_check),
    optional("prefix", str, "", "text printed before the UID, stripped when present"),
    optional("decimal_bytes", int, 4, "decimal only: number of UID bytes the number encodes",
             minimum=1, maximum=10),
    optional("debounce_s", float, 1.0, "the same card within this time counts once",
             minimum=0.0, maximum=60.0),
    optional("technology", str, "ISO14443A", "technology reported with each card (e.g. "
             "'EM4100' for a 125 kHz reader)"),
)


def build(ctx: BuildContext, options: dict[str, Any]) -> LineReader:
    settings, rest = serial_options.split(options)
    fmt = LineFormat(format=rest.pop("format"), separator=rest.pop("separator"),
                     prefix=rest.pop("prefix"), decimal_bytes=rest.pop("decimal_bytes"))
    return LineReader(settings, fmt, name=ctx.name, **rest)


SPEC = DriverSpec(role="rfid", name="line", options=OPTIONS, build=build,
                  doc="Any reader that prints one UID per text line (CR, LF or CRLF).")
