"""Sans-I/O ZVT RS-232 transport framing (hardware.md §4.3).

Frame: ``DLE STX <APDU with every 0x10 doubled> DLE ETX CRC-L CRC-H``; the CRC is
CRC-16/KERMIT (poly 0x8408 reflected, init 0, check value 0x2189 for "123456789") over
the APDU and the ETX byte, sent low byte first. The receiver answers every frame with
``06`` (ACK) or ``15`` (NAK); a sender retries a NAKed or unanswered frame up to
``MAX_ATTEMPTS`` times in all. Line: 9600 baud, 8 data bits, no parity, 2 stop bits.

Timeouts, as data for the device (``ZvtTimeouts``) and as ecrterm uses them
(``ecrterm/transmission/transport_serial.py``, ``signals.py``): T1 0.2 s between two bytes
of one frame, T2 15 s for the terminal's answer to a command, T3 5 s for the ACK/NAK of a
frame, T4 180 s for the terminal's next message while a transaction runs (the customer
at the card reader / PIN pad).

``FrameDecoder.feed`` never raises: bytes that are not a valid frame become
``FrameCorrupt`` events (the device answers NAK) or are counted as garbage between frames;
a frame is only yielded when its CRC and its APDU length field both agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.payment.zvt_codec import apdu_size

DLE = 0x10
STX = 0x02
ETX = 0x03
ACK = 0x06
NAK = 0x15
ACK_BYTE = bytes([ACK])
NAK_BYTE = bytes([NAK])
MAX_ATTEMPTS = 3           # sends of one frame before the link counts as broken
MAX_FRAME_BYTES = 5 + 0xFFFF + 2  # longest APDU (extended length) plus the CRC

SERIAL_DEFAULTS = {"baudrate": 9600, "bytesize": 8, "parity": "N", "stopbits": 2}


@dataclass(frozen=True)
class ZvtTimeouts:
    """ZVT timeouts in seconds (defaults from hardware.md §4.3)."""

    t1_s: float = 0.2      # between two bytes of one frame
    t2_s: float = 15.0     # the terminal's answer (80 00 00 / 84 xx) to a command
    t3_s: float = 5.0      # ACK/NAK of a frame (serial only)
    t4_s: float = 180.0    # the terminal's next message while a transaction runs


def crc16_kermit(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc


def encode_frame(apdu: bytes) -> bytes:
    crc = crc16_kermit(apdu + bytes([ETX]))
    stuffed = apdu.replace(bytes([DLE]), bytes([DLE, DLE]))
    return bytes([DLE, STX]) + stuffed + bytes([DLE, ETX, crc & 0xFF, crc >> 8])


@dataclass(frozen=True)
class FrameReceived:
    apdu: bytes


@dataclass(frozen=True)
class FrameCorrupt:
    """A frame started but was not valid: answer NAK so the terminal sends it again."""

    reason: str


@dataclass(frozen=True)
class AckReceived:
    pass


@dataclass(frozen=True)
class NakReceived:
    pass


FrameEvent = FrameReceived | FrameCorrupt | AckReceived | NakReceived

_IDLE, _IDLE_DLE, _DATA, _DATA_DLE, _CRC_LOW, _CRC_HIGH = range(6)


class FrameDecoder:
    """Turns received bytes into frame events; keeps state between ``feed`` calls."""

    def __init__(self) -> None:
        self.garbage_bytes = 0
        self.corrupt_frames = 0
        self._state = _IDLE
        self._buf = bytearray()
        self._crc_low = 0

    @property
    def in_frame(self) -> bool:
        """True while a frame has started and not ended: the device then waits at most
        T1 for the next byte and calls ``abandon()``."""
        return self._state in (_DATA, _DATA_DLE, _CRC_LOW, _CRC_HIGH)

    def reset(self) -> None:
        self._state = _IDLE
        self._buf.clear()

    def abandon(self, reason: str = "T1 expired inside a frame") -> list[FrameEvent]:
        """The line went quiet inside a frame: drop it (NAK is the answer)."""
        if not self.in_frame:
            return []
        self.reset()
        return [self._corrupt(reason)]

    def _corrupt(self, reason: str) -> FrameCorrupt:
        self.corrupt_frames += 1
        return FrameCorrupt(reason)

    def feed(self, data: bytes) -> list[FrameEvent]:
        events: list[FrameEvent] = []
        for byte in data:
            event = self._byte(byte)
            if event is not None:
                events.append(event)
        return events

    def _byte(self, byte: int) -> FrameEvent | None:
        state = self._state
        if state == _IDLE:
            if byte == DLE:
                self._state = _IDLE_DLE
            elif byte == ACK:
                return AckReceived()
            elif byte == NAK:
                return NakReceived()
            else:
                self.garbage_bytes += 1
            return None
        if state == _IDLE_DLE:
            if byte == STX:
                self._buf.clear()
                self._state = _DATA
                return None
            if byte == DLE:          # the first DLE was noise; this one may start a frame
                self.garbage_bytes += 1
                return None
            self._state = _IDLE
            if byte == ACK:          # some terminals prefix the ACK with DLE
                return AckReceived()
            if byte == NAK:
                return NakReceived()
            self.garbage_bytes += 2
            return None
        if state == _DATA:
            if byte == DLE:
                self._state = _DATA_DLE
            elif len(self._buf) >= MAX_FRAME_BYTES:
                self.reset()
                return self._corrupt("frame too long")
            else:
                self._buf.append(byte)
            return None
        if state == _DATA_DLE:
            if byte == DLE:
                self._buf.append(DLE)
                self._state = _DATA
            elif byte == ETX:
                self._state = _CRC_LOW
            elif byte == STX:        # a new frame starts: the old one was cut short
                self._buf.clear()
                self._state = _DATA
                return self._corrupt("frame restarted before DLE ETX")
            else:
                self.reset()
                return self._corrupt(f"DLE followed by 0x{byte:02X}")
            return None
        if state == _CRC_LOW:
            self._crc_low = byte
            self._state = _CRC_HIGH
            return None
        # _CRC_HIGH
        apdu = bytes(self._buf)
        self.reset()
        received = self._crc_low | (byte << 8)
        if crc16_kermit(apdu + bytes([ETX])) != received:
            return self._corrupt("CRC mismatch")
        if apdu_size(apdu) != len(apdu):
            return self._corrupt("APDU length field disagrees with the frame")
        return FrameReceived(apdu)
