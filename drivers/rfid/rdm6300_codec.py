"""Sans-I/O codec of the RDM6300 125 kHz (EM4100) reader's serial output.

Frame (hardware.md §1b), 14 bytes, 9600 8N1, reader → host only:
``02 | 10 ASCII hex chars (version byte + 4-byte tag id) | 2 ASCII hex checksum | 03``;
checksum = XOR of the 5 bytes encoded by the 10 data chars. Example: data
``0F00A1B2C3`` → checksum ``DF``.

The decoder resynchronises on every STX (0x02): bytes before it, frames with a wrong
length, non-hex characters or a bad checksum are dropped and counted, never decoded.
Hex is accepted in either case (clones differ).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

STX = 0x02
ETX = 0x03
FRAME_LEN = 14
_HEX = frozenset(b"0123456789ABCDEFabcdef")


@dataclass(frozen=True)
class Em4100Frame:
    data: bytes    # 5 bytes: version/customer byte, then the 4-byte tag id (MSB first)
    raw: str       # the 12 characters between STX and ETX, as received

    @property
    def tag_id(self) -> int:
        """The 32-bit tag value (often printed on the card in decimal)."""
        return int.from_bytes(self.data[1:], "big")


def xor_checksum(data: bytes) -> int:
    return reduce(lambda a, b: a ^ b, data, 0)


def encode(data: bytes) -> bytes:
    """The frame a reader sends for 5 ``data`` bytes (used by tests and simulators)."""
    if len(data) != 5:
        raise ValueError("EM4100 data is 5 bytes")
    body = data.hex().upper() + f"{xor_checksum(data):02X}"
    return bytes([STX]) + body.encode("ascii") + bytes([ETX])


class Rdm6300Decoder:
    def __init__(self) -> None:
        self._buf = bytearray()
        self.rejected = 0

    def feed(self, chunk: bytes) -> list[Em4100Frame]:
        self._buf += chunk
        frames: list[Em4100Frame] = []
        while True:
            start = self._buf.find(STX)
            if start < 0:
                if self._buf:
                    self.rejected += 1
                self._buf.clear()
                return frames
            if start:
                self.rejected += 1
                del self._buf[:start]
            # an STX inside the candidate means the frame was truncated: restart there
            nxt = self._buf.find(STX, 1, FRAME_LEN)
            if nxt > 0:
                self.rejected += 1
                del self._buf[:nxt]
                continue
            if len(self._buf) < FRAME_LEN:
                return frames
            candidate = bytes(self._buf[:FRAME_LEN])
            frame = self._decode(candidate)
            if frame is None:
                self.rejected += 1
                del self._buf[:1]     # drop this STX, look for the next one
                continue
            frames.append(frame)
            del self._buf[:FRAME_LEN]

    @staticmethod
    def _decode(candidate: bytes) -> Em4100Frame | None:
        if candidate[0] != STX or candidate[-1] != ETX:
            return None
        body = candidate[1:-1]
        if not all(b in _HEX for b in body):
            return None
        data = bytes.fromhex(body[:10].decode("ascii"))
        if xor_checksum(data) != int(body[10:], 16):
            return None
        return Em4100Frame(data, body.decode("ascii"))
