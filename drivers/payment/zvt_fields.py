"""ZVT field encodings: BCD numbers, LLVAR/LLLVAR, BMPs and the TLV container (BMP 06).

Sans-I/O and pure: bytes in, values out. Sources: hardware.md §4.3 (BMP 04 amount 6 B
BCD, BMP 49 currency 2 B BCD, BMP 87 receipt number 2 B BCD, BMP 0B trace number 3 B
BCD, BMP 8A card type, BMP 22 PAN as LLVAR BCD, TLV in BMP 06), with field widths as
EVerest/zvt's ``packets.rs`` declares them.

Failure modes: malformed input raises ``ZvtDecodeError`` (a ``DriverError``) naming the
field, never another exception; values that cannot be encoded (negative, too many
digits) raise ``ValueError`` before anything is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drivers.errors import DriverError


class ZvtDecodeError(DriverError):
    """Bytes from the terminal that are not a valid ZVT APDU or field."""


# ---------------------------------------------------------------------------- BCD
def bcd_encode(value: int, size: int) -> bytes:
    """``value`` as ``size`` bytes of packed BCD, most significant digit first."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"BCD value must be a non-negative integer, got {value!r}")
    digits = f"{value:0{size * 2}d}"
    if len(digits) > size * 2:
        raise ValueError(f"{value} does not fit in {size} BCD bytes")
    return bytes.fromhex(digits)


def bcd_decode(raw: bytes, what: str = "BCD field") -> int:
    text = raw.hex()
    if not text.isdigit():
        raise ZvtDecodeError(f"{what}: not BCD: {raw.hex(' ')}")
    return int(text) if text else 0


def pan_decode(raw: bytes) -> str:
    """A card number in BCD as the terminal masks it: nibble E is a masked digit ('*'),
    nibble F pads an odd length. Other nibbles above 9 are an error."""
    out = []
    for nibble in raw.hex():
        if nibble.isdigit():
            out.append(nibble)
        elif nibble == "e":
            out.append("*")
        elif nibble == "f":
            continue
        else:
            raise ZvtDecodeError(f"card number: bad nibble {nibble!r}")
    return "".join(out)


# ----------------------------------------------------------------- LLVAR / LLLVAR
def var_encode(value: bytes, digits: int) -> bytes:
    """LLVAR (digits=2) / LLLVAR (digits=3): the length as digits F0..F9, then the data."""
    if len(value) >= 10 ** digits:
        raise ValueError(f"{len(value)} bytes do not fit an L{'L' * digits}VAR")
    return bytes(0xF0 | int(d) for d in f"{len(value):0{digits}d}") + value


def var_decode(buf: bytes, pos: int, digits: int, what: str) -> tuple[bytes, int]:
    """(value, position after it) of an LLVAR/LLLVAR at ``buf[pos:]``."""
    head = buf[pos:pos + digits]
    if len(head) < digits:
        raise ZvtDecodeError(f"{what}: truncated length")
    if any(b & 0xF0 != 0xF0 or b & 0x0F > 9 for b in head):
        raise ZvtDecodeError(f"{what}: bad length {head.hex(' ')}")
    length = int("".join(str(b & 0x0F) for b in head))
    start = pos + digits
    if start + length > len(buf):
        raise ZvtDecodeError(f"{what}: {length} bytes announced, {len(buf) - start} present")
    return buf[start:start + length], start + length


# --------------------------------------------------------------------------- TLV
@dataclass(frozen=True)
class TlvItem:
    """One TLV data object; ``children`` is set for constructed tags (bit 0x20)."""

    tag: int
    value: bytes
    children: tuple["TlvItem", ...] | None = None


MAX_TLV_DEPTH = 8


def tlv_length_encode(length: int) -> bytes:
    """BER-style length as ZVT's TLV container uses it: < 0x80 one byte, else 81 xx or
    82 xx xx (big-endian)."""
    if length < 0:
        raise ValueError("negative TLV length")
    if length < 0x80:
        return bytes([length])
    if length <= 0xFF:
        return bytes([0x81, length])
    if length <= 0xFFFF:
        return bytes([0x82]) + length.to_bytes(2, "big")
    raise ValueError(f"TLV length {length} too large")


