"""Host side of the Pi <-> safety MCU protocol (sans-I/O; issue 13, docs/mcu-protocol.md).

The MCU's own codec (firmware/mcu/protocol.py) is written for MicroPython and lives in the
firmware tree, which drivers must not import (tests/test_layering.py); so the host has
this second, typed codec, tested against the same byte strings (tests/drivers/
test_mcu_codec.py also cross-checks the two on random frames).

Frame: ``A5 | LEN | SEQ | TYPE | PAYLOAD | CRC16 hi | CRC16 lo``. LEN counts SEQ + TYPE +
PAYLOAD (2..40); the CRC is CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over LEN..PAYLOAD.
Every frame but an ACK is acknowledged with ``ACK(seq, status)`` whose own SEQ is the acked
one. A sender's first frame after a start has SEQ 0, later ones cycle 1..255.

Besides the frame and payload codecs this module holds the host's other sans-I/O rules:
the fault-bit -> OCPP mapping (``FAULTS``, ``FaultView``), the duplicate/stale filter
(``ReceiveFilter``) and the restart tests. Nothing here raises on input from the wire
except ``McuPayloadError`` from the payload parsers, which the link turns into a counted,
dropped frame.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.errors import DriverError
from hal.interfaces import ControllerFault

SOF = 0xA5
MAX_LEN = 40
PROTOCOL_MAJOR = 1      # the host refuses an MCU that speaks another major version

CMD_OFFER_CURRENT = 0x01
CMD_ALLOW_ENERGY = 0x02
CMD_FORBID_ENERGY = 0x03
CMD_READ_STATE = 0x04   # also the host's keep-alive
CMD_SELF_TEST = 0x05
CMD_VERSION = 0x06

MSG_ACK = 0x80
MSG_STATE = 0x81
MSG_PILOT_CHANGED = 0x82
MSG_CONTACTOR_CHANGED = 0x83
MSG_FAULT = 0x84
MSG_KEEPALIVE = 0x85
MSG_VERSION = 0x86
MSG_SELF_TEST = 0x87

ACK_OK = 0
ACK_REFUSED = 1
ACK_UNKNOWN = 2
ACK_NAMES = {ACK_OK: "ok", ACK_REFUSED: "refused", ACK_UNKNOWN: "unknown command"}

FAULT_DIODE = 0x0001
FAULT_PILOT_E = 0x0002
FAULT_PILOT_F = 0x0004
FAULT_MIRROR = 0x0008
FAULT_RCD = 0x0010
FAULT_HOST_SILENT = 0x0020
FAULT_SELF_TEST = 0x0040
FAULT_PILOT_LOST = 0x0080

# MCU fault bit -> (OCPP 1.6 ChargePointErrorCode, vendorErrorCode, text), most severe
# first: with several faults active the first one found is the one reported, the others
# go into the info text. Documented in board_configs/README.md (driver borne_mcu).
FAULTS: tuple[tuple[int, str, str, str], ...] = (
    (FAULT_RCD, "GroundFailure", "McuRcd", "residual current (RCD) tripped"),
    (FAULT_MIRROR, "PowerSwitchFailure", "McuMirror", "contactor mirror contact mismatch"),
    (FAULT_DIODE, "EVCommunicationError", "McuDiode", "pilot diode check failed"),
    (FAULT_PILOT_E, "EVCommunicationError", "McuPilotE", "control pilot shorted (E)"),
    (FAULT_PILOT_F, "EVCommunicationError", "McuPilotF", "control pilot at -12 V (F)"),
    (FAULT_PILOT_LOST, "InternalError", "McuPilotLost", "MCU pilot sampling stopped"),
    (FAULT_SELF_TEST, "InternalError", "McuSelfTest", "MCU pilot self-test failed"),
    (FAULT_HOST_SILENT, "OtherError", "McuHostSilent", "MCU did not hear the host in time"),
)
KNOWN_FAULTS = 0
for _bit, *_ in FAULTS:
    KNOWN_FAULTS |= _bit

STATE_LEN = 9
PILOT_LETTERS = "ABCDEF"


class McuPayloadError(DriverError):
    """A frame with a valid CRC whose payload does not parse (wrong length, bad field)."""


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE; ``crc16(b"123456789") == 0x29B1``."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


@dataclass(frozen=True)
class Frame:
    seq: int
    kind: int
    payload: bytes = b""


def encode(seq: int, kind: int, payload: bytes = b"") -> bytes:
    """Wire bytes of one frame. Raises ``ValueError`` for out-of-range fields (a host bug)."""
    if not (0 <= seq <= 0xFF and 0 <= kind <= 0xFF):
        raise ValueError("seq and type are one byte each")
    length = 2 + len(payload)
    if length > MAX_LEN:
        raise ValueError(f"payload of {len(payload)} bytes exceeds the frame limit")
    body = bytes((length, seq, kind)) + payload
    return bytes((SOF,)) + body + crc16(body).to_bytes(2, "big")


def ack(frame: Frame, status: int = ACK_OK) -> bytes:
    return encode(frame.seq, MSG_ACK, bytes((frame.seq, status)))


class FrameDecoder:
    """Stream decoder: ``feed(chunk)`` returns the complete frames with a valid CRC.

    Bytes before a SOF, an impossible LEN and a bad CRC are dropped and counted in
    ``errors``; decoding resumes at the next SOF after the bad one, so a SOF byte inside
    garbage costs at most one frame. The buffer never holds more than one maximal frame.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.errors = 0

    def feed(self, data: bytes) -> list[Frame]:
        buf = self._buf
        buf += data
        frames: list[Frame] = []
        while buf:
            start = buf.find(SOF)
            if start != 0:
                self.errors += 1
                del buf[:start if start > 0 else len(buf)]
                continue
            if len(buf) < 2:
                break
            length = buf[1]
            if not 2 <= length <= MAX_LEN:
                self.errors += 1
                del buf[:1]
                continue
            if len(buf) < length + 4:
                break
            body = bytes(buf[1:2 + length])
            if crc16(body) != int.from_bytes(buf[2 + length:4 + length], "big"):
                self.errors += 1
                del buf[:1]
                continue
            frames.append(Frame(body[1], body[2], body[3:]))
            del buf[:length + 4]
        return frames

    @property
    def buffered(self) -> int:
        return len(self._buf)


