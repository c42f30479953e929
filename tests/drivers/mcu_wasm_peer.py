"""The MCU firmware under real MicroPython (the WebAssembly port, run by Node) on the far
end of a pseudo-terminal: tests/mcu/micropython/mcu_process.py serves one request per loop
turn; this relay moves the host's bytes from the pty into it and its answer bytes back.

``skip_reason()`` says why it cannot run here (no Node, package not installed), or None.
Knobs: ``ev`` (pilot state the EV shows), ``rcd``, ``deaf`` (the host's bytes are thrown
away: the host "falls silent"). Read-backs: ``coil``, ``pilot``, ``faults``, and
``opened_at_ms`` / ``last_host_rx_ms`` in the firmware's milliseconds.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / ".mcu-node" / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
RUNNER = REPO / "tests" / "mcu" / "micropython" / "run.mjs"
SCRIPT = REPO / "tests" / "mcu" / "micropython" / "mcu_process.py"
INSTALL = "npm install --prefix .mcu-node @micropython/micropython-webassembly-pyscript@1.27.0"


def skip_reason() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed: the MCU firmware cannot run under MicroPython here"
    if not (PACKAGE / "micropython.mjs").is_file():
        return f"the MicroPython WebAssembly package is missing: {INSTALL}"
    return None


class WasmMcu:
    def __init__(self, peer, period_ms: int = 5) -> None:
        self.peer = peer
        self.period_ms = period_ms
        self.ev = "A"
        self.rcd = False
        self.deaf = False
        self.coil = False
        self.pilot = "F"
        self.faults = 0
        self.opened_at_ms: list[int] = []
        self.last_host_rx_ms = -1
        self.turns = 0

    def _now_ms(self) -> int:
        return int(asyncio.get_running_loop().time() * 1000)

    def _read_host(self) -> bytes:
        data = bytearray()
        while self.peer.master >= 0:
            try:
                chunk = os.read(self.peer.master, 4096)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                break
            data += chunk
        return bytes(data)

    async def run(self) -> None:
        if self.peer.master >= 0:
            asyncio.get_running_loop().remove_reader(self.peer.master)   # we read it ourselves
        node = await asyncio.create_subprocess_exec(
            shutil.which("node") or "node", str(RUNNER), str(PACKAGE), str(REPO), str(SCRIPT),
            "--serve", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        assert node.stdin is not None and node.stdout is not None
        try:
            while True:
                now = self._now_ms()
                rx = self._read_host()
                if rx and not self.deaf:
                    self.last_host_rx_ms = now
                else:
                    rx = b""
                node.stdin.write(f"{now} {rx.hex() or '-'} {self.ev} {int(self.rcd)}\n".encode())
                await node.stdin.drain()
                line = await node.stdout.readline()
                if not line:
                    raise RuntimeError("the MicroPython process ended")
                out, coil, self.pilot, faults = line.decode().split()
                self.faults = int(faults)
                if self.coil and coil == "0":
                    self.opened_at_ms.append(now)
                self.coil = coil == "1"
                self.turns += 1
                if out != "-" and self.peer.master >= 0:
                    os.write(self.peer.master, bytes.fromhex(out))
                await asyncio.sleep(self.period_ms / 1000)
        finally:
            if node.returncode is None:
                node.kill()
            await node.wait()
