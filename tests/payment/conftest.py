from __future__ import annotations

import asyncio
import contextlib

import pytest

from drivers.payment.zvt_link import SerialZvtLink, TcpZvtLink
from drivers.payment.zvt_serial_framing import ZvtTimeouts
from drivers.payment.zvt_terminal import ZvtPaymentTerminal
from hal.serial import SerialSettings
from tests.drivers.ptys import PtyPeer
from tests.payment.zvt_peer import SerialTerminal, TcpTerminal, TerminalBrain

# generous for a loaded 2-core machine, short enough for "the terminal went silent" tests
TIMEOUTS = ZvtTimeouts(t1_s=0.5, t2_s=2.0, t3_s=1.0, t4_s=2.0)
PASSWORD = 123456


@pytest.fixture
def brain():
    return TerminalBrain()


@pytest.fixture
async def tcp_pt(brain):
    server = TcpTerminal(brain)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def tcp_terminal(tcp_pt):
    device = ZvtPaymentTerminal(TcpZvtLink("127.0.0.1", tcp_pt.port, TIMEOUTS),
                                password=PASSWORD, timeouts=TIMEOUTS,
                                transaction_timeout_s=30)
    await device.open()
    try:
        yield device
    finally:
        await device.close()


@pytest.fixture
async def serial_pt(brain):
    pty = PtyPeer()
    pt = SerialTerminal(brain, pty)
    task = asyncio.ensure_future(pt.run())
    try:
        yield pt
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        pty.close()


@pytest.fixture
async def serial_terminal(serial_pt):
    settings = SerialSettings(serial_pt.pty.path, 9600, 8, "N", 2)
    device = ZvtPaymentTerminal(SerialZvtLink(settings, TIMEOUTS), password=PASSWORD,
                                timeouts=TIMEOUTS, transaction_timeout_s=30)
    await device.open()
    try:
        yield device
    finally:
        await device.close()