def encode_u16(value: int) -> bytes:
    if not 0 <= value <= 0xFFFF:
        raise ValueError("u16 out of range")
    return value.to_bytes(2, "big")


def decode_u16(payload: bytes) -> int:
    if len(payload) != 2:
        raise McuPayloadError(f"expected 2 bytes, got {len(payload)}")
    return int.from_bytes(payload, "big")


@dataclass(frozen=True)
class McuState:
    """The MCU's snapshot (MSG_STATE / MSG_KEEPALIVE payload).

    ``contactor`` is the coil command, ``mirror`` the feedback contact ("main contacts
    closed"), ``offered_da`` the current the PWM signals in deciamps (after the MCU's own
    cap and the cable rating), ``cable_a`` the PP cable rating (0 = none), ``uptime_s``
    wraps at 65536.
    """

    pilot: str
    contactor: bool
    mirror: bool
    energy_allowed: bool
    faults: int
    offered_da: int
    cable_a: int
    uptime_s: int


def decode_state(payload: bytes) -> McuState:
    if len(payload) != STATE_LEN:
        raise McuPayloadError(f"state payload has {len(payload)} bytes, expected {STATE_LEN}")
    pilot = decode_pilot(payload[:1])
    flags = payload[1]
    return McuState(pilot=pilot, contactor=bool(flags & 1), mirror=bool(flags & 2),
                    energy_allowed=bool(flags & 4), faults=decode_u16(payload[2:4]),
                    offered_da=decode_u16(payload[4:6]), cable_a=payload[6],
                    uptime_s=decode_u16(payload[7:9]))


