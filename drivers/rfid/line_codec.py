"""Sans-I/O codec for readers that print each card as a text line (USB CDC readers in
"keyboard"/"standard" mode, serial bridges), e.g. ``04A2B3C4D5E6F7\\r``.

Lines end in CR, LF or CRLF (an empty line between CR and LF is ignored). A line is
parsed per ``LineFormat``: an optional ``prefix`` is stripped, then
- ``hex``: hex digits, either contiguous ("04A2B3C4") or in byte groups separated by
  ``separator`` (":" → "04:A2:B3:C4", " " → "04 A2 B3 C4"); case-insensitive;
- ``decimal``: a decimal number, converted to ``decimal_bytes`` big-endian bytes
  (e.g. the 10-digit "DEZ10" print of a 4-byte UID).
Anything else (an odd number of hex digits, stray characters, an empty UID, a number
too big for ``decimal_bytes``, a line longer than ``max_line_chars``) is a ``BadLine``:
reported, never a card.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FORMATS = ("hex", "decimal")
_HEX_RE = re.compile(r"[0-9A-Fa-f]+")
_DEC_RE = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class LineFormat:
    format: str = "hex"
    separator: str = ""
    prefix: str = ""
    decimal_bytes: int = 4
    max_uid_bytes: int = 10
    max_line_chars: int = 80

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}")
        if len(self.separator) > 1:
            raise ValueError("separator is at most one character")


@dataclass(frozen=True)
class CardLine:
    uid: bytes
    line: str     # the whole line as received (diagnostics)


@dataclass(frozen=True)
class BadLine:
    line: str
    reason: str


def parse_line(line: str, fmt: LineFormat) -> CardLine | BadLine:
    text = line.strip()
    if fmt.prefix and text.startswith(fmt.prefix):
        text = text[len(fmt.prefix):].strip()
    if not text:
        return BadLine(line, "empty")
    if fmt.format == "decimal":
        if not _DEC_RE.fullmatch(text):
            return BadLine(line, "not a decimal number")
        value = int(text)
        if value.bit_length() > 8 * fmt.decimal_bytes:
            return BadLine(line, f"does not fit in {fmt.decimal_bytes} bytes")
        return CardLine(value.to_bytes(fmt.decimal_bytes, "big"), line)
    if fmt.separator:
        groups = text.split(fmt.separator)
        if any(len(g) != 2 or not _HEX_RE.fullmatch(g) for g in groups):
            return BadLine(line, f"not hex byte groups separated by {fmt.separator!r}")
        hex_text = "".join(groups)
    else:
        if not _HEX_RE.fullmatch(text):
            return BadLine(line, "not hex")
        if len(text) % 2:
            return BadLine(line, "odd number of hex digits")
        hex_text = text
    uid = bytes.fromhex(hex_text)
    if len(uid) > fmt.max_uid_bytes:
        return BadLine(line, f"UID longer than {fmt.max_uid_bytes} bytes")
    return CardLine(uid, line)


class LineDecoder:
    """Bytes in → ``CardLine``/``BadLine`` out; undecodable bytes become BadLines."""

    def __init__(self, fmt: LineFormat, encoding: str = "ascii") -> None:
        self.fmt = fmt
        self.encoding = encoding
        self._buf = bytearray()
        self._overlong = False

    def feed(self, chunk: bytes) -> list[CardLine | BadLine]:
        out: list[CardLine | BadLine] = []
        for byte in chunk:
            if byte in (0x0D, 0x0A):
                if self._overlong:
                    out.append(BadLine(self._buf.decode("latin-1") + "…", "line too long"))
                elif self._buf:
                    out.append(self._line(bytes(self._buf)))
                self._buf.clear()
                self._overlong = False
            elif not self._overlong:
                self._buf.append(byte)
                if len(self._buf) > self.fmt.max_line_chars:
                    self._overlong = True
        return out

    def _line(self, raw: bytes) -> CardLine | BadLine:
        try:
            line = raw.decode(self.encoding)
        except UnicodeDecodeError:
            return BadLine(raw.decode("latin-1"), f"not {self.encoding} text")
        if not line.isprintable():
            return BadLine(line, "control characters")
        return parse_line(line, self.fmt)
