"""A thin asyncio serial port over pyserial.

Design choice: the port's file descriptor is put in non-blocking mode and read with
``loop.add_reader`` instead of running blocking ``Serial.read`` calls in an executor.
Reasons: no thread per port; a pending read is cancelled like any coroutine (timeouts
are ``asyncio.timeout``), whereas a blocking read in a worker thread cannot be
interrupted and races with ``close()``; and a vanished port shows up immediately as an
``EIO``/end-of-file on the descriptor. Linux only, which is the target.

pyserial is still what opens and configures the tty (termios, exclusive lock), so the
baud rate, parity, stop bits and byte size always come from the caller: this module
has no defaults for them on purpose (a wrong default baud rate fails silently).

Failure modes:
- ``open()`` raises ``DeviceOpenError`` naming the port and the likely fix (missing
  device, permissions, port in use by another process or a login console).
- ``read()``/``write()`` raise ``DeviceUnavailable`` when the port disappears (USB
  adapter unplugged, pty peer closed) and when used unopened; the dead descriptor is
  released and ``ensure_open()`` reopens the path when the adapter is back.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import termios
from dataclasses import dataclass
from typing import Any

from hal.errors import DeviceOpenError, DeviceUnavailable

log = logging.getLogger(__name__)

PARITIES = ("N", "E", "O", "M", "S")
STOPBITS = (1, 1.5, 2)
BYTESIZES = (5, 6, 7, 8)

# errnos that mean "the device is gone" rather than "try again"
_GONE_ERRNOS = {errno.EIO, errno.ENXIO, errno.ENODEV, errno.EBADF, errno.EPIPE}


@dataclass(frozen=True)
class SerialSettings:
    """Line settings of a serial port; every field is explicit (no library defaults)."""

    port: str
    baudrate: int
    bytesize: int
    parity: str
    stopbits: float

    def __post_init__(self) -> None:
        if self.parity not in PARITIES:
            raise ValueError(f"parity must be one of {PARITIES}, got {self.parity!r}")
        if self.stopbits not in STOPBITS:
            raise ValueError(f"stopbits must be one of {STOPBITS}, got {self.stopbits!r}")
        if self.bytesize not in BYTESIZES:
            raise ValueError(f"bytesize must be one of {BYTESIZES}, got {self.bytesize!r}")
        if self.baudrate <= 0:
            raise ValueError(f"baudrate must be positive, got {self.baudrate!r}")

    def describe(self) -> str:
        stop = f"{self.stopbits:g}"
        return f"{self.port} {self.baudrate} {self.bytesize}{self.parity}{stop}"


def open_error_message(port: str, exc: BaseException) -> str:
    """A technician-readable reason and fix for a port that cannot be opened."""
    code = getattr(exc, "errno", None)
    if code == errno.ENOENT:
        return (f"serial port {port} does not exist: check the cable/adapter and the path "
                f"(stable names are under /dev/serial/by-id/; on a Pi enable the UART with "
                f"raspi-config or 'enable_uart=1')")
    if code in (errno.EACCES, errno.EPERM):
        return (f"serial port {port}: permission denied: add the service user to the "
                f"'dialout' group (sudo usermod -aG dialout USER) and restart the service")
    if code in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK):
        return (f"serial port {port} is in use by another process (a second agent, "
                f"ModemManager or a serial-getty login console on /dev/serial0: disable it "
                f"with raspi-config > Interface > Serial, 'login shell' = no)")
    return f"serial port {port} could not be opened: {exc}"


class SerialPort:
    """One serial port, opened and configured with explicit settings.

    One reader at a time: ``read()`` must not be awaited concurrently from two tasks
    (the drivers each own a single reader loop). Writes may come from any task.
    """

    def __init__(self, settings: SerialSettings) -> None:
        self.settings = settings
        self._serial: Any = None
        self._fd: int | None = None
        # futures parked on add_reader/add_writer: woken with the error when the port
        # goes away or is closed by another task (a closed fd never becomes ready)
        self._waiters: set[asyncio.Future[None]] = set()

    @property
    def port(self) -> str:
        return self.settings.port

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    async def open(self) -> None:
        """Open and configure the port. Raises ``DeviceOpenError`` naming port and fix."""
        if self._fd is not None:
            return
        import serial  # pyserial: imported here so importing drivers stays cheap

        s = self.settings
        ser = serial.Serial()
        ser.port = s.port
        ser.baudrate = s.baudrate
        ser.bytesize = s.bytesize
        ser.parity = s.parity
        ser.stopbits = s.stopbits
        ser.timeout = 0
        ser.exclusive = True  # flock: a second process on the same port fails loudly
        try:
            ser.open()
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DeviceOpenError(open_error_message(s.port, exc)) from exc
        fd = ser.fileno()
        # pyserial leaves VMIN=0/VTIME=0, where a read with no data returns b"" — the
        # same as a hang-up. VMIN=1 makes "no data" EAGAIN on the non-blocking fd, so
        # an empty read unambiguously means the device went away.
        try:
            attrs = termios.tcgetattr(fd)
            attrs[6][termios.VMIN] = 1
            attrs[6][termios.VTIME] = 0
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
        except termios.error as exc:
            ser.close()
            raise DeviceOpenError(f"{s.port} is not a serial port ({exc}): fix the port "
                                  f"path") from exc
        os.set_blocking(fd, False)
        self._serial = ser
        self._fd = fd
        log.debug("opened %s", s.describe())

    def _wake_waiters(self, exc: BaseException) -> None:
        for fut in self._waiters:
            if not fut.done():
                fut.set_exception(exc)
        self._waiters.clear()

    async def close(self) -> None:
        """Close the port; safe to call twice and after a failed open."""
        self._wake_waiters(DeviceUnavailable(f"serial port {self.settings.port} was closed"))
        ser, self._serial, self._fd = self._serial, None, None
        if ser is not None:
            try:
                ser.close()
            except Exception as exc:  # closing a vanished device may fail; nothing to do
                log.debug("closing %s: %s", self.settings.port, exc)

    def _require_fd(self) -> int:
        if self._fd is None:
            raise DeviceUnavailable(f"serial port {self.settings.port} is not open")
        return self._fd

    def _gone(self, detail: str) -> DeviceUnavailable:
        # release the dead descriptor so ensure_open() can reopen the path once the
        # adapter is back (a re-plugged USB adapter is a new device)
        ser, self._serial, self._fd = self._serial, None, None
        if ser is not None:
            try:
                ser.close()
            except Exception as exc:
                log.debug("closing vanished %s: %s", self.settings.port, exc)
        error = DeviceUnavailable(f"serial port {self.settings.port} disappeared ({detail}): "
                                  f"check the cable/USB adapter")
        self._wake_waiters(error)
        return error

    async def ensure_open(self) -> None:
        """Reopen a port lost at run time; raises ``DeviceUnavailable`` (not
        ``DeviceOpenError``: this is a run-time failure) while it is still missing."""
        if self._fd is None:
            try:
                await self.open()
            except DeviceOpenError as exc:
                raise DeviceUnavailable(str(exc)) from exc

    async def read(self, max_bytes: int = 4096) -> bytes:
        """Wait for and return at least one byte (at most ``max_bytes``).

        Raises ``DeviceUnavailable`` when the port disappears. Cancel it (e.g. with
        ``asyncio.timeout``) to bound the wait.
        """
        loop = asyncio.get_running_loop()
        while True:
            fd = self._require_fd()
            try:
                data = os.read(fd, max_bytes)
            except BlockingIOError:
                pass
            except OSError as exc:
                if exc.errno in _GONE_ERRNOS:
                    raise self._gone(os.strerror(exc.errno or 0)) from exc
                raise DeviceUnavailable(f"serial port {self.settings.port}: read failed: "
                                        f"{exc}") from exc
            else:
                if not data:
                    # a tty reporting readable with no data = hang-up / device removed
                    raise self._gone("end of file")
                return data
            ready = loop.create_future()
            self._waiters.add(ready)
            loop.add_reader(fd, _set_ready, ready)
            try:
                await ready
            finally:
                # the fd may already be closed by close(); removing the reader is still safe
                self._waiters.discard(ready)
                loop.remove_reader(fd)

    async def write(self, data: bytes) -> None:
        """Write all of ``data``. Raises ``DeviceUnavailable`` when the port is gone."""
        loop = asyncio.get_running_loop()
        view = memoryview(data)
        while view:
            fd = self._require_fd()
            try:
                sent = os.write(fd, view)
                view = view[sent:]
                continue
            except BlockingIOError:
                pass
            except OSError as exc:
                raise self._gone(os.strerror(exc.errno or 0)) from exc
            ready = loop.create_future()
            self._waiters.add(ready)
            loop.add_writer(fd, _set_ready, ready)
            try:
                await ready
            finally:
                self._waiters.discard(ready)
                loop.remove_writer(fd)

    async def __aenter__(self) -> "SerialPort":
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _set_ready(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