def encode_state(state: McuState) -> bytes:
    flags = int(state.contactor) | int(state.mirror) << 1 | int(state.energy_allowed) << 2
    return (state.pilot.encode("ascii") + bytes((flags,)) + encode_u16(state.faults)
            + encode_u16(state.offered_da) + bytes((state.cable_a,))
            + encode_u16(state.uptime_s))


def decode_pilot(payload: bytes) -> str:
    if len(payload) != 1 or chr(payload[0]) not in PILOT_LETTERS:
        raise McuPayloadError(f"bad pilot state {payload!r}")
    return chr(payload[0])


def decode_contactor(payload: bytes) -> tuple[bool, bool]:
    """MSG_CONTACTOR_CHANGED: (coil energised, mirror says closed)."""
    if len(payload) != 2 or payload[0] > 1 or payload[1] > 1:
        raise McuPayloadError(f"bad contactor payload {payload!r}")
    return bool(payload[0]), bool(payload[1])


@dataclass(frozen=True)
class McuVersion:
    major: int
    minor: int
    firmware: str

    def describe(self) -> str:
        return f"protocol {self.major}.{self.minor}, firmware {self.firmware or '?'}"


def decode_version(payload: bytes) -> McuVersion:
    if len(payload) < 2:
        raise McuPayloadError("version payload shorter than 2 bytes")
    text = payload[2:].decode("ascii", "replace")
    if not text.isprintable():
        raise McuPayloadError(f"non-printable firmware version {payload[2:]!r}")
    return McuVersion(payload[0], payload[1], text)


def decode_self_test(payload: bytes) -> tuple[bool, int]:
    """MSG_SELF_TEST: (passed, fault bits after the test)."""
    if len(payload) != 3 or payload[0] > 1:
        raise McuPayloadError(f"bad self-test payload {payload!r}")
    return bool(payload[0]), decode_u16(payload[1:])


def fault_names(bits: int) -> list[str]:
    names = [vendor for bit, _, vendor, _ in FAULTS if bits & bit]
    unknown = bits & ~KNOWN_FAULTS
    if unknown:
        names.append(f"0x{unknown:04X}")
    return names


def controller_fault(bits: int) -> ControllerFault | None:
    """The most severe fault of ``bits`` as the HAL reports it; None for no fault.
    Bits this host does not know are an ``OtherError`` (never ignored)."""
    for bit, code, vendor, text in FAULTS:
        if bits & bit:
            others = [n for n in fault_names(bits) if n != vendor]
            info = text + (f" (also {','.join(others)})" if others else "")
            return ControllerFault(code, vendor, info)
    if bits:
        return ControllerFault("OtherError", "McuUnknownFault", f"fault bits 0x{bits:04X}")
    return None


# A rebooted MCU opened the contactor and forgot the offer and the permission: a charge in
# progress is over, so it is reported like a fault of the MCU (board_configs/README.md).
RESTART_FAULT = ControllerFault("InternalError", "McuRestarted", "the safety MCU restarted")
class FaultView:
    """What ``McuPilot.faults()`` reports, from the MCU's fault bits over time (sans-I/O).

    A fault is reported the moment it appears; it is reported cleared only once the bits
    have been clear for ``fault_clear_s`` (the MCU leaves state F after 300 ms and may find
    the same fault again: a shorted pilot must not flap). A restart of the MCU (a new
    ``restarts`` count) is ``RESTART_FAULT``, for at least ``fault_clear_s``; the
    host-silent bit a rebooted MCU starts with belongs to that restart, not to a fault
    of its own.
    """

    def __init__(self, fault_clear_s: float, restarts: int = 0) -> None:
        self.fault_clear_s = fault_clear_s
        self.reported: ControllerFault | None = None
        self._restarts = restarts
        self._restart_at: float | None = None
        self._clear_since: float | None = None

    def update(self, bits: int, restarts: int, now: float) -> tuple[bool, float | None]:
        """Returns (the reported fault changed, seconds until a re-check is due or None)."""
        wake: list[float] = []
        if restarts != self._restarts:
            self._restarts, self._restart_at = restarts, now
        fault = controller_fault(bits)
        if self._restart_at is not None:
            left = self._restart_at + self.fault_clear_s - now
            if (left > 0 or now == self._restart_at) and not bits & ~FAULT_HOST_SILENT:
                fault = RESTART_FAULT
                wake.append(max(left, 0.0))
            else:
                self._restart_at = None
        if fault is not None:
            self._clear_since = None
        elif self.reported is not None:
            if self._clear_since is None:
                self._clear_since = now
            left = self._clear_since + self.fault_clear_s - now
            if left > 0:
                fault = self.reported
                wake.append(left)
        changed = fault != self.reported
        self.reported = fault
        return changed, min(wake) if wake else None


