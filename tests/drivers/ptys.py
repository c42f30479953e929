"""Real pseudo-terminals for driver tests (no socat, no mocked pyserial).

``PtyPeer``: the device under test opens ``peer.path`` (the slave tty) with pyserial;
the test plays the device on the other end through the master fd.
``LinkedPtys``: two slave ttys whose masters are relayed to each other by the event
loop — a "null-modem cable" for two programs that both want a tty path (pymodbus
server and client).
"""

from __future__ import annotations

import asyncio
import os
import tty


def _open_raw_pty() -> tuple[int, int, str]:
    master, slave = os.openpty()
    tty.setraw(slave)          # no echo, no line discipline before the device opens it
    os.set_blocking(master, False)
    return master, slave, os.ttyname(slave)


class PtyPeer:
    def __init__(self) -> None:
        self.master, self._slave, self.path = _open_raw_pty()
        self._buf = bytearray()
        self._data = asyncio.Event()
        self._eof = False
        asyncio.get_running_loop().add_reader(self.master, self._on_readable)
        self.received = bytearray()   # everything the device ever wrote

    def _on_readable(self) -> None:
        try:
            data = os.read(self.master, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            # the device closed its side; stop watching until it reopens
            self._eof = True
            asyncio.get_running_loop().remove_reader(self.master)
        self._buf += data
        self.received += data
        self._data.set()

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    async def read(self, timeout_s: float = 2.0) -> bytes:
        """Whatever the device wrote since the last read (waits for at least one byte)."""
        async with asyncio.timeout(timeout_s):
            while not self._buf:
                self._data.clear()
                await self._data.wait()
        data = bytes(self._buf)
        self._buf.clear()
        return data

    async def read_exactly(self, n: int, timeout_s: float = 2.0) -> bytes:
        async with asyncio.timeout(timeout_s):
            while len(self._buf) < n:
                self._data.clear()
                await self._data.wait()
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def pending(self) -> bytes:
        data = bytes(self._buf)
        self._buf.clear()
        return data

    def hang_up(self) -> None:
        """Close the master: the device's next read sees the port vanish (EIO)."""
        if self.master >= 0:
            asyncio.get_running_loop().remove_reader(self.master)
            os.close(self.master)
            self.master = -1

    def close(self) -> None:
        self.hang_up()
        if self._slave >= 0:
            os.close(self._slave)
            self._slave = -1


class LinkedPtys:
    def __init__(self) -> None:
        self._a, self._sa, self.path_a = _open_raw_pty()
        self._b, self._sb, self.path_b = _open_raw_pty()
        loop = asyncio.get_running_loop()
        loop.add_reader(self._a, self._copy, self._a, self._b)
        loop.add_reader(self._b, self._copy, self._b, self._a)
        self.cut = False      # True: bytes are dropped (a silent / unplugged peer)

    @staticmethod
    def _read(fd: int) -> bytes:
        try:
            return os.read(fd, 4096)
        except (BlockingIOError, OSError):
            return b""

    def _copy(self, src: int, dst: int) -> None:
        data = self._read(src)
        if data and not self.cut:
            try:
                os.write(dst, data)
            except OSError:
                pass

    def close(self) -> None:
        loop = asyncio.get_running_loop()
        for fd in (self._a, self._b):
            loop.remove_reader(fd)
        for fd in (self._a, self._b, self._sa, self._sb):
            os.close(fd)


class FakeClock:
    """A monotonic clock the test advances by hand (seconds)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
