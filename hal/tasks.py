"""Stopping a task we own without swallowing our own cancellation.

The usual ``task.cancel(); try: await task except CancelledError: pass`` has a trap:
when the task doing it is itself cancelled while it waits, the ``CancelledError`` it
catches is its own, and it carries on as if nothing happened. A worker that does this
during shutdown never ends, and whoever waits for it (a TaskGroup, the agent's stop)
waits forever. ``cancel_and_wait`` tells the two apart with ``Task.cancelling()``.
"""

from __future__ import annotations

import asyncio


async def cancel_and_wait(task: asyncio.Future[object]) -> None:
    """Cancel ``task`` and wait until it has ended (its result is dropped).

    Raises ``CancelledError`` when the caller is cancelled meanwhile (the task is still
    asked to stop), never when only ``task`` was; an exception the task ended with
    propagates (a bug of the task, not hidden by stopping it)."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise


def raise_if_cancel_was_lost() -> None:
    """Call right after awaiting a library that waits with ``asyncio.wait_for`` (pymodbus).

    On Python 3.11, ``wait_for`` returns the inner result and drops the caller's
    cancellation when both arrive in the same loop turn; a polling loop then carries on
    and the TaskGroup stopping it waits forever (issue 8: the agent's stop hung on a
    loaded machine in the meter poller). The task still counts the cancel request
    (``Task.cancelling()``), so raise it again here."""
    current = asyncio.current_task()
    if current is not None and current.cancelling():
        raise asyncio.CancelledError()