class SeqCounter:
    """SEQ of the frames we send: 0 first, then 1..255 (0 marks a start)."""

    def __init__(self) -> None:
        self._seq = -1

    def next(self) -> int:
        self._seq = 1 if self._seq >= 255 else self._seq + 1
        return self._seq


def seq_newer(seq: int, than: int) -> bool:
    """True when ``seq`` was sent after ``than`` by a sender cycling 1..255 (the newer of
    two frames at most 127 apart); SEQ 0 (the sender restarted) is always newer."""
    if seq == 0:
        return True
    if than == 0:
        return seq != 0
    return 0 < (seq - than) % 255 < 128


SNAPSHOTS = (MSG_STATE, MSG_KEEPALIVE, MSG_VERSION)
STATE_EVENTS = (MSG_PILOT_CHANGED, MSG_CONTACTOR_CHANGED, MSG_FAULT)  # superseded by a snapshot


class ReceiveFilter:
    """Duplicate and stale-event filter for the MCU's frames (sans-I/O).

    ``accept(frame)`` returns True when the frame carries news. A retransmission (same SEQ
    as the previous frame, not 0) does not. Neither does a state event (pilot, contactor,
    fault) older than the newest snapshot applied: an event that waited in the MCU's send
    queue behind a lost ack is older news than the keep-alive that overtook it. That
    includes a SEQ-0 event once a snapshot was applied: it is the retransmission of the
    MCU's first event after its boot (sent before anyone listened), not fresher news. A
    self-test verdict is never stale (nothing supersedes it). Snapshots (state,
    keep-alive, version) are sent the moment they are made, so they always apply; the
    caller reports the parsed ones with ``applied`` and calls ``reset()`` when a snapshot
    shows that the MCU restarted. Rejected frames are still acknowledged by the caller.
    """

    def __init__(self) -> None:
        self._last: int | None = None
        self._snapshot: int | None = None
        self.duplicates = 0
        self.stale = 0

    def applied(self, frame: Frame) -> None:
        """The caller parsed and applied ``frame`` (a snapshot with a bad payload must not
        make the events after it look stale)."""
        if frame.kind in SNAPSHOTS:
            self._snapshot = frame.seq

    def reset(self) -> None:
        self._last = self._snapshot = None

    def accept(self, frame: Frame) -> bool:
        seq = frame.seq
        if seq != 0 and seq == self._last:
            self.duplicates += 1
            return False
        self._last = seq
        if frame.kind in SNAPSHOTS:
            if seq == 0:
                self.reset()
                self._last = 0
            return True
        if frame.kind in STATE_EVENTS and self._snapshot is not None and (
                seq == 0 or not seq_newer(seq, self._snapshot)):
            self.stale += 1
            return False
        return True


def uptime_went_back(before_s: int, now_s: int) -> bool:
    """The MCU's 16-bit uptime (s) decreased, other than by wrapping at 65536 (18 h)."""
    if now_s >= before_s:
        return False
    return not (before_s > 0xFFFF - 60 and now_s < 60)
