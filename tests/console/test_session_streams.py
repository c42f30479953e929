"""Sessions: idle logout, watch and log follow until Ctrl-C, random bytes, a vanished port."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import tty

from firmware.console.console import Console
from firmware.console.serve import LogRing
from firmware.console.session import ConsoleSession
from firmware.console.transport import ConsoleTransport
from tests.console.test_session import Peer, login, station  # noqa: F401  (fixture)


async def test_idle_logout(station):  # noqa: F811
    peer, session, clock, ran, conn = station
    session.idle_logout_s = 0.2
    await peer.until(b"login: ")
    await login(peer)
    await peer.until(b"ann> ")
    assert b"idle for 0 s: logged out" in await peer.until(b"login: ")


async def test_watch_repeats_until_ctrl_c(station, monkeypatch):  # noqa: F811
    peer, session, clock, ran, conn = station
    monkeypatch.setattr("firmware.console.session.WATCH_INTERVAL_S", 0.05)
    await peer.until(b"login: ")
    await login(peer)
    await peer.until(b"ann> ")
    peer.send(b"watch say hi\r")
    await peer.until(b"--- say hi")
    await peer.until(b"--- say hi")
    peer.send(b"\x03")
    await peer.until(b"ann> ")
    assert len(ran) >= 2
    peer.send(b"say after\r")
    assert b"after" in await peer.until(b"OK\r\n")


def pty_pair():
    peer_fd, agent_fd = os.openpty()
    tty.setraw(peer_fd)
    tty.setraw(agent_fd)
    return peer_fd, agent_fd


async def test_log_follow_streams_new_lines_until_ctrl_c():
    peer_fd, agent_fd = pty_pair()
    ring = LogRing()
    logger = logging.getLogger("test.follow")
    logger.addHandler(ring)
    logger.setLevel(logging.INFO)
    transport = ConsoleTransport(agent_fd, agent_fd, echo=True, newline=b"\r\n",
                                 description="pty-test")
    session = ConsoleSession(Console(), transport, station_id="CP-9", accounts={}, audit=None,
                             log_ring=ring)
    task = asyncio.create_task(session.run())
    peer = Peer(peer_fd)
    try:
        await peer.until(b"admin# ")
        logger.info("before follow")
        os.write(peer_fd, b"log follow\r")
        await peer.until(b"following the log")
        logger.warning("card refused")
        out = await peer.until(b"card refused")
        assert b"before follow" not in out
        os.write(peer_fd, b"\x03")
        await peer.until(b"OK\r\n")
    finally:
        logger.removeHandler(ring)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        os.close(peer_fd)
        os.close(agent_fd)


async def test_random_bytes_never_stop_the_session():
    """Issue 14: a console fuzz of several hundred inputs, no traceback, no stall."""
    peer_fd, agent_fd = pty_pair()
    console = Console()

    async def ok(args):
        return ["x" * len(args)]

    console.register("say TEXT", "echo", ok)
    console.register("config get [KEY]", "keys", ok)
    transport = ConsoleTransport(agent_fd, agent_fd, echo=True, newline=b"\r\n",
                                 description="pty-test")
    session = ConsoleSession(console, transport, station_id="CP-9", accounts={}, audit=None,
                             page_lines=0)
    task = asyncio.create_task(session.run())
    peer = Peer(peer_fd)
    rng = random.Random(1414)
    alphabet = bytes(range(256))
    try:
        for _ in range(400):
            chunk = bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
            await peer.send_all(chunk.replace(b"\x04", b""))  # ^D would only log out
            await asyncio.sleep(0)
        await peer.send_all(b"\x03\x15say a b\r")
        assert b"xx\r\nOK\r\n" in await peer.until(b"xx\r\nOK\r\n", timeout_s=10)
        assert not task.done()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        os.close(peer_fd)
        os.close(agent_fd)


async def test_a_vanished_serial_device_ends_input_without_a_traceback():
    """A USB adapter pulled: reads fail with EIO; the transport reports the end once
    (serve_console then reopens the device) instead of spinning or raising."""
    peer_fd, agent_fd = pty_pair()
    transport = ConsoleTransport(agent_fd, agent_fd, echo=True, newline=b"\r\n",
                                 description="serial /dev/ttyUSB-test")
    transport.start()
    try:
        os.close(peer_fd)
        async with asyncio.timeout(5):
            assert await transport.read_bytes() is None
        transport.write_bytes(b"nobody hears this")
    finally:
        transport.stop()
        os.close(agent_fd)


async def test_input_typed_while_a_command_ends_is_kept():
    """Regression (found by the fuzz above under load): a chunk that arrived in the same
    loop turn as a command's end was dropped, so a technician's paste of several
    commands lost some. Written back to back here (no yield between writes), the 8 kB
    stream reaches the editor whole and the last command still runs."""
    peer_fd, agent_fd = pty_pair()
    console = Console()

    async def ok(args):
        return ["x" * len(args)]

    console.register("say TEXT", "echo", ok)
    transport = ConsoleTransport(agent_fd, agent_fd, echo=True, newline=b"\r\n",
                                 description="pty-test")
    session = ConsoleSession(console, transport, station_id="CP-9", accounts={}, audit=None,
                             page_lines=0)
    task = asyncio.create_task(session.run())
    peer = Peer(peer_fd)
    rng = random.Random(1414)
    try:
        for _ in range(400):
            chunk = bytes(rng.choice(range(256)) for _ in range(rng.randint(1, 40)))
            await peer.send_all(chunk.replace(b"\x04", b""))
        await peer.send_all(b"\x03\x15say a b\r")
        assert b"xx\r\nOK\r\n" in await peer.until(b"xx\r\nOK\r\n", timeout_s=10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        os.close(peer_fd)
        os.close(agent_fd)


async def test_a_stdin_epoll_cannot_watch_ends_console_input_without_a_crash():
    """A service started with StandardInput=null (or `make run < /dev/null`): epoll
    refuses /dev/null; the console has no input and the agent runs on (it exited 70)."""
    null_fd = os.open(os.devnull, os.O_RDONLY)
    out_r, out_w = os.pipe()
    transport = ConsoleTransport(null_fd, out_w, echo=False, newline=b"\n",
                                 description="stdio")
    try:
        transport.start()
        assert await asyncio.wait_for(transport.read_bytes(), 5) is None
        transport.stop()
    finally:
        for fd in (null_fd, out_r, out_w):
            os.close(fd)
