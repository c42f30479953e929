"""Framed, checksummed Pi <-> MCU serial protocol (sans-I/O; see docs/mcu-protocol.md).

This one module runs unchanged on MicroPython and CPython: no typing imports, no dataclasses,
no f-strings, only builtin names in annotations. Both sides of the link import it.

Frame on the wire::

    SOF 0xA5 | LEN | SEQ | TYPE | PAYLOAD (LEN-2 bytes) | CRC16 hi | CRC16 lo

LEN counts SEQ + TYPE + PAYLOAD (2..MAX_LEN). The CRC is CRC-16/CCITT-FALSE (poly 0x1021,
init 0xFFFF) over LEN..PAYLOAD. Every frame except ACK is acknowledged with ACK(seq, status);
the sender retransmits an unacknowledged frame after RETRY_MS, at most MAX_RETRIES times, and
a receiver that sees the same SEQ twice in a row acks again (with the first ack's status)
without applying it twice. A sender's first frame after it started has SEQ 0, later ones
cycle 1..255: SEQ 0 is never taken for a duplicate, so a side that restarted is not ignored
because its first SEQ happens to equal the last one the other side saw. Every command is
idempotent, so a retransmitted SEQ-0 frame applied twice does no harm.
"""

SOF = 0xA5
MAX_LEN = 40  # SEQ + TYPE + payload; bounds the decoder's buffer (a hostile stream cannot grow it)
PROTOCOL_MAJOR = 1
PROTOCOL_MINOR = 0

# Host -> MCU commands.
CMD_OFFER_CURRENT = 0x01  # payload: u16 big-endian, deciamps (0 = no energy offered, pilot B1 / 100 %)
CMD_ALLOW_ENERGY = 0x02
CMD_FORBID_ENERGY = 0x03
CMD_READ_STATE = 0x04  # also the host's keep-alive
CMD_SELF_TEST = 0x05
CMD_VERSION = 0x06

# MCU -> host.
MSG_ACK = 0x80  # payload: acked SEQ, status
MSG_STATE = 0x81  # payload: STATE_LEN bytes, see encode_state
MSG_PILOT_CHANGED = 0x82  # payload: pilot state letter (ASCII 'A'..'F')
MSG_CONTACTOR_CHANGED = 0x83  # payload: closed (0/1), mirror closed (0/1)
MSG_FAULT = 0x84  # payload: u16 fault bits
MSG_KEEPALIVE = 0x85  # payload: same as MSG_STATE
MSG_VERSION = 0x86  # payload: major, minor, ASCII firmware version
MSG_SELF_TEST = 0x87  # payload: passed (0/1), u16 fault bits

ACK_OK = 0
ACK_REFUSED = 1  # well-formed but not allowed now (e.g. current out of range)
ACK_UNKNOWN = 2  # unknown TYPE or bad payload length

# Fault bits (u16).
FAULT_DIODE = 0x0001
FAULT_PILOT_E = 0x0002
FAULT_PILOT_F = 0x0004
FAULT_MIRROR = 0x0008
FAULT_RCD = 0x0010
FAULT_HOST_SILENT = 0x0020
FAULT_SELF_TEST = 0x0040
FAULT_PILOT_LOST = 0x0080  # no pilot sample for PILOT_SAMPLE_TIMEOUT_MS (ADC or loop stalled)

FAULT_NAMES = (
    (FAULT_DIODE, "diode"),
    (FAULT_PILOT_E, "pilot_e"),
    (FAULT_PILOT_F, "pilot_f"),
    (FAULT_MIRROR, "mirror"),
    (FAULT_RCD, "rcd"),
    (FAULT_HOST_SILENT, "host_silent"),
    (FAULT_SELF_TEST, "self_test"),
    (FAULT_PILOT_LOST, "pilot_lost"),
)

RETRY_MS = 100
MAX_RETRIES = 3
MAX_QUEUE = 8  # frames waiting behind the in-flight one; a silent peer cannot exhaust RAM
STATE_LEN = 9


