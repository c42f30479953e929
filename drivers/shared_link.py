"""One serial link shared by several device views: reference-counted open and close,
and a revive that runs once however many views ask for it.

An OpenEVSE controller is the pilot, the contactor and the meter of its connector; a
Borne MCU is the pilot and the contactor. Each view opens and closes the link it shares
(``drivers.registry`` hands them the same object), and each may find the port gone and
ask for a revive: the pilot's state stream, a command, a fault watcher, at once.

``SharedLinkLifecycle`` is that bookkeeping, composed into each link
(``drivers.pilot.rapi_link.RapiLink``, ``drivers.pilot.mcu_link.McuLink``). The link
gives it:

- ``start()``: open the port, start the runner task, do the opening exchange; on failure
  it cleans up after itself and raises ``DeviceUnavailable`` (the device is silent) or
  ``DeviceOpenError`` (it answers, but is not what the board says);
- ``shutdown()``: cancel the runner and close the port (safe to repeat);
- ``started()``: a runner task exists; ``running()``: it exists and has not ended;
- ``open_error(exc)``: the ``DeviceOpenError`` for a device silent at open, naming the
  port and the fix.

Obligations: ``open`` counts a user and starts the link for the first; ``close`` uncounts
one and shuts it down after the last; ``revive`` restarts a link whose runner ended (a
``DeviceUnavailable`` while the port is still missing or silent). Opening and reviving
hold one lock, so a second caller waits for the first and then finds the link running:
two runners never read one port. A revive asked for by a start itself (its new runner
died during the opening exchange, whose command then asks) is a ``DeviceUnavailable``
at once, never a wait on the lock that start holds.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

from hal.errors import DeviceOpenError, DeviceUnavailable


class SharedLinkLifecycle:
    def __init__(self, start: Callable[[], Awaitable[None]],
                 shutdown: Callable[[], Awaitable[None]], *,
                 started: Callable[[], bool], running: Callable[[], bool],
                 open_error: Callable[[DeviceUnavailable], DeviceOpenError]) -> None:
        self._start = start
        self._shutdown = shutdown
        self._started = started
        self._running = running
        self._open_error = open_error
        self._lock = asyncio.Lock()
        self._starting_task: asyncio.Task[object] | None = None  # the task in a start
        self.users = 0

    async def _start_once(self) -> None:
        self._starting_task = asyncio.current_task()
        try:
            await self._start()
        finally:
            self._starting_task = None

    async def open(self) -> None:
        self.users += 1
        try:
            async with self._lock:
                if self._started():
                    return
                try:
                    await self._start_once()
                except DeviceUnavailable as exc:
                    raise self._open_error(exc) from exc
        except BaseException:
            self.users -= 1
            raise

    async def revive(self) -> bool:
        """True when this call restarted the link (False: nothing to do, or another
        caller did it meanwhile)."""
        if self._starting_task is not None and self._starting_task is asyncio.current_task():
            # Asked by the start's own opening exchange: its new runner died already.
            raise DeviceUnavailable("the link was lost again while it was being opened")
        async with self._lock:
            if self.users == 0 or not self._started() or self._running():
                return False
            await self._shutdown()
            try:
                await self._start_once()
            except DeviceOpenError as exc:
                raise DeviceUnavailable(str(exc)) from exc
            return True

    async def close(self) -> None:
        if self.users > 0:
            self.users -= 1
        if self.users == 0:
            await self._shutdown()
