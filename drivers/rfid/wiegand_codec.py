"""Sans-I/O Wiegand 26/34 decoder: timestamped bits in, validated frames out.

Bit layouts (hardware.md §1c, Promag WEC200 Appendix B):
- W26: bit 1 = even parity over bits 2-13; bits 2-9 facility (8 bit); bits 10-25 card
  number (16 bit); bit 26 = odd parity over bits 14-25.
- W34: bit 1 = even parity over bits 2-17; bits 2-33 data (32 bit); bit 34 = odd parity
  over bits 18-33.
Example: FC 123, CN 45678 → 1 01111011 1011001001101110 1 = 0x2F764DD.

Framing: a frame ends after ``gap_ns`` of silence (> the 20 ms maximum pulse interval).
``push()`` closes the previous frame when the new bit comes later than that;
``flush(now_ns)`` closes it when the caller's timer fires. A frame with a bit count
not in ``formats`` or a parity error is rejected (``Rejected``), never decoded.

UID bytes (documented choice): the data bits in transmission order, most significant
bit first — W26: facility byte then the card number big-endian (3 bytes); W34: the 32
data bits as 4 bytes, first transmitted byte first. Readers that put a 4-byte card UID
into W34 do not agree on which UID byte comes first [hardware.md: unverified]; the UID is
kept in transmission order and the idTag mapping above the HAL can reverse it.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_GAP_NS = 25_000_000
FORMATS = (26, 34)


@dataclass(frozen=True)
class WiegandFrame:
    bits: str            # "0"/"1" in transmission order, parity bits included
    uid: bytes           # data bits, MSB first (see module docstring)

    @property
    def facility(self) -> int | None:
        return self.uid[0] if len(self.bits) == 26 else None

    @property
    def card_number(self) -> int:
        return int.from_bytes(self.uid[-2:], "big")


@dataclass(frozen=True)
class Rejected:
    bits: str
    reason: str


def _parity_ok(bits: str) -> str | None:
    n = len(bits)
    half = (n - 2) // 2            # W26: 12 data bits per half, W34: 16
    first = bits[1:1 + half]
    second = bits[1 + half:n - 1]
    if (bits[0].count("1") + first.count("1")) % 2 != 0:
        return "even parity (leading bit) wrong"
    if (second.count("1") + bits[-1].count("1")) % 2 != 1:
        return "odd parity (trailing bit) wrong"
    return None


def decode_bits(bits: str, formats: tuple[int, ...] = FORMATS) -> WiegandFrame | Rejected:
    if len(bits) not in formats or len(bits) not in FORMATS:
        return Rejected(bits, f"{len(bits)} bits, expected one of {formats}")
    problem = _parity_ok(bits)
    if problem:
        return Rejected(bits, problem)
    data = bits[1:-1]
    uid = int(data, 2).to_bytes(len(data) // 8, "big")
    return WiegandFrame(bits, uid)


def encode(uid_bits: str) -> str:
    """Add the two parity bits to 24 or 32 data bits (for tests and simulators)."""
    if len(uid_bits) not in (24, 32):
        raise ValueError("24 or 32 data bits")
    half = len(uid_bits) // 2
    lead = "1" if uid_bits[:half].count("1") % 2 else "0"
    trail = "0" if uid_bits[half:].count("1") % 2 else "1"
    return lead + uid_bits + trail


class WiegandDecoder:
    def __init__(self, gap_ns: int = DEFAULT_GAP_NS, formats: tuple[int, ...] = FORMATS,
                 max_bits: int = 64) -> None:
        self.gap_ns = gap_ns
        self.formats = formats
        self.max_bits = max_bits
        self._bits: list[str] = []
        self._last_ns: int | None = None

    @property
    def pending(self) -> bool:
        return bool(self._bits)

    def push(self, bit: int, timestamp_ns: int) -> list[WiegandFrame | Rejected]:
        out: list[WiegandFrame | Rejected] = []
        if self._bits and self._last_ns is not None and timestamp_ns - self._last_ns >= self.gap_ns:
            out.append(self._close())
        self._bits.append("1" if bit else "0")
        self._last_ns = timestamp_ns
        if len(self._bits) > self.max_bits:   # a stuck line or noise burst
            out.append(Rejected("".join(self._bits), f"more than {self.max_bits} bits"))
            self._bits.clear()
        return out

    def flush(self, now_ns: int | None = None) -> list[WiegandFrame | Rejected]:
        """Close the pending frame if ``now_ns`` is past the gap (None = unconditionally)."""
        if not self._bits:
            return []
        if now_ns is not None and self._last_ns is not None and now_ns - self._last_ns < self.gap_ns:
            return []
        return [self._close()]

    def _close(self) -> WiegandFrame | Rejected:
        bits = "".join(self._bits)
        self._bits.clear()
        return decode_bits(bits, self.formats)
