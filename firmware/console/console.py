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

log = logging.getLogger(__name__)


ROLES = ("viewer", "technician", "admin")


@dataclass(frozen=True)
class Command:
    words: tuple[str, ...]
    usage: str
    help: str
    handler: Callable[[list[str]], Awaitable[list[str]]]
    role: str = "viewer"  # the least role allowed to run it


class Console:
    """The command registry and parser; sessions (``firmware.console.session``) feed
    it lines with the logged-in role."""

    def __init__(self) -> None:
        self._commands: dict[tuple[str, ...], Command] = {}

    def register(self, usage: str, help_text: str,
                 handler: Callable[[list[str]], Awaitable[list[str]]],
                 words: int | None = None, role: str = "viewer") -> None:
        """Register ``usage`` (e.g. "config get [KEY]"); its leading literal words name it."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        parts = usage.split()
        count = 0
        while count < len(parts) and parts[count].isalpha() and parts[count].islower():
            count += 1
        key = tuple(parts[:words if words is not None else count])
        self._commands[key] = Command(key, usage, help_text, handler, role)

    def commands(self, role: str = "admin") -> list[Command]:
        rank = ROLES.index(role)
        return sorted((c for c in self._commands.values() if ROLES.index(c.role) <= rank),
                      key=lambda c: c.words)

    def help_lines(self, args: list[str], role: str = "admin") -> list[str]:
        """``help`` lists what ``role`` may run; ``help CMD`` that command or group."""
        wanted = tuple(a.lower() for a in args)
        chosen = [c for c in self.commands(role) if c.words[:len(wanted)] == wanted]
        if not chosen:
            raise ConsoleError(f"no command {' '.join(args)!r}; type help")
        width = max(len(c.usage) for c in chosen)
        lines = [f"{c.usage.ljust(width)}  {c.help}" for c in chosen]
        if wanted and len(chosen) == 1 and chosen[0].role != "viewer":
            lines.append(f"(needs role {chosen[0].role})")
        return lines

    def complete(self, text: str, role: str = "admin") -> list[str]:
        """Tab completion: the next word of the commands ``text`` starts."""
        typed = text.lower().split(" ")
        done, partial = typed[:-1], typed[-1]
        options = []
        for c in self.commands(role):
            if list(c.words[:len(done)]) == done and len(c.words) > len(done) \
                    and c.words[len(done)].startswith(partial):
                options.append(c.words[len(done)])
        return sorted(set(options))

    async def execute(self, line: str, role: str = "admin") -> list[str]:
        """Run one line as ``role``; the reply always ends with OK or ERROR: reason."""
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
            group = [c.usage for c in self.commands() if c.words[0] == lowered[0]]
            if group:
                return [f"ERROR: usage: {' | '.join(group)}"]
            return [f"ERROR: unknown command {words[0]!r}; type help"]
        if ROLES.index(role) < ROLES.index(command.role):
            return [f"ERROR: {' '.join(command.words)} needs role {command.role} "
                    f"(you are {role})"]
        try:
            out = await command.handler(words[size:])
        except ConsoleError as e:
            return [f"ERROR: {e}"]
        except Exception as e:  # a bug in a command must not take the console down
            log.exception("console command %r failed", line)
            return [f"ERROR: internal error: {type(e).__name__}: {e}"]
        return list(out) + ["OK"]


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