class ProtocolError(Exception):
    """A payload that does not parse (wrong length, bad field)."""


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE; crc16(b"123456789") == 0x29B1."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            if crc & 0x8000:
                crc = ((crc << 1) ^ 0x1021) & 0xFFFF
            else:
                crc = (crc << 1) & 0xFFFF
    return crc


class Frame:
    """One decoded frame: seq (0..255), kind (TYPE byte), payload (bytes)."""

    def __init__(self, seq: int, kind: int, payload: bytes = b"") -> None:
        self.seq = seq
        self.kind = kind
        self.payload = bytes(payload)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Frame)
            and self.seq == other.seq
            and self.kind == other.kind
            and self.payload == other.payload
        )

    def __repr__(self) -> str:
        return "Frame(%d, 0x%02x, %r)" % (self.seq, self.kind, self.payload)


def encode(seq: int, kind: int, payload: bytes = b"") -> bytes:
    """The wire bytes of one frame. Raises ProtocolError on out-of-range fields."""
    if not 0 <= seq <= 255 or not 0 <= kind <= 255:
        raise ProtocolError("seq/type out of range")
    length = 2 + len(payload)
    if length > MAX_LEN:
        raise ProtocolError("payload too long")
    body = bytes([length, seq, kind]) + bytes(payload)
    crc = crc16(body)
    return bytes([SOF]) + body + bytes([crc >> 8, crc & 0xFF])


