"""The technician console: a line protocol any serial terminal can speak.

Each command's reply is zero or more lines, then exactly one ``OK`` or
``ERROR: <reason>`` line. Commands are words matched longest-first ("config get",
"sim plug"); unknown commands, wrong arguments and commands that fail all answer with
``ERROR: ...``; nothing a technician types can stop the agent.
"""

from __future__ import annotations

import logging
import shlex
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

from firmware.errors import ConsoleError

from .transport import ConsoleTransport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Command:
    words: tuple[str, ...]
    usage: str
    help: str
    handler: Callable[[list[str]], Awaitable[list[str]]]


class Console:
    def __init__(self) -> None:
        self._commands: dict[tuple[str, ...], Command] = {}

    def register(self, usage: str, help_text: str,
                 handler: Callable[[list[str]], Awaitable[list[str]]],
                 words: int | None = None) -> None:
        """Register ``usage`` (e.g. "config get [KEY]"); its leading literal words name it."""
        parts = usage.split()
        count = 0
        while count < len(parts) and parts[count].isalpha() and parts[count].islower():
            count += 1
        key = tuple(parts[:words if words is not None else count])
        self._commands[key] = Command(key, usage, help_text, handler)

    def commands(self) -> list[Command]:
        return sorted(self._commands.values(), key=lambda c: c.words)

    async def execute(self, line: str) -> list[str]:
        """Run one line; the reply always ends with OK or ERROR: reason."""
        try:
            words = shlex.split(line)
        except ValueError as e:
            return [f"ERROR: cannot parse line: {e}"]
        if not words:
            return []
        lowered = [w.lower() for w in words]
        for size in range(min(3, len(words)), 0, -1):
            command = self._commands.get(tuple(lowered[:size]))
            if command is not None:
                break
        else:
            return [f"ERROR: unknown command {words[0]!r}; type help"]
        try:
            out = await command.handler(words[size:])
        except ConsoleError as e:
            return [f"ERROR: {e}"]
        except Exception as e:  # a bug in a command must not take the console down
            log.exception("console command %r failed", line)
            return [f"ERROR: internal error: {type(e).__name__}: {e}"]
        return list(out) + ["OK"]

    async def serve(self, transport: ConsoleTransport, banner: list[str] | None = None) -> None:
        """Read lines and answer until the input ends."""
        transport.start()
        try:
            if banner:
                transport.write_lines(banner)
            while True:
                event = await transport.read_line()
                if event is None:
                    log.info("console input closed (%s)", transport.description)
                    return
                if event.overflow:
                    transport.write_lines(["ERROR: line too long"])
                    continue
                reply = await self.execute(event.line or "")
                if reply:
                    transport.write_lines(reply)
        finally:
            transport.stop()


def age(seconds: float) -> str:
    """A duration for humans: 42s, 4m05s, 3h12m."""
    seconds = int(max(0, seconds))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def stamp(epoch_s: float) -> str:
    """An RFC 3339 UTC time to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


def need_args(args: list[str], minimum: int, maximum: int, usage: str) -> None:
    if not minimum <= len(args) <= maximum:
        raise ConsoleError(f"usage: {usage}")


def parse_int(text: str, what: str, minimum: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ConsoleError(f"{what} must be an integer, got {text!r}") from None
    if minimum is not None and value < minimum:
        raise ConsoleError(f"{what} must be >= {minimum}")
    return value
