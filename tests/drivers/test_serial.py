"""hal.serial over a real pty."""

from __future__ import annotations

import asyncio

import pytest

from hal.errors import DeviceOpenError, DeviceUnavailable
from hal.serial import SerialPort, SerialSettings


def settings(path: str, **kw) -> SerialSettings:
    base = dict(port=path, baudrate=9600, bytesize=8, parity="N", stopbits=1)
    base.update(kw)
    return SerialSettings(**base)


async def test_roundtrip_and_partial_reads(peer):
    async with SerialPort(settings(peer.path, baudrate=115200, parity="E", stopbits=2)) as port:
        await port.write(b"\x00hello\xff")
        assert await peer.read_exactly(7) == b"\x00hello\xff"
        peer.write(b"abc")
        data = b""
        while len(data) < 3:
            data += await port.read()
        assert data == b"abc"


async def test_read_is_cancellable_and_port_stays_usable(peer):
    async with SerialPort(settings(peer.path)) as port:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.02):
                await port.read()
        peer.write(b"x")
        assert await port.read() == b"x"


async def test_missing_port_names_port_and_fix():
    port = SerialPort(settings("/dev/ttyDOESNOTEXIST0"))
    with pytest.raises(DeviceOpenError) as err:
        await port.open()
    assert "/dev/ttyDOESNOTEXIST0" in str(err.value) and "does not exist" in str(err.value)
    await port.close()   # safe after a failed open


async def test_second_opener_is_refused(peer):
    async with SerialPort(settings(peer.path)):
        with pytest.raises(DeviceOpenError, match="in use by another process"):
            await SerialPort(settings(peer.path)).open()


async def test_vanished_port_raises_device_unavailable(peer):
    async with SerialPort(settings(peer.path)) as port:
        asyncio.get_running_loop().call_soon(peer.hang_up)   # while read() is parked
        with pytest.raises(DeviceUnavailable, match="disappeared"):
            await port.read()
        with pytest.raises(DeviceUnavailable):
            await port.write(b"x")


async def test_unopened_port_and_bad_settings():
    with pytest.raises(DeviceUnavailable, match="not open"):
        await SerialPort(settings("/dev/null")).read()
    for bad in (dict(parity="X"), dict(stopbits=3), dict(bytesize=9), dict(baudrate=0)):
        with pytest.raises(ValueError):
            settings("/dev/null", **bad)


async def test_a_pending_read_wakes_when_another_task_closes_the_port(peer):
    port = SerialPort(settings(peer.path))
    await port.open()

    async def close_soon():
        await asyncio.sleep(0)
        await port.close()

    async with asyncio.TaskGroup() as tg:
        tg.create_task(close_soon())
        with pytest.raises(DeviceUnavailable, match="closed"):
            await port.read()


async def test_replugged_adapter_is_reopened_through_its_stable_name(tmp_path):
    """Like /dev/serial/by-id/...: the symlink is gone while unplugged, then points to
    a new tty."""
    from tests.drivers.ptys import PtyPeer

    link = tmp_path / "usb-adapter"
    first = PtyPeer()
    link.symlink_to(first.path)
    port = SerialPort(settings(str(link)))
    await port.open()
    first.close()
    link.unlink()
    with pytest.raises(DeviceUnavailable, match="disappeared"):
        await port.read()
    assert not port.is_open                       # the dead descriptor was released
    with pytest.raises(DeviceUnavailable, match="does not exist"):
        await port.ensure_open()
    second = PtyPeer()
    link.symlink_to(second.path)
    try:
        await port.ensure_open()
        second.write(b"back")
        assert await port.read() == b"back"
    finally:
        await port.close()
        second.close()
