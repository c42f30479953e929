"""Sans-I/O codec of the NXP PN532 host protocol (HSU/UART framing), per UM0701-02 §6.2.

Frames (hardware.md §1a):
- normal:   00 00 FF LEN LCS TFI PD0..PDn DCS 00   (LEN counts TFI+data, 1..255)
- extended: 00 00 FF FF FF LENM LENL LCS TFI ... DCS 00
- ACK 00 00 FF 00 FF 00, NACK 00 00 FF FF 00 00, error frame 00 00 FF 01 FF 7F 81 00
- LCS: (LEN + LCS) & 0xFF == 0;  DCS: (TFI + sum(data) + DCS) & 0xFF == 0

``FrameDecoder.feed(bytes)`` returns events; it skips any run of leading 0x00 before
the start code, drops garbage, and resynchronises after a corrupted frame by
searching for the next start code *inside* the rejected bytes (a truncated frame
followed by a good one loses only the truncated one). It never raises on input.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.errors import DriverError

TFI_HOST = 0xD4     # host → PN532
TFI_PN532 = 0xD5    # PN532 → host

ACK = bytes.fromhex("0000FF00FF00")
NACK = bytes.fromhex("0000FFFF0000")
ERROR_FRAME = bytes.fromhex("0000FF01FF7F8100")

# Wake-up from power-down over HSU: 0x55 0x55 then a run of zeros, immediately followed
# by SAMConfiguration (hardware.md: Adafruit 15 zeros, EVerest 14).
WAKEUP = b"\x55\x55" + b"\x00" * 14

CMD_GET_FIRMWARE_VERSION = 0x02
CMD_SAM_CONFIGURATION = 0x14
CMD_RF_CONFIGURATION = 0x32
CMD_IN_LIST_PASSIVE_TARGET = 0x4A

RF_CFG_MAX_RETRIES = 0x05
BR_TYPE_A_106K = 0x00

MAX_NORMAL_LEN = 255
MAX_EXTENDED_LEN = 265   # PN532 firmware limit: 264 data bytes + TFI
UID_LENGTHS = (4, 7, 10)  # single, double, triple size ISO 14443-3 UIDs
_START = b"\x00\xff"


def checksum(data: bytes) -> int:
    """The byte that makes ``sum(data) + checksum`` ≡ 0 (mod 256) (LCS and DCS)."""
    return (-sum(data)) & 0xFF


def encode_frame(data: bytes, tfi: int = TFI_HOST) -> bytes:
    """Wrap ``data`` (command code + parameters) in a normal or extended frame."""
    body = bytes([tfi]) + data
    if len(body) <= MAX_NORMAL_LEN:
        head = bytes([len(body), checksum(bytes([len(body)]))])
    elif len(body) <= MAX_EXTENDED_LEN:
        lens = len(body).to_bytes(2, "big")
        head = b"\xff\xff" + lens + bytes([checksum(lens)])
    else:
        raise ValueError(f"PN532 frame payload too long ({len(body)} > {MAX_EXTENDED_LEN})")
    return b"\x00\x00\xff" + head + body + bytes([checksum(body)]) + b"\x00"


def sam_configuration(mode: int = 0x01) -> bytes:
    """SAMConfiguration, normal mode (SAM unused); reply D5 15."""
    return encode_frame(bytes([CMD_SAM_CONFIGURATION, mode]))


def rf_max_retries(atr: int = 0xFF, psl: int = 0x01, passive_activation: int = 0x02) -> bytes:
    """RFConfiguration item 5 (MxRtyATR, MxRtyPSL, MxRtyPassiveActivation); reply D5 33.

    The factory value of MxRtyPassiveActivation is 0xFF (retry forever), which makes
    InListPassiveTarget hang until a card appears; a small value makes it answer
    ``D5 4B 00`` (no target) so the host can poll.
    """
    return encode_frame(bytes([CMD_RF_CONFIGURATION, RF_CFG_MAX_RETRIES, atr, psl,
                               passive_activation]))


def in_list_passive_target(max_targets: int = 1, baud: int = BR_TYPE_A_106K) -> bytes:
    return encode_frame(bytes([CMD_IN_LIST_PASSIVE_TARGET, max_targets, baud]))


def get_firmware_version() -> bytes:
    return encode_frame(bytes([CMD_GET_FIRMWARE_VERSION]))


# -- decoder events ------------------------------------------------------------------
@dataclass(frozen=True)
class Ack:
    pass


@dataclass(frozen=True)
class Nack:
    pass


@dataclass(frozen=True)
class ErrorFrame:
    """Application-level error frame (syntax error in the last command)."""


@dataclass(frozen=True)
class Frame:
    tfi: int
    data: bytes          # PD0 (command or response code) .. PDn

    @property
    def code(self) -> int:
        return self.data[0] if self.data else -1


@dataclass(frozen=True)
class Corrupt:
    """A frame was started but failed a checksum or length check (never a token)."""

    reason: str


Event = Ack | Nack | ErrorFrame | Frame | Corrupt


class FrameDecoder:
    """Incremental decoder. ``tfi`` is the frame identifier expected in information
    frames (0xD5 on the host side; a test peer uses 0xD4)."""

    def __init__(self, tfi: int = TFI_PN532, max_buffer: int = 1024) -> None:
        self.tfi = tfi
        self.max_buffer = max_buffer
        self._buf = bytearray()
        self.garbage_bytes = 0

    def reset(self) -> None:
        self._buf.clear()

    def feed(self, data: bytes) -> list[Event]:
        self._buf += data
        events: list[Event] = []
        while True:
            event, consumed = self._parse_one()
            if consumed:
                del self._buf[:consumed]
            if event is not None:
                events.append(event)
            elif not consumed:
                break
        if len(self._buf) > self.max_buffer:  # a "frame" that never completes
            self._buf.clear()
            events.append(Corrupt("buffer overflow"))
        return events

    def _drop(self, n: int) -> int:
        self.garbage_bytes += sum(1 for b in self._buf[:n] if b != 0)
        return n

    def _parse_one(self) -> tuple[Event | None, int]:
        """(event or None, bytes to consume). (None, 0) = need more data."""
        buf = self._buf
        i = buf.find(_START)
        if i < 0:
            # keep a trailing 0x00: it may be the first byte of the next start code
            keep = 1 if buf[-1:] == b"\x00" else 0
            return None, self._drop(len(buf) - keep)
        if i > 0:
            return None, self._drop(i)     # zeros (preamble) or garbage before 00 FF
        if len(buf) < 4:
            return None, 0
        length, lcs = buf[2], buf[3]
        if length == 0x00 and lcs == 0xFF:
            return Ack(), 4
        if length == 0xFF and lcs == 0x00:
            return Nack(), 4
        if length == 0xFF and lcs == 0xFF:
            if len(buf) < 7:
                return None, 0
            lens = bytes(buf[4:6])
            if (sum(lens) + buf[6]) & 0xFF:
                return Corrupt("extended LCS mismatch"), 2
            length = int.from_bytes(lens, "big")
            if not 1 <= length <= MAX_EXTENDED_LEN:
                return Corrupt(f"extended length {length} out of range"), 2
            start = 7
        else:
            if (length + lcs) & 0xFF:
                return Corrupt("LCS mismatch"), 2
            if length == 0:
                return Corrupt("zero length"), 2
            start = 4
        end = start + length           # body = TFI + data
        if len(buf) < end + 1:
            return None, 0
        body = bytes(buf[start:end])
        if (sum(body) + buf[end]) & 0xFF:
            return Corrupt("DCS mismatch"), 2
        consumed = end + 1
        if length == 1 and body[0] == 0x7F:
            return ErrorFrame(), consumed
        if body[0] != self.tfi:
            return Corrupt(f"unexpected TFI 0x{body[0]:02X}"), consumed
        return Frame(body[0], body[1:]), consumed


# -- InListPassiveTarget response ----------------------------------------------------
@dataclass(frozen=True)
class TypeATarget:
    """One ISO 14443 Type A target: ATQA (SENS_RES) as received, SAK, UID in
    anticollision order (UID0 first), ATS when the card is ISO 14443-4."""

    tg: int
    atqa: bytes
    sak: int
    uid: bytes
    ats: bytes = b""


class TargetParseError(DriverError, ValueError):
    pass


def parse_in_list_passive_target(data: bytes) -> list[TypeATarget]:
    """Parse the data of a ``D5 4B`` response (starting with 0x4B) for BrTy 0x00.

    Layout: 4B NbTg { Tg SENS_RES(2) SEL_RES NFCIDLength NFCID1 [ATS] }. Written for
    4-, 7- and 10-byte UIDs (common libraries stop at 7). Raises ``TargetParseError`` on
    any length inconsistency: a malformed response never yields a UID.
    """
    if len(data) < 2 or data[0] != CMD_IN_LIST_PASSIVE_TARGET + 1:
        raise TargetParseError("not an InListPassiveTarget response")
    count = data[1]
    if count > 2:
        raise TargetParseError(f"NbTg {count} > 2")
    pos = 2
    targets: list[TypeATarget] = []
    for _ in range(count):
        if len(data) < pos + 5:
            raise TargetParseError("truncated target header")
        tg = data[pos]
        atqa = bytes(data[pos + 1:pos + 3])
        sak = data[pos + 3]
        uid_len = data[pos + 4]
        if uid_len not in UID_LENGTHS:
            raise TargetParseError(f"UID length {uid_len} not in {UID_LENGTHS}")
        pos += 5
        if len(data) < pos + uid_len:
            raise TargetParseError("truncated UID")
        uid = bytes(data[pos:pos + uid_len])
        pos += uid_len
        ats = b""
        if sak & 0x20:  # ISO 14443-4 compliant: the PN532 appends the ATS (TL first)
            if len(data) <= pos:
                raise TargetParseError("SAK announces ATS but none follows")
            tl = data[pos]
            if tl < 1 or len(data) < pos + tl:
                raise TargetParseError("truncated ATS")
            ats = bytes(data[pos:pos + tl])
            pos += tl
        targets.append(TypeATarget(tg, atqa, sak, uid, ats))
    if pos != len(data):
        raise TargetParseError(f"{len(data) - pos} unexpected trailing byte(s)")
    return targets
