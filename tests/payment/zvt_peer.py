"""A simulated ZVT payment terminal (PT) for the driver tests, written from hardware.md
§4.3/§4.4: it answers each ECR command with 80 00 00 and then streams its messages one
by one, each after the ECR's ACK. Two transports: a real TCP server on 127.0.0.1 (bare
APDUs) and a real pseudo-terminal (DLE STX framing, CRC-16/KERMIT, ACK/NAK)."""

from __future__ import annotations

import asyncio
import collections

from drivers.payment import zvt_codec as zvt
from drivers.payment import zvt_fields as f
from drivers.payment import zvt_serial_framing as fr
from tests.drivers.ptys import PtyPeer


def status_info(amount_cents: int, receipt: int, trace: int, result: int = 0) -> bytes:
    data = (b"\x27" + bytes([result]) + b"\x04" + f.bcd_encode(amount_cents, 6)
            + b"\x0b" + f.bcd_encode(trace, 3) + b"\x87" + f.bcd_encode(receipt, 2)
            + b"\x8a\x06" + b"\x8b" + f.var_encode(b"MasterCard", 2)
            + b"\x22" + f.var_encode(bytes.fromhex("559884EEEEEE8074"), 2)
            + b"\x49\x09\x78" + b"\x29\x52\x52\x35\x35")
    return zvt.encode_apdu(0x04, 0x0F, data)


COMPLETION = bytes.fromhex("06 0F 00")


class TerminalBrain:
    """What the PT answers, as APDUs. ``behaviour``: "approve", "decline" (06 1E 0x6E
    after the card), "refuse" (84 83), "silent_after_ack" (accepts, then never speaks
    again), "no_answer" (never speaks)."""

    def __init__(self) -> None:
        self.behaviour = "approve"
        self.commands: list[bytes] = []     # every command the ECR sent (ACKs left out)
        self.acks_from_ecr = 0
        self.nacks_from_ecr: list[bytes] = []
        self.receipt = 249
        self.trace = 1012
        self.hold_before_completion = False   # waits (for an abort) before the result
        # a terminal's books: open reservations and what was booked; with
        # ``strict_receipts`` a capture/reversal of a receipt that is not open is refused
        # (06 1E B4 "already reversed"), as a terminal refuses to book a receipt twice
        self.strict_receipts = False
        self.open: dict[int, int] = {}
        self.booked: list[tuple[str, int, int]] = []
        self.silent_on: set[tuple[int, int]] = set()   # commands it books but never answers
        self._queue: collections.deque[bytes] = collections.deque()

    def commands_of(self, cls: int, instr: int) -> list[zvt.Apdu]:
        return [a for a in map(zvt.parse_apdu, self.commands) if a.command == (cls, instr)]

    def _script(self, apdu: zvt.Apdu) -> list[bytes]:
        command = apdu.command
        if command == zvt.PRE_AUTHORISATION:
            amount = f.bcd_decode(apdu.data[1:7])
            self.receipt += 1
            self.trace += 1
            if self.behaviour == "decline":
                return [bytes.fromhex("04 FF 02 0A 00"), bytes.fromhex("06 1E 01 6E")]
            out = [bytes.fromhex("04 FF 02 0A 00")]
            if self.hold_before_completion:
                return out
            self.open[self.receipt] = amount
            self.booked.append(("pre_authorise", self.receipt, amount))
            return out + [status_info(amount, self.receipt, self.trace), COMPLETION]
        if command in (zvt.PARTIAL_REVERSAL, zvt.BOOK_TOTAL, zvt.PRE_AUTH_REVERSAL):
            receipt = f.bcd_decode(apdu.data[1:3])
            amount = f.bcd_decode(apdu.data[4:10]) if command != zvt.PRE_AUTH_REVERSAL else 0
            if self.strict_receipts and receipt not in self.open:
                return [bytes.fromhex("06 1E 01 B4")]
            reserved = self.open.pop(receipt, amount)
            kind = {zvt.PARTIAL_REVERSAL: "release", zvt.BOOK_TOTAL: "book",
                    zvt.PRE_AUTH_REVERSAL: "reverse"}[command]
            booked = reserved - amount if kind == "release" else amount
            self.booked.append((kind, receipt, booked))
            self.trace += 1
            return [status_info(amount, receipt, self.trace), COMPLETION]
        if command == zvt.END_OF_DAY:
            return [bytes.fromhex("04 FF 02 0C 00"),
                    zvt.encode_apdu(0x04, 0x0F, b"\x27\x00\x04" + f.bcd_encode(12345, 6)),
                    COMPLETION]
        if command == zvt.STATUS_ENQUIRY:
            return [zvt.encode_apdu(0x06, 0x0F, f.var_encode(b"SIM-PT 1.0", 3) + b"\x00")]
        if command == zvt.REGISTRATION:
            return [COMPLETION]
        return []

    def on_apdu(self, raw: bytes) -> list[bytes]:
        """The APDUs to send in answer to ``raw`` from the ECR."""
        apdu = zvt.parse_apdu(raw)
        if apdu.cls == 0x80:
            self.acks_from_ecr += 1
            return [self._queue.popleft()] if self._queue else []
        if apdu.cls == 0x84:
            self.nacks_from_ecr.append(raw)
            return [self._queue.popleft()] if self._queue else []
        self.commands.append(raw)
        if self.behaviour == "no_answer":
            return []
        if self.behaviour == "refuse" and apdu.command != zvt.REGISTRATION:
            return [bytes.fromhex("84 83 00")]
        if apdu.command == zvt.ABORT:
            running = bool(self._queue) or self.hold_before_completion
            self._queue.clear()
            self.hold_before_completion = False
            return [zvt.ACK, bytes.fromhex("06 1E 01 6C")] if running else [zvt.ACK]
        self._queue = collections.deque(self._script(apdu))
        if (self.behaviour == "silent_after_ack" and apdu.command != zvt.REGISTRATION) or \
                apdu.command in self.silent_on:
            self._queue.clear()
        out = [zvt.ACK]
        if self._queue:
            out.append(self._queue.popleft())
        return out