class Decoder:
    """Stream decoder: feed() any chunk, get the complete valid frames.

    Garbage before SOF, bad LEN and bad CRC are dropped (counted in `errors`) and the decoder
    resynchronises on the next SOF byte; its buffer never exceeds one maximal frame.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.errors = 0

    def feed(self, data: bytes) -> list:
        self._buf.extend(data)
        frames = []
        buf = self._buf
        while True:
            start = buf.find(bytes([SOF]))
            if start < 0:
                if buf:
                    self.errors += 1
                buf = bytearray()
                break
            if start > 0:
                self.errors += 1
                buf = buf[start:]
            if len(buf) < 2:
                break
            length = buf[1]
            if length < 2 or length > MAX_LEN:
                self.errors += 1
                buf = buf[1:]
                continue
            total = length + 4
            if len(buf) < total:
                break
            body = bytes(buf[1 : 2 + length])
            crc = (buf[2 + length] << 8) | buf[3 + length]
            if crc16(body) != crc:
                self.errors += 1
                buf = buf[1:]
                continue
            frames.append(Frame(body[1], body[2], body[3:]))
            buf = buf[total:]
        self._buf = buf
        return frames


# ---- payload helpers -------------------------------------------------------------------------


def encode_u16(value: int) -> bytes:
    if not 0 <= value <= 0xFFFF:
        raise ProtocolError("u16 out of range")
    return bytes([value >> 8, value & 0xFF])


def decode_u16(payload: bytes) -> int:
    if len(payload) != 2:
        raise ProtocolError("expected 2 bytes")
    return (payload[0] << 8) | payload[1]


def encode_state(
    pilot: str, contactor: bool, mirror: bool, energy_allowed: bool, faults: int,
    offered_da: int, cable_a: int, uptime_s: int,
) -> bytes:
    """STATE payload: pilot letter, flags (1 contactor, 2 mirror, 4 allowed), u16 faults,
    u16 offered deciamps, cable rating A (0 = no PP), u16 uptime seconds (wrapping)."""
    flags = (1 if contactor else 0) | (2 if mirror else 0) | (4 if energy_allowed else 0)
    return (
        bytes([ord(pilot), flags]) + encode_u16(faults) + encode_u16(offered_da)
        + bytes([cable_a & 0xFF]) + encode_u16(uptime_s & 0xFFFF)
    )


def decode_state(payload: bytes) -> dict:
    if len(payload) != STATE_LEN:
        raise ProtocolError("state payload must be %d bytes" % STATE_LEN)
    pilot = chr(payload[0])
    if pilot not in "ABCDEF":
        raise ProtocolError("bad pilot state")
    flags = payload[1]
    return {
        "pilot": pilot,
        "contactor": bool(flags & 1),
        "mirror": bool(flags & 2),
        "energy_allowed": bool(flags & 4),
        "faults": decode_u16(payload[2:4]),
        "offered_da": decode_u16(payload[4:6]),
        "cable_a": payload[6],
        "uptime_s": decode_u16(payload[7:9]),
    }


def fault_names(bits: int) -> list:
    return [name for bit, name in FAULT_NAMES if bits & bit]


class Link:
    """Sequencing, acks, duplicate suppression and retransmission for one side of the link.

    Sans-I/O: send() returns bytes to write; receive(frame, now_ms) returns (frames for the
    application, bytes to write); poll(now_ms) returns bytes to retransmit. One frame is in
    flight at a time per Link (stop-and-wait); later ones queue. `failed` counts frames given up
    after MAX_RETRIES, which the owner turns into a link fault.
    """

    def __init__(self, retry_ms: int = RETRY_MS, max_retries: int = MAX_RETRIES) -> None:
        self._seq = -1  # the first frame gets SEQ 0 (see the module docstring)
        self._retry_ms = retry_ms
        self._max_retries = max_retries
        self._queue = []  # frames (seq, kind, payload) waiting for the in-flight one
        self._inflight = None  # [wire bytes, seq, sent_at_ms, retries]
        self._last_rx_seq = -1
        self._last_ack = b""  # the ack sent for _last_rx_seq, repeated for a duplicate
        self.failed = 0
        self.dropped = 0  # queued frames dropped because the queue was full

    def _next_seq(self) -> int:
        seq = self._seq + 1
        if seq > 255:
            seq = 1  # 0 only marks the first frame after a start
        self._seq = seq
        return seq

    def send(self, kind: int, payload: bytes, now_ms: int) -> bytes:
        wire = encode(self._next_seq(), kind, payload)
        if self._inflight is None:
            self._inflight = [wire, wire[2], now_ms, 0]
            return wire
        if len(self._queue) >= MAX_QUEUE:
            self._queue.pop(0)  # the oldest is the stalest news; the newest state matters
            self.dropped += 1
        self._queue.append(wire)
        return b""

    def send_unacked(self, kind: int, payload: bytes) -> bytes:
        """A frame that is never retransmitted (keep-alives: the next one supersedes it)."""
        return encode(self._next_seq(), kind, payload)

    def receive(self, frame: Frame, now_ms: int) -> tuple:
        """Returns (delivered frame or None, bytes to write)."""
        if frame.kind == MSG_ACK:
            out = b""
            if self._inflight is not None and frame.payload[:1] == bytes([self._inflight[1]]):
                self._inflight = None
                out = self._start_next(now_ms)
            return None, out
        if frame.seq != 0 and frame.seq == self._last_rx_seq:
            ack = self._last_ack or encode(frame.seq, MSG_ACK, bytes([frame.seq, ACK_OK]))
            return None, ack
        self._last_rx_seq = frame.seq
        self._last_ack = b""
        return frame, b""

    def ack(self, frame: Frame, status: int) -> bytes:
        """The ACK for a delivered frame; remembered so a duplicate gets the same status."""
        wire = encode(frame.seq, MSG_ACK, bytes([frame.seq, status]))
        if frame.seq == self._last_rx_seq:
            self._last_ack = wire
        return wire

    def _start_next(self, now_ms: int) -> bytes:
        if not self._queue:
            return b""
        wire = self._queue.pop(0)
        self._inflight = [wire, wire[2], now_ms, 0]
        return wire

    def poll(self, now_ms: int) -> bytes:
        inflight = self._inflight
        if inflight is None or now_ms - inflight[2] < self._retry_ms:
            return b""
        if inflight[3] >= self._max_retries:
            self.failed += 1
            self._inflight = None
            return self._start_next(now_ms)
        inflight[2] = now_ms
        inflight[3] += 1
        return inflight[0]

    @property
    def idle(self) -> bool:
        return self._inflight is None and not self._queue
