"""Bytes from a terminal → command lines, the way a serial terminal user expects.

Serial terminals (screen, picocom, minicom) send CR at Enter, some send CRLF, scripts
send LF: each of these ends exactly one line. Backspace (BS or DEL) erases, Ctrl-U
clears the line, other control bytes are ignored, bytes that are not UTF-8 become
U+FFFD. A line longer than ``max_chars`` is discarded as a whole and reported, so a
flood of noise cannot grow memory or run as a command.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_LINE_CHARS = 512


@dataclass
class LineEvent:
    line: str | None = None  # a complete line
    echo: bytes = b""  # what to echo back (raw terminals)
    overflow: bool = False  # the line was too long and was discarded


@dataclass
class LineEditor:
    max_chars: int = MAX_LINE_CHARS
    _buffer: bytearray = field(default_factory=bytearray)
    _after_cr: bool = False
    _overflowed: bool = False

    def feed(self, data: bytes) -> list[LineEvent]:
        events: list[LineEvent] = []
        echo = bytearray()
        for byte in data:
            if byte == 0x0A and self._after_cr:
                self._after_cr = False  # the LF of a CRLF: already ended the line
                continue
            self._after_cr = byte == 0x0D
            if byte in (0x0D, 0x0A):
                echo += b"\r\n"
                events.append(LineEvent(echo=bytes(echo)))
                echo.clear()
                events.append(self._finish())
            elif byte in (0x08, 0x7F):
                if self._buffer:
                    self._erase_last_char()
                    echo += b"\b \b"
            elif byte == 0x15:  # Ctrl-U
                echo += b"\b \b" * len(self._buffer.decode("utf-8", "replace"))
                self._buffer.clear()
            elif byte < 0x20 and byte != 0x09:
                continue
            else:
                if len(self._buffer) >= self.max_chars * 4:
                    self._overflowed = True
                    continue
                self._buffer.append(byte)
                echo.append(byte)
        if echo:
            events.append(LineEvent(echo=bytes(echo)))
        return [e for e in events if e.line is not None or e.echo or e.overflow]

    def _erase_last_char(self) -> None:
        # Remove one UTF-8 character (its continuation bytes too).
        while self._buffer:
            last = self._buffer.pop()
            if last & 0xC0 != 0x80:
                break

    def _finish(self) -> LineEvent:
        text = self._buffer.decode("utf-8", "replace")
        self._buffer.clear()
        if self._overflowed or len(text) > self.max_chars:
            self._overflowed = False
            return LineEvent(overflow=True)
        return LineEvent(line=text)
