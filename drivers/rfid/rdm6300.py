"""RDM6300 125 kHz EM4100 reader (TX-only UART, 9600 8N1).

The module repeats the frame while a card is in the field; one ``CardRead`` is
yielded per presentation (``debounce_s`` without a frame ends it). ``CardRead.uid`` is
the 5 decoded bytes (version/customer byte + 4-byte tag id, in transmission order),
``raw`` the 12 hex characters between STX and ETX, ``technology`` "EM4100".
"""

from __future__ import annotations

import logging
import time
from typing import Any, AsyncIterator, Callable

from drivers import serial_options
from drivers.registry import BuildContext, DriverSpec
from drivers.rfid.debounce import CardDebouncer
from drivers.rfid.rdm6300_codec import Rdm6300Decoder
from hal.interfaces import CardRead, DeviceInfo
from hal.options import optional
from hal.serial import SerialPort, SerialSettings

log = logging.getLogger(__name__)


class Rdm6300Reader:
    """``RfidReader`` for an RDM6300. Raises ``DeviceUnavailable`` from ``cards()`` when
    the port disappears; silence is normal (no card)."""

    def __init__(self, settings: SerialSettings, *, name: str = "rfid", debounce_s: float = 0.5,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.settings = settings
        self._port = SerialPort(settings)
        self._decoder = Rdm6300Decoder()
        self._debouncer = CardDebouncer(debounce_s, clock)
        self._reported_rejects = 0

    async def open(self) -> None:
        await self._port.open()

    async def close(self) -> None:
        await self._port.close()

    def info(self) -> DeviceInfo:
        return DeviceInfo(role="rfid", name=self.name, backend="rdm6300",
                          port=self.settings.describe(),
                          details={"rejected_frames": str(self._decoder.rejected)})

    async def cards(self) -> AsyncIterator[CardRead]:
        await self._port.ensure_open()       # after a lost port: reopen or raise
        while True:
            chunk = await self._port.read()
            for frame in self._decoder.feed(chunk):
                if self._debouncer.seen(frame.data):
                    yield CardRead(uid=frame.data, raw=frame.raw, reader=self.name,
                                   technology="EM4100")
            if self._decoder.rejected != self._reported_rejects:
                log.debug("%s: %d malformed frame(s) dropped so far", self.name,
                          self._decoder.rejected)
                self._reported_rejects = self._decoder.rejected


OPTIONS = serial_options.serial_options(baudrate=9600, what="RDM6300 (its TX pin only)") + (
    optional("debounce_s", float, 0.5, "a card must be silent this long before it counts as a "
             "new presentation (the module repeats frames while the card is present)",
             minimum=0.0, maximum=60.0),
)


def build(ctx: BuildContext, options: dict[str, Any]) -> Rdm6300Reader:
    settings, rest = serial_options.split(options)
    return Rdm6300Reader(settings, name=ctx.name, **rest)


SPEC = DriverSpec(role="rfid", name="rdm6300", options=OPTIONS, build=build,
                  doc="RDM6300 125 kHz EM4100 reader on a UART (reader TX → Pi RX).")
