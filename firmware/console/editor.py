"""A line editor for serial terminals, sans I/O: bytes in, actions and bytes out.

``Editor.feed(data)`` returns a list of actions: ``Output(bytes)`` to write to the
terminal, ``Line(text)`` for a finished line, ``Cancelled()`` for Ctrl-C (the caller
also stops a running ``watch``), ``LoggedOut()`` for Ctrl-D on an empty line,
``Overflow()`` for a line that was too long (discarded whole).

What it understands, on any terminal (screen, picocom, minicom, a dumb one):

- CR, LF or CRLF end exactly one line; BS and DEL erase the character before the
  cursor; Ctrl-U erases the line, Ctrl-W the word before the cursor; Ctrl-A / Ctrl-E
  go to the start / end; Ctrl-L redraws; Tab completes through ``completer``.
- ANSI/VT100 sequences (``ESC [ ...`` and ``ESC O x``): ←/→ move the cursor, ↑/↓ walk
  the history, Home/End/Delete. An escape sequence is consumed whole and never lands
  in the line, recognised or not; a terminal that sends none loses nothing.
- Output uses only CR, BS, spaces and printable text, so it renders the same on a
  terminal without ANSI support (no colours, no cursor addressing).
- Bytes that are not UTF-8 become U+FFFD; other control bytes are ignored.

``print_above(lines)`` returns the bytes that put event lines above the prompt and
redraw what was being typed, cursor included.
"""

from __future__ import annotations

import codecs
from collections import deque
from dataclasses import dataclass
from typing import Callable

MAX_LINE_CHARS = 512
HISTORY_LINES = 50
_MAX_ESCAPE_BYTES = 16  # longer "sequences" are noise: dropped, then normal input again


@dataclass(frozen=True)
class Output:
    data: bytes


@dataclass(frozen=True)
class Line:
    text: str


@dataclass(frozen=True)
class Cancelled:
    pass


@dataclass(frozen=True)
class LoggedOut:
    pass


@dataclass(frozen=True)
class Overflow:
    pass


Action = Output | Line | Cancelled | LoggedOut | Overflow
Completer = Callable[[str], list[str]]


