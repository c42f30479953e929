"""The technician console over a pseudo-terminal and a serial line, as screen/picocom see it."""

import asyncio
import os
import tty

import serial

from firmware.console.accounts import hash_password

from tests.integration.agent import running_agent, write_site


class Terminal:
    """A pyserial client on the console's pty, read without blocking the event loop."""

    def __init__(self, path: str):
        self.port = serial.Serial(path, 115200, timeout=0)
        self.buffer = b""

    async def read_until(self, marker: bytes, timeout_s: float = 20.0) -> bytes:
        loop = asyncio.get_running_loop()
        readable = asyncio.Event()
        loop.add_reader(self.port.fileno(), readable.set)
        try:
            async with asyncio.timeout(timeout_s):
                while marker not in self.buffer:
                    readable.clear()
                    chunk = self.port.read(4096)
                    if chunk:
                        self.buffer += chunk
                    else:
                        await readable.wait()
        finally:
            loop.remove_reader(self.port.fileno())
        head, _, self.buffer = self.buffer.partition(marker)
        return head + marker

    async def command(self, line: str) -> list[str]:
        self.port.write(line.encode() + b"\r")  # terminals send CR at Enter
        text = await self.read_until(b"\r\n", 5)  # our own echo of the line
        assert text.endswith(line.encode() + b"\r\n"), text
        out = []
        while True:
            reply = (await self.read_until(b"\r\n")).decode().rstrip("\r\n")
            out.append(reply)
            if reply == "OK" or reply.startswith("ERROR: "):
                return out


async def test_console_on_a_pty_link(csms, tmp_path):
    link = tmp_path / "console"
    async with running_agent(write_site(tmp_path, csms.url, console=f"pty:{link}")):
        await csms.wait_for("StatusNotification", timeout_s=10)
        assert link.is_symlink()
        terminal = Terminal(str(link))  # pyserial flushes input on open: no banner to read
        # Issue 14: a technician who connects after start-up gets the banner and a
        # prompt on the first keystroke (the Enter that wakes the console runs nothing).
        terminal.port.write(b"\r")
        greeting = await terminal.read_until(b"CP-IT admin# ")
        assert b"Borne console on CP-IT (pty " in greeting and b"Type help." in greeting
        assert b"ERROR" not in greeting
        status = await terminal.command("status")
        assert status[-1] == "OK" and status[1].startswith("connector 1: Available")
        assert (await terminal.command("sim plug 1"))[-1] == "OK"
        await csms.wait_for("StatusNotification", lambda f: f.payload["status"] == "Preparing",
                            timeout_s=5)
        assert (await terminal.command("sim plug 99"))[-1].startswith("ERROR: ")
        assert (await terminal.command("frobnicate"))[-1].startswith("ERROR: unknown command")
        terminal.port.write(b"x" * 5000 + b"\r")
        assert (await terminal.read_until(b"ERROR: line too long\r\n")).endswith(b"long\r\n")
        assert (await terminal.command("version"))[0].startswith("borne ")
        terminal.port.close()
    assert not link.exists()  # the symlink is removed at shutdown


async def test_console_on_a_serial_device(csms, tmp_path):
    technician, agent_side = os.openpty()  # the agent opens the slave like /dev/ttyS0
    tty.setraw(technician)
    device = os.ttyname(agent_side)
    try:
        account = hash_password("s3cret", iterations=1000)
        extra = f'[console.accounts.alice]\nrole = "viewer"\npassword_hash = "{account}"\n'
        async with running_agent(write_site(tmp_path, csms.url, console=device, extra=extra)):
            await csms.wait_for("StatusNotification", timeout_s=10)
            terminal = Terminal.__new__(Terminal)
            terminal.buffer = b""
            # The pty master is the technician's end of the cable.
            terminal.port = _FdPort(technician)
            await terminal.read_until(b"Log in.\r\nlogin: ")
            terminal.port.write(b"alice\r")
            await terminal.read_until(b"password: ")
            terminal.port.write(b"s3cret\r")
            await terminal.read_until(b"logged in as alice (viewer). Type help.\r\n")
            reply = await terminal.command("config get HeartbeatInterval")
            assert reply == ["HeartbeatInterval = 300", "OK"]
            reply = await terminal.command("config set HeartbeatInterval 30")
            assert reply == ["ERROR: config set needs role technician (you are viewer)"]
    finally:
        os.close(technician)
        os.close(agent_side)


class _FdPort:
    """Just enough of a serial port over a raw fd (the pty master)."""

    def __init__(self, fd: int):
        self._fd = fd
        os.set_blocking(fd, False)

    def fileno(self) -> int:
        return self._fd

    def read(self, size: int) -> bytes:
        try:
            return os.read(self._fd, size)
        except BlockingIOError:
            return b""

    def write(self, data: bytes) -> None:
        os.write(self._fd, data)


async def test_the_pty_console_gets_the_configured_mode(csms, tmp_path):
    """#8 item 13: the technician opens the pty as themselves (group dialout, 0660)."""
    link = tmp_path / "console"
    site = write_site(tmp_path, csms.url, console=f"pty:{link}", extra='mode = "0640"\n')
    async with running_agent(site):
        await csms.wait_for("StatusNotification", timeout_s=10)
        assert os.stat(link).st_mode & 0o777 == 0o640