class TcpTerminal:
    """The brain behind a real TCP server on 127.0.0.1 (port 0)."""

    def __init__(self, brain: TerminalBrain) -> None:
        self.brain = brain
        self.port = 0
        self.extra: bytes = b""          # sent before the next answer (garbage tests)
        self.delay_s = 0.0               # a slow terminal: pause before each answer
        self._server: asyncio.Server | None = None
        self.connections = 0
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        stream = zvt.ApduStream()
        try:
            while data := await reader.read(4096):
                for apdu in stream.feed(data):
                    if self.delay_s:
                        await asyncio.sleep(self.delay_s)
                    for out in self.brain.on_apdu(apdu.encode()):
                        writer.write(self.extra + out)
                        self.extra = b""
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def drop_connections(self) -> None:
        for writer in self._writers:
            writer.close()
        self._writers.clear()

    async def stop(self) -> None:
        await self.drop_connections()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


class SerialTerminal:
    """The brain on the master side of a real pty, with the ZVT serial framing.

    ``nak_ecr_frames``: answer that many of the ECR's next frames with NAK;
    ``corrupt_own_frames``: send that many of its own frames with a broken CRC first;
    ``garbage``: bytes sent before each of its frames (noise on the line).
    """

    def __init__(self, brain: TerminalBrain, pty: PtyPeer) -> None:
        self.brain = brain
        self.pty = pty
        self.nak_ecr_frames = 0
        self.corrupt_own_frames = 0
        self.garbage = b""
        self.naks_received = 0
        self.ack_timeout_s = 1.0
        self.frames_from_ecr: list[bytes] = []
        self._decoder = fr.FrameDecoder()
        self._events: collections.deque[fr.FrameEvent] = collections.deque()
        self._stashed: collections.deque[bytes] = collections.deque()

    async def _event(self) -> fr.FrameEvent:
        while not self._events:
            self._events.extend(self._decoder.feed(await self.pty.read(timeout_s=3600)))
        return self._events.popleft()

    async def _send(self, apdu: bytes) -> None:
        frame = fr.encode_frame(apdu)
        for _ in range(fr.MAX_ATTEMPTS + 1):
            if self.corrupt_own_frames:
                self.corrupt_own_frames -= 1
                self.pty.write(self.garbage + frame[:-1] + bytes([frame[-1] ^ 0xFF]))
            else:
                self.pty.write(self.garbage + frame)
            while True:
                try:
                    async with asyncio.timeout(self.ack_timeout_s):   # its T3
                        event = await self._event()
                except TimeoutError:
                    event = fr.NakReceived()
                    break
                if isinstance(event, fr.FrameReceived):
                    # e.g. the ECR's abort while it still owes us an ACK: take it now,
                    # act on it once this frame is through
                    self.pty.write(fr.ACK_BYTE)
                    self.frames_from_ecr.append(event.apdu)
                    self._stashed.append(event.apdu)
                    continue
                if isinstance(event, fr.FrameCorrupt):
                    continue
                break
            if isinstance(event, fr.AckReceived):
                return
            self.naks_received += 1

    async def run(self) -> None:
        while True:
            if self._stashed:
                apdu = self._stashed.popleft()
            else:
                event = await self._event()
                if not isinstance(event, fr.FrameReceived):
                    continue
                apdu = event.apdu
                if self.nak_ecr_frames:
                    self.nak_ecr_frames -= 1
                    self.pty.write(fr.NAK_BYTE)
                    continue
                self.pty.write(fr.ACK_BYTE)
                self.frames_from_ecr.append(apdu)
            for out in self.brain.on_apdu(apdu):
                await self._send(out)
