"""Where the console lives: stdio, a serial device, or a pseudo-terminal (``pty:PATH``).

The transport only moves bytes; ``firmware.console.editor`` makes lines of them.

- ``stdio``: the terminal keeps its own line editing and echo (so Ctrl-C still stops
  the agent under ``make run``); replies end in LF.
- A serial device (``/dev/ttyS0``) or ``pty:PATH``: our end is put in raw mode, typed
  characters are echoed by the editor, replies end in CRLF. ``pty:PATH`` creates a
  pseudo-terminal, gives its slave side ``group`` and ``mode`` (default dialout, 0660,
  so a technician in that group opens it as themselves) and symlinks it to PATH.
- Output never blocks the agent: a terminal that does not read gets at most
  ``MAX_PENDING_OUTPUT`` bytes queued; beyond that output is dropped (and logged).
"""

from __future__ import annotations

import asyncio
import grp
import logging
import os
import termios
import tty
from pathlib import Path


log = logging.getLogger(__name__)

MAX_PENDING_OUTPUT = 256 * 1024
_BAUD = {9600: termios.B9600, 19200: termios.B19200, 38400: termios.B38400,
         57600: termios.B57600, 115200: termios.B115200, 230400: termios.B230400}


class ConsoleTransport:
    def __init__(self, read_fd: int, write_fd: int, *, echo: bool, newline: bytes,
                 description: str, cleanup: list | None = None):
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.echo = echo
        self.newline = newline
        self.description = description
        self._cleanup = cleanup or []
        self._input: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._out = bytearray()
        self._writing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ended = False
        self.is_device = description.startswith("serial ")  # reopened when it comes back

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        os.set_blocking(self.read_fd, False)
        if self.write_fd != self.read_fd:
            os.set_blocking(self.write_fd, False)
        try:
            self._loop.add_reader(self.read_fd, self._readable)
        except PermissionError:
            # stdin that epoll cannot watch (/dev/null, a regular file: a service with
            # StandardInput=null): no console input, never a crash of the agent
            log.info("console %s: input cannot be watched; no console input",
                     self.description)
            self._input.put_nowait(None)

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self.read_fd)
            if self._writing:
                self._loop.remove_writer(self.write_fd)
        for action in self._cleanup:
            try:
                action()
            except OSError:
                pass

    # ------------------------------------------------------------------ input
    def _readable(self) -> None:
        try:
            data = os.read(self.read_fd, 4096)
        except BlockingIOError:
            return
        except OSError as e:
            if e.errno == 5 and not self.is_device:  # EIO: no client on the pty right now
                return
            self._gone(e)
            return
        if not data:
            self._gone(None)
            return
        if self._input.qsize() < 1024:  # a flood while a command runs is dropped
            self._input.put_nowait(data)

    async def read_bytes(self) -> bytes | None:
        """The next chunk typed; None at end of input (stdin closed, device gone)."""
        return await self._input.get()

    def resume_reading(self) -> None:
        """After an end of input on a terminal that can give more (a tty's Ctrl-D)."""
        if self._loop is not None and os.isatty(self.read_fd) and not self.is_device:
            self._ended = False
            self._loop.add_reader(self.read_fd, self._readable)

    def write_lines(self, lines: list[str]) -> None:
        self.write_bytes(b"".join(line.encode("utf-8", "replace") + self.newline
                                  for line in lines))

    # ------------------------------------------------------------------ output

    def write_bytes(self, data: bytes) -> None:
        if self._ended and self.is_device:
            return
        if len(self._out) + len(data) > MAX_PENDING_OUTPUT:
            log.warning("console output dropped: the terminal is not reading")
            return
        self._out += data
        self._flush()

    def _flush(self) -> None:
        while self._out:
            try:
                written = os.write(self.write_fd, self._out)
            except BlockingIOError:
                break
            except OSError as e:
                if e.errno == 5 and not self.is_device:  # pty without a reader: keep it
                    break
                self._out.clear()
                self._gone(e)
                return
            del self._out[:written]
        assert self._loop is not None, "start() first"
        if self._out and not self._writing:
            self._writing = True
            self._loop.add_writer(self.write_fd, self._writable)
        elif not self._out and self._writing:
            self._writing = False
            self._loop.remove_writer(self.write_fd)

    def _gone(self, error: OSError | None) -> None:
        """The input ended (EOF) or the device vanished (a USB adapter pulled): stop
        watching the fd and tell the reader, once."""
        if self._ended:
            return
        self._ended = True
        if error is not None:
            log.warning("console %s: %s", self.description, error.strerror or error)
        assert self._loop is not None
        self._loop.remove_reader(self.read_fd)
        if self._writing:
            self._writing = False
            self._loop.remove_writer(self.write_fd)
        self._input.put_nowait(None)

    def _writable(self) -> None:
        self._flush()


def open_console(device: str, baudrate: int = 115200, group: str = "dialout",
                 mode: int = 0o660) -> ConsoleTransport | None:
    """Open the console named by the site config's ``[console] device``; ``group`` and
    ``mode`` apply to a ``pty:`` device."""
    if device == "none":
        return None
    if device == "stdio":
        return ConsoleTransport(0, 1, echo=False, newline=b"\n", description="stdio")
    if device.startswith("pty:"):
        return _open_pty(Path(device[4:]), group, mode)
    return _open_serial(device, baudrate)


def _open_pty(link: Path, group: str, mode: int) -> ConsoleTransport:
    master, slave = os.openpty()
    tty.setraw(slave)  # the client's side: no cooking, no echo (we echo ourselves)
    slave_name = os.ttyname(slave)
    set_owner(slave_name, group, mode)
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(slave_name)

    def cleanup() -> None:
        if link.is_symlink():
            link.unlink()
        os.close(master)
        os.close(slave)

    # Keeping the slave open ourselves means a client detaching does not hang up the pty.
    return ConsoleTransport(master, master, echo=True, newline=b"\r\n",
                            description=f"pty {link} -> {slave_name}", cleanup=[cleanup])


def set_owner(path: str, group: str, mode: int) -> None:
    """Give the pty device ``group`` and ``mode``; a group that does not exist or that
    we may not give is logged (the console still works for the agent's own user)."""
    if group:
        try:
            os.chown(path, -1, grp.getgrnam(group).gr_gid)
        except KeyError:
            log.warning("console pty %s: no group %r; keeping the agent's group", path, group)
        except OSError as e:
            log.warning("console pty %s: cannot give it group %r: %s", path, group, e.strerror)
    os.chmod(path, mode)


def _open_serial(path: str, baudrate: int) -> ConsoleTransport:
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    tty.setraw(fd)
    attributes = termios.tcgetattr(fd)
    speed = _BAUD.get(baudrate, termios.B115200)
    attributes[4] = attributes[5] = speed
    attributes[2] |= termios.CLOCAL | termios.CREAD
    termios.tcsetattr(fd, termios.TCSANOW, attributes)
    return ConsoleTransport(fd, fd, echo=True, newline=b"\r\n", description=f"serial {path}",
                            cleanup=[lambda: os.close(fd)])
