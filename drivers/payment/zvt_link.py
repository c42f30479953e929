"""Thin async transports for ZVT APDUs: RS-232 (framed, ACK/NAK) and TCP (bare APDUs).

Both offer ``send(apdu)`` (bounded) and ``receive()`` (waits for one APDU; the caller
bounds it with the dialogue's T2/T4 and may cancel it at any await without losing bytes:
everything read is fed to the decoder before the next await).

Failure modes: ``PaymentTerminalUnavailable`` when the terminal does not ACK a frame
after ``MAX_ATTEMPTS`` sends (T3 each), keeps sending corrupt frames, or the port /
connection goes away. ``DeviceOpenError`` only for a serial port that cannot be opened
at start (a wiring/config mistake); a TCP terminal that is down at start is connected
to again at the next operation, so card payment stays a fault, not a stopped agent.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Protocol

from drivers.payment import zvt_serial_framing as fr
from drivers.payment.zvt_codec import ApduStream
from hal.errors import DeviceUnavailable, PaymentTerminalUnavailable
from hal.serial import SerialPort, SerialSettings

log = logging.getLogger(__name__)

MAX_BAD_FRAMES = 3     # corrupt frames in a row (each NAKed) before the link is broken


class ZvtLink(Protocol):
    def describe(self) -> str: ...

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def flush(self) -> None: ...

    async def reset(self) -> None:
        """After a failed dialogue: drop partial input so the next one starts clean."""

    async def send(self, apdu: bytes) -> None: ...

    async def receive(self) -> bytes: ...


class SerialZvtLink:
    """ZVT over RS-232: every APDU in a DLE STX ... DLE ETX CRC frame, ACK/NAK per frame."""

    def __init__(self, settings: SerialSettings, timeouts: fr.ZvtTimeouts) -> None:
        self.settings = settings
        self.timeouts = timeouts
        self._port = SerialPort(settings)
        self._decoder = fr.FrameDecoder()
        self._frames: collections.deque[bytes] = collections.deque()
        self._replies: collections.deque[fr.FrameEvent] = collections.deque()
        self._events: collections.deque[fr.FrameEvent] = collections.deque()
        self._bad_frames = 0
        self.naks_sent = 0
        self.resends = 0

    def describe(self) -> str:
        return self.settings.describe()

    async def open(self) -> None:
        await self._port.open()

    async def close(self) -> None:
        await self._port.close()

    def flush(self) -> None:
        """Forget frames and ACKs left over from an earlier dialogue."""
        self._frames.clear()
        self._replies.clear()

    async def reset(self) -> None:
        self.flush()
        self._events.clear()
        self._decoder.reset()      # DLE STX framing resynchronises by itself from here

    async def _read(self) -> bytes:
        try:
            await self._port.ensure_open()
            return await self._port.read()
        except DeviceUnavailable as exc:
            raise PaymentTerminalUnavailable(str(exc)) from exc

    async def _write(self, data: bytes) -> None:
        try:
            await self._port.ensure_open()
            await self._port.write(data)
        except DeviceUnavailable as exc:
            raise PaymentTerminalUnavailable(str(exc)) from exc

    async def _pump(self) -> None:
        """Read once (at most T1 inside a frame) and act on what was decoded."""
        # decoded events are queued before anything is awaited, and a frame is kept before
        # its ACK is written: a receive() cancelled here (an abort) loses nothing
        if not self._events:
            if self._decoder.in_frame:
                try:
                    async with asyncio.timeout(self.timeouts.t1_s):
                        data = await self._read()
                except TimeoutError:
                    self._events.extend(self._decoder.abandon())
                else:
                    self._events.extend(self._decoder.feed(data))
            else:
                self._events.extend(self._decoder.feed(await self._read()))
        while self._events:
            event = self._events.popleft()
            if isinstance(event, fr.FrameReceived):
                self._bad_frames = 0
                self._frames.append(event.apdu)
                await self._write(fr.ACK_BYTE)
            elif isinstance(event, fr.FrameCorrupt):
                self._bad_frames += 1
                log.debug("%s: corrupt frame (%s), NAK", self.settings.port, event.reason)
                self.naks_sent += 1
                await self._write(fr.NAK_BYTE)     # also the last: the terminal owes nothing
                if self._bad_frames > MAX_BAD_FRAMES:
                    self._bad_frames = 0
                    raise PaymentTerminalUnavailable(
                        f"payment terminal on {self.settings.port} sent {MAX_BAD_FRAMES + 1} "
                        f"corrupt frames in a row ({event.reason}): check the cable, "
                        f"baudrate and 2 stop bits")
            else:
                self._replies.append(event)

    async def send(self, apdu: bytes) -> None:
        frame = fr.encode_frame(apdu)
        for attempt in range(fr.MAX_ATTEMPTS):
            if attempt:
                self.resends += 1
            self._replies.clear()
            await self._write(frame)
            try:
                async with asyncio.timeout(self.timeouts.t3_s):
                    while not self._replies:
                        await self._pump()
            except TimeoutError:
                continue
            if isinstance(self._replies.popleft(), fr.AckReceived):
                return
        raise PaymentTerminalUnavailable(
            f"payment terminal on {self.settings.port} did not acknowledge a frame after "
            f"{fr.MAX_ATTEMPTS} attempts (T3 {self.timeouts.t3_s:g} s): check power, cable "
            f"and the serial settings (ZVT: 9600 8N2)")

    async def receive(self) -> bytes:
        while not self._frames:
            await self._pump()
        return self._frames.popleft()


class TcpZvtLink:
    """ZVT over TCP: bare APDUs, no framing and no transport ACK (hardware.md §4.3)."""

    def __init__(self, host: str, port: int, timeouts: fr.ZvtTimeouts) -> None:
        self.host = host
        self.port = port
        self.timeouts = timeouts
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._stream = ApduStream()
        self._apdus: collections.deque[bytes] = collections.deque()

    def describe(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    async def open(self) -> None:
        try:
            await self._connect()
        except PaymentTerminalUnavailable as exc:
            log.warning("%s; will connect again at the next payment operation", exc)

    async def _connect(self) -> None:
        if self._writer is not None:
            return
        try:
            async with asyncio.timeout(self.timeouts.t3_s):
                self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        except (OSError, TimeoutError) as exc:
            raise PaymentTerminalUnavailable(
                f"payment terminal at {self.describe()} cannot be reached ({exc or 'timeout'}):"
                f" check the address, the port (often 20007 or 22000) and the network") from exc
        self._stream.reset()
        self._apdus.clear()

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()
            except (OSError, TimeoutError):
                pass

    async def _lost(self, why: str) -> PaymentTerminalUnavailable:
        await self.close()     # the next operation reconnects: the only resync TCP has
        return PaymentTerminalUnavailable(f"payment terminal at {self.describe()}: {why}")

    def flush(self) -> None:
        self._apdus.clear()

    async def reset(self) -> None:
        # a bare APDU stream cannot resynchronise (a bad length byte swallows what
        # follows): reconnect at the next operation
        await self.close()

    async def send(self, apdu: bytes) -> None:
        await self._connect()
        assert self._writer is not None
        try:
            self._writer.write(apdu)
            async with asyncio.timeout(self.timeouts.t3_s):
                await self._writer.drain()
        except (OSError, TimeoutError) as exc:
            raise await self._lost(f"sending failed ({exc or 'timeout'})") from exc

    async def receive(self) -> bytes:
        await self._connect()
        while not self._apdus:
            assert self._reader is not None
            try:
                data = await self._reader.read(4096)
            except OSError as exc:
                raise await self._lost(f"connection failed ({exc})") from exc
            if not data:
                raise await self._lost("the terminal closed the connection")
            self._apdus.extend(a.encode() for a in self._stream.feed(data))
        return self._apdus.popleft()
