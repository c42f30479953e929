"""NXP PN532 reader over HSU (UART), polling for ISO 14443 Type A cards.

Dialogue (UM0701-02): host sends a command frame, the PN532 answers ACK, then the
response frame. Start-up: wake-up preamble + SAMConfiguration (normal mode), then
RFConfiguration MaxRetries so that InListPassiveTarget answers "no target" instead of
waiting forever (a reader that does not accept it is still polled). Poll loop:
InListPassiveTarget(1 target, 106 kbps Type A) every ``poll_interval_s``.

Failure handling: a NACK, error frame, garbage or timeout makes the command be sent
again (``retries`` times); a response that fails its checksum is asked again with a
NACK (the PN532 re-sends its last response); an unanswered command is aborted by
sending an ACK. After ``retries`` failures of one command the reader is re-initialised
(wake-up + SAM) once; if that fails too, ``cards()`` raises ``DeviceUnavailable``. A
port that disappears raises ``DeviceUnavailable`` at once.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from typing import Any, AsyncIterator, Callable

from drivers import serial_options
from drivers.errors import ProtocolError
from drivers.registry import BuildContext, DriverSpec
from drivers.rfid import pn532_codec as codec
from drivers.rfid.debounce import CardDebouncer
from hal.errors import DeviceUnavailable
from hal.interfaces import CardRead, DeviceInfo
from hal.options import optional
from hal.serial import SerialPort, SerialSettings

log = logging.getLogger(__name__)


class Pn532Reader:
    """``RfidReader`` for a PN532 on a serial port (HSU, default 115200 8N1).

    :param poll_interval_s: pause between two InListPassiveTarget polls
    :param debounce_s: a card must be absent this long before it counts again
    :param response_timeout_s: max wait for the ACK and for the response of a command
    :param retries: attempts per command before re-initialising the reader
    :param clock: monotonic clock in seconds (injectable for tests)
    """

    def __init__(self, settings: SerialSettings, *, name: str = "rfid",
                 poll_interval_s: float = 0.25, debounce_s: float = 1.0,
                 response_timeout_s: float = 0.5, retries: int = 3,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.settings = settings
        self.poll_interval_s = poll_interval_s
        self.response_timeout_s = response_timeout_s
        self.retries = retries
        self._port = SerialPort(settings)
        self._decoder = codec.FrameDecoder(codec.TFI_PN532)
        self._events: collections.deque[codec.Event] = collections.deque()
        self._debouncer = CardDebouncer(debounce_s, clock)
        self._last_error = ""
        self._firmware = ""
        self._initialised = False

    # -- Device ---------------------------------------------------------------------
    async def open(self) -> None:
        await self._port.open()

    async def close(self) -> None:
        await self._port.close()
        self._initialised = False

    async def probe(self) -> None:
        """``ReadinessProbe``: reopen a lost port and initialise the PN532. Raises
        ``DeviceUnavailable`` (``ProtocolError`` when the module does not answer)."""
        await self._port.ensure_open()
        await self.initialise()

    def info(self) -> DeviceInfo:
        return DeviceInfo(role="rfid", name=self.name, backend="pn532",
                          port=self.settings.describe(), last_error=self._last_error,
                          details={"poll_interval_s": f"{self.poll_interval_s:g}",
                                   "garbage_bytes": str(self._decoder.garbage_bytes)})

    # -- protocol -------------------------------------------------------------------
    async def _next_event(self, timeout_s: float) -> codec.Event | None:
        """The next decoded event, or None when nothing complete arrives in time."""
        if self._events:
            return self._events.popleft()
        try:
            async with asyncio.timeout(timeout_s):
                while not self._events:
                    self._events.extend(self._decoder.feed(await self._port.read()))
        except TimeoutError:
            return None
        return self._events.popleft()

    def _flush(self) -> None:
        self._events.clear()
        self._decoder.reset()

    async def _exchange_once(self, frame: bytes, code: int, preamble: bytes) -> bytes | None:
        """Send one command; return the response data, or None to retry."""
        self._flush()
        await self._port.write(preamble + frame)
        event = await self._next_event(self.response_timeout_s)
        # noise or a late response to an aborted command may precede the ACK
        while isinstance(event, (codec.Corrupt, codec.Frame)):
            event = await self._next_event(self.response_timeout_s)
        if not isinstance(event, codec.Ack):
            log.debug("%s: no ACK for 0x%02X (%r)", self.name, code, event)
            return None
        nacks_left = 2
        while True:
            event = await self._next_event(self.response_timeout_s)
            if event is None:
                # abort the pending command so the next one is not queued behind it
                await self._port.write(codec.ACK)
                log.debug("%s: no response to 0x%02X", self.name, code)
                return None
            if isinstance(event, codec.Frame) and event.code == code + 1:
                return event.data
            if isinstance(event, codec.Corrupt) and nacks_left:
                nacks_left -= 1
                await self._port.write(codec.NACK)     # ask for the response again
                continue
            if isinstance(event, (codec.Ack, codec.Nack)):
                continue
            log.debug("%s: unexpected %r for 0x%02X", self.name, event, code)
            return None

    async def command(self, frame: bytes, *, preamble: bytes = b"") -> bytes:
        """Send ``frame`` (from ``pn532_codec``) and return the response data.

        Raises ``ProtocolError`` after ``retries`` failed attempts and
        ``DeviceUnavailable`` if the port disappears.
        """
        code = frame[9] if frame[3:5] == b"\xff\xff" else frame[6]
        for attempt in range(self.retries):
            data = await self._exchange_once(frame, code, preamble if attempt == 0 else b"")
            if data is not None:
                return data
        raise ProtocolError(f"{self.name}: PN532 on {self.settings.port} did not answer command "
                            f"0x{code:02X} after {self.retries} attempts (check wiring TX↔RX, "
                            f"HSU mode jumpers/switches, baudrate)")

    async def initialise(self) -> None:
        """Wake the PN532, configure the SAM and the passive-activation retries."""
        await self.command(codec.sam_configuration(), preamble=codec.WAKEUP)
        try:
            await self.command(codec.rf_max_retries())
        except ProtocolError as exc:
            # Only keeps "no card" polls short; UIDs read without it (emulators and
            # clones may not implement RFConfiguration). A dead reader fails the poll.
            log.warning("%s: RFConfiguration (MaxRetries) not accepted, polling without it: "
                        "%s", self.name, exc)
        try:
            fw = await self.command(codec.get_firmware_version())
            if len(fw) >= 5:
                self._firmware = f"IC 0x{fw[1]:02X} v{fw[2]}.{fw[3]}"
        except ProtocolError:
            self._firmware = "unknown"  # not needed for reading UIDs
        self._initialised = True
        log.info("%s: PN532 ready on %s (%s)", self.name, self.settings.port, self._firmware)

    async def poll_once(self) -> list[codec.TypeATarget]:
        data = await self.command(codec.in_list_passive_target())
        try:
            return codec.parse_in_list_passive_target(data)
        except codec.TargetParseError as exc:
            # the bytes may hold a UID: keep them out of WARNING logs
            log.warning("%s: malformed InListPassiveTarget response (%d bytes): %s",
                        self.name, len(data), exc)
            log.debug("%s: malformed response %s", self.name, data.hex(" "))
            return []

    async def cards(self) -> AsyncIterator[CardRead]:
        """Poll forever; yield one ``CardRead`` per presentation.

        Raises ``DeviceUnavailable`` when the reader stops answering or the port goes.
        """
        await self._port.ensure_open()           # after a lost port: reopen or raise
        self._initialised = False                # a new consumer starts from a known state
        failures = 0
        while True:
            try:
                if not self._initialised:
                    await self.initialise()
                targets = await self.poll_once()
                failures = 0
            except ProtocolError as exc:
                self._last_error = str(exc)
                self._initialised = False
                failures += 1
                if failures > 1:
                    raise DeviceUnavailable(str(exc)) from exc
                log.warning("%s; re-initialising", exc)
                continue
            for target in targets:
                if self._debouncer.seen(target.uid):
                    self._last_error = ""
                    yield CardRead(uid=target.uid, raw=_raw(target), reader=self.name,
                                   technology="ISO14443A")
            await asyncio.sleep(self.poll_interval_s)


def _raw(target: codec.TypeATarget) -> str:
    raw = f"ATQA={target.atqa.hex().upper()} SAK={target.sak:02X} UID={target.uid.hex().upper()}"
    if target.ats:
        raw += f" ATS={target.ats.hex().upper()}"
    return raw


OPTIONS = serial_options.serial_options(baudrate=115200, what="PN532 (HSU mode)") + (
    optional("poll_interval_s", float, 0.25, "pause between two card polls", minimum=0.0,
             maximum=5.0),
    optional("debounce_s", float, 1.0, "a card must be away this long before it counts as a "
             "new presentation", minimum=0.0, maximum=60.0),
    optional("response_timeout_s", float, 0.5, "max wait for the ACK and for each response",
             minimum=0.01, maximum=5.0),
    optional("retries", int, 3, "attempts per command before the reader is re-initialised",
             minimum=1, maximum=10),
)


def build(ctx: BuildContext, options: dict[str, Any]) -> Pn532Reader:
    settings, rest = serial_options.split(options)
    return Pn532Reader(settings, name=ctx.name, **rest)


SPEC = DriverSpec(role="rfid", name="pn532", options=OPTIONS, build=build,
                  doc="NXP PN532 NFC reader in HSU (UART) mode; ISO 14443A UIDs of 4, 7 or "
                      "10 bytes.")