def tlv_length_decode(buf: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(buf):
        raise ZvtDecodeError("TLV: truncated length")
    first = buf[pos]
    if first < 0x80:
        return first, pos + 1
    n = first & 0x7F
    if n not in (1, 2) or pos + 1 + n > len(buf):
        raise ZvtDecodeError(f"TLV: bad length byte 0x{first:02X}")
    return int.from_bytes(buf[pos + 1:pos + 1 + n], "big"), pos + 1 + n


def _tag_decode(buf: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(buf):
        raise ZvtDecodeError("TLV: truncated tag")
    tag = buf[pos]
    pos += 1
    if tag & 0x1F == 0x1F:                      # multi-byte tag: more bytes while bit 8 set
        for _ in range(3):
            if pos >= len(buf):
                raise ZvtDecodeError("TLV: truncated tag")
            tag = (tag << 8) | buf[pos]
            pos += 1
            if not buf[pos - 1] & 0x80:
                break
        else:
            raise ZvtDecodeError("TLV: tag longer than 4 bytes")
    return tag, pos


def _tag_encode(tag: int) -> bytes:
    return tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")


def tlv_decode(buf: bytes, depth: int = 0) -> tuple[TlvItem, ...]:
    """Every TLV object of ``buf`` (constructed ones decoded recursively)."""
    if depth > MAX_TLV_DEPTH:
        raise ZvtDecodeError("TLV: nested too deep")
    items = []
    pos = 0
    while pos < len(buf):
        tag, pos = _tag_decode(buf, pos)
        length, pos = tlv_length_decode(buf, pos)
        if pos + length > len(buf):
            raise ZvtDecodeError(f"TLV tag {tag:X}: {length} bytes announced, "
                                 f"{len(buf) - pos} present")
        value = buf[pos:pos + length]
        pos += length
        first = tag >> (8 * ((tag.bit_length() - 1) // 8)) if tag else 0
        children = tlv_decode(value, depth + 1) if first & 0x20 else None
        items.append(TlvItem(tag, value, children))
    return tuple(items)


def tlv_encode(items: tuple[TlvItem, ...] | list[TlvItem]) -> bytes:
    out = bytearray()
    for item in items:
        value = tlv_encode(item.children) if item.children is not None else item.value
        out += _tag_encode(item.tag) + tlv_length_encode(len(value)) + value
    return bytes(out)


# -------------------------------------------------------------------------- BMPs
LLVAR = -2
LLLVAR = -3
TLV = -6

# tag -> fixed byte count, or LLVAR/LLLVAR/TLV
BMP_FORMATS: dict[int, int] = {
    0x01: 1,        # timeout
    0x02: 1,        # max. status infos
    0x03: 1,        # service byte
    0x04: 6,        # amount in cents, BCD
    0x05: 1,        # pump number
    0x06: TLV,      # TLV container
    0x0B: 3,        # trace number, BCD
    0x0C: 3,        # time HHMMSS, BCD
    0x0D: 2,        # date MMDD, BCD
    0x0E: 2,        # expiry YYMM, BCD
    0x17: 2,        # card sequence number, BCD
    0x19: 1,        # payment type / status byte
    0x22: LLVAR,    # PAN (masked), BCD
    0x23: LLVAR,    # track 2
    0x24: LLLVAR,   # track 3
    0x27: 1,        # result code
    0x29: 4,        # terminal id, BCD
    0x2A: 15,       # VU number, ASCII
    0x2D: LLVAR,    # track 1
    0x37: 3,        # original trace number, BCD
    0x3B: 8,        # AID / authorisation attribute
    0x3C: LLLVAR,   # additional text
    0x49: 2,        # currency code, BCD
    0x60: LLLVAR,   # individual totals (end-of-day)
    0x87: 2,        # receipt number, BCD (FF FF = open-reservations enquiry)
    0x88: 3,        # turnover record number, BCD
    0x8A: 1,        # card type (ZVT card type)
    0x8B: LLVAR,    # card name, ASCII
    0x8C: 1,        # card type id
    0xA0: 1,        # result code of the authorisation system
    0xAA: 3,        # date YYMMDD, BCD
    0xBA: 5,        # AID parameter
}


@dataclass
class Bmps:
    """The BMPs of an APDU's data, by tag (a tag sent twice keeps the last value).

    ``unparsed`` holds the bytes from the first tag this table does not know onwards:
    their length cannot be known, so they are kept, not guessed at.
    """

    fields: dict[int, bytes] = field(default_factory=dict)
    unparsed: bytes = b""

    def bcd(self, tag: int) -> int | None:
        raw = self.fields.get(tag)
        return None if raw is None else bcd_decode(raw, f"BMP {tag:02X}")

    def byte(self, tag: int) -> int | None:
        raw = self.fields.get(tag)
        return None if raw is None else raw[0]

    def text(self, tag: int) -> str:
        return self.fields.get(tag, b"").decode("latin-1").strip()


def bmp_encode(tag: int, value: bytes) -> bytes:
    kind = BMP_FORMATS.get(tag)
    if kind is None:
        raise ValueError(f"unknown BMP {tag:02X}")
    if kind == LLVAR:
        return bytes([tag]) + var_encode(value, 2)
    if kind == LLLVAR:
        return bytes([tag]) + var_encode(value, 3)
    if kind == TLV:
        return bytes([tag]) + tlv_length_encode(len(value)) + value
    if len(value) != kind:
        raise ValueError(f"BMP {tag:02X} takes {kind} bytes, got {len(value)}")
    return bytes([tag]) + value


def bmps_decode(buf: bytes) -> Bmps:
    """Decode a run of BMPs. Raises ``ZvtDecodeError`` on a truncated field."""
    out = Bmps()
    pos = 0
    while pos < len(buf):
        tag = buf[pos]
        kind = BMP_FORMATS.get(tag)
        if kind is None:
            out.unparsed = buf[pos:]
            break
        what = f"BMP {tag:02X}"
        if kind in (LLVAR, LLLVAR):
            value, pos = var_decode(buf, pos + 1, -kind, what)
        elif kind == TLV:
            length, start = tlv_length_decode(buf, pos + 1)
            if start + length > len(buf):
                raise ZvtDecodeError(f"{what}: {length} bytes announced, "
                                     f"{len(buf) - start} present")
            value, pos = buf[start:start + length], start + length
        else:
            if pos + 1 + kind > len(buf):
                raise ZvtDecodeError(f"{what}: truncated ({kind} bytes expected)")
            value, pos = buf[pos + 1:pos + 1 + kind], pos + 1 + kind
        out.fields[tag] = value
    return out