class Editor:
    """One terminal's line being typed. Obligation: the caller writes every ``Output``
    in order; ``secret`` lines (passwords) are neither echoed nor kept in history."""

    def __init__(self, completer: Completer | None = None, *, echo: bool = True,
                 max_chars: int = MAX_LINE_CHARS, history_lines: int = HISTORY_LINES) -> None:
        self.completer = completer
        self.echo = echo
        self.max_chars = max_chars
        self.prompt = ""
        self.secret = False
        self.history: deque[str] = deque(maxlen=history_lines)
        self._chars: list[str] = []
        self._cursor = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._escape: bytearray | None = None
        self._after_cr = False
        self._overflowed = False
        self._browse: int | None = None  # index into history while walking it
        self._draft: list[str] = []

    # ------------------------------------------------------------------ queries
    @property
    def text(self) -> str:
        return "".join(self._chars)

    def show_prompt(self) -> bytes:
        """The prompt and the current line (after output that ended in a newline)."""
        return self._render()

    def print_above(self, lines: list[str]) -> bytes:
        """Erase the prompt line, print ``lines``, then redraw prompt and line."""
        width = len(self.prompt) + len(self._visible())
        out = b"\r" + b" " * width + b"\r"
        out += b"".join(_clean(line).encode("utf-8", "replace") + b"\r\n" for line in lines)
        return out + self._render()

    # ------------------------------------------------------------------ input
    def feed(self, data: bytes) -> list[Action]:
        actions: list[Action] = []
        out = bytearray()
        for byte in data:
            if self._escape is not None:
                self._escape_byte(byte, out)
                continue
            if byte == 0x0A and self._after_cr:
                self._after_cr = False  # the LF of a CRLF: already ended the line
                continue
            self._after_cr = byte == 0x0D
            if byte in (0x0D, 0x0A):
                if self.echo:  # a cooked terminal (stdio) has echoed the newline itself
                    out += b"\r\n"
                actions.append(Output(bytes(out)))
                out.clear()
                actions.append(self._finish())
            elif byte == 0x1B:
                self._escape = bytearray()
            elif byte in (0x08, 0x7F):
                self._backspace(out)
            elif byte == 0x03:  # Ctrl-C
                if self.echo:
                    out += b"^C\r\n"
                actions.append(Output(bytes(out)))
                out.clear()
                self._reset()
                actions.append(Cancelled())
            elif byte == 0x04:  # Ctrl-D: log out on an empty line, else delete forward
                if not self._chars:
                    actions.append(Output(bytes(out)))
                    out.clear()
                    actions.append(LoggedOut())
                else:
                    self._delete_forward(out)
            elif byte == 0x15:  # Ctrl-U
                self._replace([], 0, out)
            elif byte == 0x17:  # Ctrl-W
                self._erase_word(out)
            elif byte == 0x01:
                self._move(-self._cursor, out)
            elif byte == 0x05:
                self._move(len(self._chars) - self._cursor, out)
            elif byte == 0x0C:  # Ctrl-L
                out += b"\r\n" + self._render()
            elif byte == 0x09:
                self._complete(out)
            elif byte < 0x20:
                continue
            else:
                for char in self._decoder.decode(bytes([byte])):
                    self._insert(char, out)
        if out:
            actions.append(Output(bytes(out)))
        return [a for a in actions if not (isinstance(a, Output) and not a.data)]

    # ------------------------------------------------------------------ escapes
    def _escape_byte(self, byte: int, out: bytearray) -> None:
        seq = self._escape
        assert seq is not None
        seq.append(byte)
        if len(seq) == 1:
            if byte in (0x5B, 0x4F):  # '[' CSI or 'O' SS3
                return
            self._escape = None  # ESC + something else (Alt-x): both dropped
            return
        if seq[0] == 0x4F or 0x40 <= byte <= 0x7E:
            self._escape = None
            self._key(bytes(seq), out)
        elif len(seq) > _MAX_ESCAPE_BYTES or not 0x20 <= byte <= 0x3F:
            self._escape = None  # not a sequence after all: drop it

    def _key(self, seq: bytes, out: bytearray) -> None:
        final = seq[-1:]
        if final == b"D":
            self._move(-1, out)
        elif final == b"C":
            self._move(1, out)
        elif final == b"A":
            self._walk_history(-1, out)
        elif final == b"B":
            self._walk_history(1, out)
        elif final == b"H" or seq in (b"[1~", b"[7~"):
            self._move(-self._cursor, out)
        elif final == b"F" or seq in (b"[4~", b"[8~"):
            self._move(len(self._chars) - self._cursor, out)
        elif seq == b"[3~":
            self._delete_forward(out)

    # ------------------------------------------------------------------ editing
    def _insert(self, char: str, out: bytearray) -> None:
        if len(self._chars) >= self.max_chars:
            self._overflowed = True
            return
        self._chars.insert(self._cursor, char)
        self._cursor += 1
        if self.echo and not self.secret:
            tail = self._chars[self._cursor:]
            out += "".join([char, *tail]).encode("utf-8")
            out += b"\b" * len(tail)

    def _backspace(self, out: bytearray) -> None:
        if self._cursor == 0:
            return
        chars = self._chars[:self._cursor - 1] + self._chars[self._cursor:]
        self._replace(chars, self._cursor - 1, out)

    def _delete_forward(self, out: bytearray) -> None:
        if self._cursor < len(self._chars):
            chars = self._chars[:self._cursor] + self._chars[self._cursor + 1:]
            self._replace(chars, self._cursor, out)

    def _erase_word(self, out: bytearray) -> None:
        start = self._cursor
        while start > 0 and self._chars[start - 1] == " ":
            start -= 1
        while start > 0 and self._chars[start - 1] != " ":
            start -= 1
        self._replace(self._chars[:start] + self._chars[self._cursor:], start, out)

    def _move(self, delta: int, out: bytearray) -> None:
        target = max(0, min(len(self._chars), self._cursor + delta))
        if self.echo and not self.secret:
            if target < self._cursor:
                out += b"\b" * (self._cursor - target)
            else:
                out += "".join(self._chars[self._cursor:target]).encode("utf-8")
        self._cursor = target

    def _replace(self, chars: list[str], cursor: int, out: bytearray) -> None:
        """Show ``chars`` with the cursor at ``cursor``, using only BS, spaces and text."""
        old = self._chars
        if self.echo and not self.secret:
            out += b"\b" * self._cursor
            out += "".join(chars).encode("utf-8")
            extra = max(0, len(old) - len(chars))
            out += b" " * extra + b"\b" * (extra + len(chars) - cursor)
        self._chars = list(chars)
        self._cursor = cursor
        if not chars:
            self._overflowed = False

    def _walk_history(self, step: int, out: bytearray) -> None:
        if self.secret or not self.history:
            return
        if self._browse is None:
            if step > 0:
                return
            self._draft = list(self._chars)
            index = len(self.history) - 1
        else:
            index = self._browse + step
        if index < 0:
            return
        if index >= len(self.history):
            self._browse = None
            self._replace(self._draft, len(self._draft), out)
            return
        self._browse = index
        chars = list(self.history[index])
        self._replace(chars, len(chars), out)

    def _complete(self, out: bytearray) -> None:
        if self.completer is None or self.secret or self._cursor != len(self._chars):
            return
        try:
            options = sorted(set(self.completer(self.text)))
        except Exception:  # a completer bug must not break typing
            return
        if not options:
            return
        prefix = _common_prefix(options)
        word_start = self.text.rfind(" ") + 1
        typed = self.text[word_start:]
        if len(options) == 1:
            addition = options[0][len(typed):] + " "
        else:
            addition = prefix[len(typed):]
        if addition:
            for char in addition:
                self._insert(char, out)
        elif self.echo:
            out += b"\r\n" + "  ".join(options).encode("utf-8") + b"\r\n" + self._render()

    def _finish(self) -> Action:
        text = self.text
        overflowed = self._overflowed
        was_secret = self.secret
        self._reset()
        if overflowed:
            return Overflow()
        if text.strip() and not was_secret and (not self.history or self.history[-1] != text):
            self.history.append(text)
        return Line(text)

    def _reset(self) -> None:
        self._chars = []
        self._cursor = 0
        self._overflowed = False
        self._browse = None
        self._decoder.reset()

    def _visible(self) -> str:
        return "" if self.secret else self.text

    def _render(self) -> bytes:
        if not self.echo:
            return self.prompt.encode("utf-8", "replace")
        visible = self._visible()
        back = len(visible) - (0 if self.secret else self._cursor)
        return (self.prompt + visible).encode("utf-8", "replace") + b"\b" * back


def _common_prefix(words: list[str]) -> str:
    first, last = min(words), max(words)
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    return first[:size]


def _clean(line: str) -> str:
    """Event text is printed as is, minus control characters (no escape injection)."""
    return "".join(c if c >= " " or c == "\t" else "?" for c in line)
