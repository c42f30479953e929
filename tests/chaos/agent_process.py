"""The real agent as a child process: ``python -m firmware run --config SITE``.

The site config must say ``[console] device = "stdio"``: commands are written to the
child's stdin, and its reply lines read from stdout up to the ``OK`` / ``ERROR: ...``
line that ends every reply. The log (stderr) is appended to ``log_path`` so a failed
run can show what the agent was doing (``log_tail``).

Failure modes: ``AgentDied`` when the process ends while we wait for it (stdout at
EOF), ``ConsoleError`` for an ``ERROR:`` reply, ``TimeoutError`` when it does not
answer in time.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BANNER_PREFIX = "Borne console on"


class AgentDied(Exception):
    """The agent process ended (killed, crashed or stopped) while we waited for it."""


class ConsoleError(Exception):
    """The console answered ``ERROR: <reason>``."""


class AgentProcess:
    def __init__(self, site_path: Path, log_path: Path):
        self.site_path = site_path
        self.log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    async def start(self, timeout_s: float = 30.0) -> None:
        """Start the process and return once its console is up (the banner line)."""
        with open(self.log_path, "ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "firmware", "run", "--config", str(self.site_path),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log,
                cwd=REPO)
        await self.wait_banner(timeout_s)

    async def wait_banner(self, timeout_s: float = 30.0) -> None:
        """Wait for the console banner (after a start, or after a Reset re-executed us)."""
        async with asyncio.timeout(timeout_s):
            while True:
                line = await self._line()
                if line.startswith(BANNER_PREFIX):
                    return

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def command(self, line: str, timeout_s: float = 15.0) -> list[str]:
        """Run one console command; the reply lines without the final OK."""
        async with self._lock, asyncio.timeout(timeout_s):
            if not self.running:
                raise AgentDied(f"agent not running for {line!r}")
            try:
                self.proc.stdin.write(line.encode() + b"\n")
                await self.proc.stdin.drain()
            except (ConnectionError, OSError) as e:
                raise AgentDied(f"agent gone while sending {line!r}: {e}") from None
            reply: list[str] = []
            while True:
                text = await self._line()
                if text == "OK":
                    return reply
                if text.startswith("ERROR"):
                    raise ConsoleError(f"{line!r} -> {text}")
                reply.append(text)

    async def _line(self) -> str:
        raw = await self.proc.stdout.readline()
        if not raw:
            raise AgentDied(f"agent output ended (exit {self.proc.returncode})")
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    async def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, like a power cut for the process."""
        if self.running:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            await self.proc.wait()

    async def terminate(self, timeout_s: float = 30.0) -> int:
        """SIGTERM and wait for the exit status (0 on a graceful stop)."""
        if self.running:
            self.proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(timeout_s):
            return await self.proc.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])
