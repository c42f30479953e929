"""hal.tasks.cancel_and_wait: a worker stopping its helper task must still be stoppable
itself. The agent's shutdown hung (issue 8, a vanished-reader test and a real-board
test on loaded CI runs) when a task caught its own CancelledError this way."""

from __future__ import annotations

import asyncio

import pytest

from hal.tasks import cancel_and_wait


async def slow_to_stop(stopping: asyncio.Event, release: asyncio.Event) -> None:
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        stopping.set()
        await release.wait()        # cleanup that takes a while (a port to close)
        raise


async def test_the_caller_cancelled_while_it_waits_is_cancelled_itself():
    stopping, release = asyncio.Event(), asyncio.Event()
    helper = asyncio.create_task(slow_to_stop(stopping, release))
    await asyncio.sleep(0)
    carried_on = False

    async def worker() -> None:
        nonlocal carried_on
        await cancel_and_wait(helper)
        carried_on = True               # the bug: shutdown swallowed, the worker runs on

    outer = asyncio.create_task(worker())
    await stopping.wait()
    outer.cancel()
    await asyncio.sleep(0)
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await outer
    assert not carried_on
    assert helper.done()


async def test_only_the_helper_cancelled_is_not_an_error():
    helper = asyncio.create_task(asyncio.Event().wait())
    await asyncio.sleep(0)
    await cancel_and_wait(helper)
    assert helper.cancelled()


async def test_a_helper_that_failed_while_stopping_raises_its_error():
    async def fails_on_stop() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise RuntimeError("bug in cleanup") from None

    helper = asyncio.create_task(fails_on_stop())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="bug in cleanup"):
        await cancel_and_wait(helper)


async def test_a_cancel_dropped_by_wait_for_is_raised_again():
    """3.11's wait_for returns the result when the inner future and our cancellation
    arrive in the same loop turn (what pymodbus's response wait does)."""
    from hal.tasks import raise_if_cancel_was_lost

    answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    carried_on = False

    async def poller() -> None:
        nonlocal carried_on
        await asyncio.wait_for(answer, timeout=5)
        raise_if_cancel_was_lost()
        carried_on = True

    task = asyncio.create_task(poller())
    await asyncio.sleep(0)
    answer.set_result(1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not carried_on


async def test_no_cancel_requested_lets_the_caller_go_on():
    from hal.tasks import raise_if_cancel_was_lost

    raise_if_cancel_was_lost()       # nothing to raise
