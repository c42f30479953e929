"""The shared serial link's lifecycle (drivers.shared_link): one runner per port, whatever
the views sharing it do at once."""

from __future__ import annotations

import asyncio

import pytest

from drivers.shared_link import SharedLinkLifecycle
from hal.errors import DeviceOpenError, DeviceUnavailable


class Link:
    """A link whose start takes a loop turn and may be told to fail or to find its new
    runner dead (the port vanished again during the opening exchange)."""

    def __init__(self) -> None:
        self.starts = 0
        self.shutdowns = 0
        self.runner_alive = False
        self.started = False
        self.fail_with: Exception | None = None
        self.revive_during_start = False
        self.lifecycle = SharedLinkLifecycle(
            self.start, self.shutdown, started=lambda: self.started,
            running=lambda: self.runner_alive,
            open_error=lambda exc: DeviceOpenError(f"silent: {exc}"))

    async def start(self) -> None:
        self.starts += 1
        self.started, self.runner_alive = True, True
        await asyncio.sleep(0)
        if self.revive_during_start:
            self.runner_alive = False
            await self.lifecycle.revive()  # what a command of the opening exchange does
        if self.fail_with is not None:
            await self.shutdown()
            raise self.fail_with

    async def shutdown(self) -> None:
        self.shutdowns += 1
        self.started, self.runner_alive = False, False


async def test_three_views_open_one_runner_and_the_last_close_shuts_it():
    link = Link()
    await asyncio.gather(*(link.lifecycle.open() for _ in range(3)))
    assert (link.starts, link.lifecycle.users) == (1, 3)
    await link.lifecycle.close()
    await link.lifecycle.close()
    assert link.shutdowns == 0
    await link.lifecycle.close()
    assert link.shutdowns == 1 and link.lifecycle.users == 0


async def test_a_silent_device_at_open_is_an_open_error_and_counts_no_user():
    link = Link()
    link.fail_with = DeviceUnavailable("no answer on /dev/ttyUSB0")
    with pytest.raises(DeviceOpenError, match="silent: no answer"):
        await link.lifecycle.open()
    assert link.lifecycle.users == 0


async def test_views_reviving_at_once_restart_the_link_once():
    link = Link()
    await link.lifecycle.open()
    link.runner_alive = False  # the port vanished
    results = await asyncio.gather(*(link.lifecycle.revive() for _ in range(4)))
    assert sorted(results) == [False, False, False, True]
    assert link.starts == 2 and link.runner_alive


async def test_a_revive_asked_during_a_start_fails_at_once_instead_of_waiting_on_itself():
    link = Link()
    link.revive_during_start = True
    async with asyncio.timeout(5):  # a deadlock would hang here
        with pytest.raises(DeviceOpenError):
            await link.lifecycle.open()
    assert link.lifecycle.users == 0


async def test_a_revive_of_a_closed_or_running_link_does_nothing():
    link = Link()
    assert await link.lifecycle.revive() is False
    await link.lifecycle.open()
    assert await link.lifecycle.revive() is False
    assert link.starts == 1


async def test_a_revive_while_the_port_is_still_gone_is_device_unavailable():
    link = Link()
    await link.lifecycle.open()
    link.runner_alive = False
    link.fail_with = DeviceOpenError("wrong firmware")
    with pytest.raises(DeviceUnavailable, match="wrong firmware"):
        await link.lifecycle.revive()
