"""The reader task keeps its reader's health (issue 8 item 6): a PN532 on a real pty that
stops answering is `retrying` until it answers its probe again — an open port alone is
not a recovery. Times come from an injected clock."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from drivers.rfid.pn532 import Pn532Reader
from firmware.readers import ReaderTask
from hal.errors import DeviceUnavailable
from hal.interfaces import ReadinessProbe
from tests.drivers.ptys import FakeClock
from tests.drivers.test_pn532_device import FakePn532, make_reader, running


async def until(predicate, timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def reader_task(reader, clock):
    task = ReaderTask(reader, {"name": "front"}, runtime=None, clock=clock, retry_s=0.01)
    async with asyncio.TaskGroup() as tg:
        runner = tg.create_task(task.run())
        try:
            yield task
        finally:
            runner.cancel()


def test_the_pn532_is_a_readiness_probe():
    assert issubclass(Pn532Reader, ReadinessProbe)


async def test_probe_passes_only_while_the_pn532_answers(peer, clock):
    reader = make_reader(peer, clock, retries=1, response_timeout_s=0.02)
    fake = FakePn532(peer, clock)
    await reader.open()
    async with running(fake):
        await reader.probe()
        fake.silent = True
        with pytest.raises(DeviceUnavailable, match="did not answer"):
            await reader.probe()
    await reader.close()


async def test_a_silent_pn532_is_retrying_until_it_answers_its_probe(peer, clock):
    wall = FakeClock(1_796_292_133.0)
    reader = make_reader(peer, clock, retries=1, response_timeout_s=0.02)
    fake = FakePn532(peer, clock)
    await reader.open()
    try:
        async with running(fake), reader_task(reader, wall) as task:
            await until(lambda: len(fake.commands) >= 5)       # initialised and polling
            assert task.health.state == "ok"
            fake.silent = True
            await until(lambda: task.health.failing)
            assert task.health.state == "retrying"
            assert "did not answer" in task.health.last_error
            assert task.health.failing_since_s == wall.now
            # The port is open all along: retries reopen it and probe, and fail.
            wall.advance(30)
            await until(lambda: task.health.failures >= 3)
            assert task.health.recovered_at_s is None
            assert task.health.last_error_at_s == wall.now
            wall.advance(5)
            fake.silent = False
            await until(lambda: not task.health.failing)
            assert task.health.recovered_at_s == wall.now
            assert task.health.failing_since_s == wall.now - 35
            assert "did not answer" in task.health.last_error      # still shown
    finally:
        await reader.close()


@pytest.mark.parametrize("options, token_type", [
    ({"name": "r", "driver": "pn532"}, "ISO14443"),
    ({"name": "r", "driver": "rdm6300"}, "Local"),          # 125 kHz EM4100: no ISO type
    ({"name": "r", "driver": "rdm6300", "token_type": ""}, "Local"),
    ({"name": "r", "driver": "line", "token_type": "ISO15693"}, "ISO15693"),
])
def test_a_readers_token_type_comes_from_its_board_config_else_its_driver(options, token_type):
    assert ReaderTask(None, options, runtime=None, clock=lambda: 0.0).token_type == token_type
