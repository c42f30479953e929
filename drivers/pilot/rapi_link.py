"""One serial link to an OpenEVSE controller, shared by its pilot, contactor and meter
views (``BuildContext.shared[("rapi", port)]``).

The link owns one background task (created by the first ``open()``, cancelled and
awaited by the last ``close()``) that runs, in a TaskGroup, the line reader (replies
and ``$AT``/``$ST`` notifications) and a poller that sends ``$GS`` every
``poll_interval_s`` — so a controller that stops talking is noticed even while
nothing else is asked, and a lost notification is corrected within one poll.

Commands are serialised (one in flight), matched to replies by sequence id when
``use_sequence_ids`` (a stale reply to a timed-out command is never taken for the
next one), and retried once on timeout. ``$NK`` raises ``CommandRejected``; no valid
reply raises ``DeviceUnavailable``. After ``max_missed_polls`` unanswered polls, or when
the port disappears, the link is *failed*: waiters wake and raise
``DeviceUnavailable``. A failed-by-silence link recovers when the controller answers.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from drivers.errors import CommandRejected
from drivers.pilot import rapi
from drivers.shared_link import SharedLinkLifecycle
from hal.errors import DeviceOpenError, DeviceUnavailable
from hal.serial import SerialPort, SerialSettings
from hal.tasks import cancel_and_wait

log = logging.getLogger(__name__)


class RapiLink:
    def __init__(self, settings: SerialSettings, *, timeout_s: float = 1.0,
                 poll_interval_s: float = 1.0, max_missed_polls: int = 3,
                 use_sequence_ids: bool = True) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self.poll_interval_s = poll_interval_s
        self.max_missed_polls = max_missed_polls
        self.use_sequence_ids = use_sequence_ids
        self.status: rapi.EvseStatus | None = None
        self.failure: DeviceUnavailable | None = None
        self.bad_lines = 0
        self.boot_callbacks: list[Callable[[], Awaitable[None]]] = []
        self._port = SerialPort(settings)
        self._task: asyncio.Task | None = None
        self._lifecycle = SharedLinkLifecycle(
            self._start, self._shutdown, started=lambda: self._task is not None,
            running=lambda: self._task is not None and not self._task.done(),
            open_error=self._open_error)
        self._lock = asyncio.Lock()
        self._pending: asyncio.Future[rapi.Reply] | None = None
        self._pending_seq: int | None = None
        self._seq = 0
        self._changed = asyncio.Event()
        self._boot_seen = False
        self._missed = 0

    # -- lifecycle --------------------------------------------------------------------
    async def open(self) -> None:
        """Open the port and learn the state ($GS); reference-counted
        (``drivers.shared_link``). Raises ``DeviceOpenError`` naming the port and the fix
        if the controller is silent."""
        await self._lifecycle.open()

    def _open_error(self, exc: DeviceUnavailable) -> DeviceOpenError:
        return DeviceOpenError(
            f"OpenEVSE controller on {self.settings.describe()} does not answer ({exc}): "
            f"check TX/RX (crossed), GND, the baudrate and that the controller is powered")

    async def _start(self) -> None:
        await self._port.open()
        self.failure = None
        self._missed = 0
        self._task = asyncio.create_task(self._run(), name=f"rapi {self.settings.port}")
        try:
            await self.refresh()
        except BaseException:
            await self._shutdown()
            raise

    async def revive(self) -> None:
        """After the port was lost (runner ended), reopen it, once for all the views that
        ask. Raises ``DeviceUnavailable`` while it is still missing or silent."""
        if await self._lifecycle.revive():
            log.info("OpenEVSE on %s: link re-established", self.settings.port)

    async def close(self) -> None:
        await self._lifecycle.close()

    async def _shutdown(self) -> None:
        task, self._task = self._task, None
        try:
            if task is not None:
                await cancel_and_wait(task)
        finally:
            await self._port.close()

    async def _run(self) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._reader())
                tg.create_task(self._poller())
        except* DeviceUnavailable as group:
            self._fail(group.exceptions[0])

    # -- state --------------------------------------------------------------------------
    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _fail(self, exc: DeviceUnavailable) -> None:
        if self.failure is None:
            log.error("%s", exc)
        self.failure = exc
        if self._pending is not None and not self._pending.done():
            self._pending.set_exception(exc)
        self._notify()

    def _set_status(self, status: rapi.EvseStatus) -> None:
        if status != self.status:
            log.debug("OpenEVSE on %s: %s", self.settings.port, status.describe())
            self.status = status
            self._notify()

    async def wait_changed(self, timeout_s: float | None) -> None:
        """Return at the next state change or failure (or after ``timeout_s``)."""
        changed = self._changed
        try:
            async with asyncio.timeout(timeout_s):
                await changed.wait()
        except TimeoutError:
            pass

    def raise_if_failed(self) -> None:
        if self.failure is not None:
            raise DeviceUnavailable(str(self.failure))

    # -- tasks ------------------------------------------------------------------------
    async def _reader(self) -> None:
        decoder = rapi.LineDecoder()
        while True:
            for msg in decoder.feed(await self._port.read()):
                self._dispatch(msg)

    def _dispatch(self, msg: rapi.Message) -> None:
        if isinstance(msg, rapi.BadLine):
            self.bad_lines += 1
            log.debug("OpenEVSE on %s: dropped line %r (%s)", self.settings.port, msg.line,
                      msg.reason)
        elif isinstance(msg, rapi.Reply):
            pending = self._pending
            if pending is None or pending.done():
                log.debug("OpenEVSE: unsolicited reply %r", msg)
            elif msg.seq is not None and msg.seq != self._pending_seq:
                log.debug("OpenEVSE: stale reply %r (waiting for seq %s)", msg, self._pending_seq)
            else:
                pending.set_result(msg)
        elif msg.kind == "AB" or (msg.kind == "AT" and msg.params[:1] == ("00",)):
            log.warning("OpenEVSE on %s restarted (%s %s)", self.settings.port, msg.kind,
                        " ".join(msg.params))
            self._boot_seen = True
            self._notify()
        else:
            status = rapi.status_from_notification(msg)
            if status is not None:
                self._set_status(status)

    async def _poller(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval_s)
            if self._boot_seen:
                self._boot_seen = False
                for callback in list(self.boot_callbacks):
                    try:
                        await callback()
                    except (DeviceUnavailable, CommandRejected) as exc:
                        log.error("OpenEVSE: re-applying settings after restart failed: %s", exc)
            try:
                await self.refresh()
            except DeviceUnavailable as exc:
                self._missed += 1
                if self._missed >= self.max_missed_polls:
                    self._fail(DeviceUnavailable(
                        f"OpenEVSE on {self.settings.port} stopped answering ({exc}); check the "
                        f"serial cable and the controller's power"))
            except CommandRejected as exc:
                log.warning("OpenEVSE: $GS rejected: %s", exc)

    # -- commands -----------------------------------------------------------------------
    def _next_seq(self) -> int:
        self._seq = self._seq % 0xFE + 1          # 1..254
        return self._seq

    async def command(self, cmd: str, *params: object, retries: int = 1) -> tuple[str, ...]:
        """Send a command; return the ``$OK`` parameters.

        Raises ``CommandRejected`` on ``$NK`` and ``DeviceUnavailable`` when no valid
        reply arrives within ``timeout_s`` (after ``retries`` re-sends) or the port is gone.
        """
        if self._task is None:
            raise DeviceUnavailable(f"OpenEVSE link on {self.settings.port} is not open")
        if self._task.done():
            await self.revive()
        async with self._lock:
            for attempt in range(retries + 1):
                seq = self._next_seq() if self.use_sequence_ids else None
                loop = asyncio.get_running_loop()
                self._pending, self._pending_seq = loop.create_future(), seq
                await self._port.write(rapi.encode_command(cmd, *params, seq=seq))
                try:
                    async with asyncio.timeout(self.timeout_s):
                        reply = await self._pending
                    break
                except TimeoutError:
                    log.debug("OpenEVSE: no reply to %s (attempt %d)", cmd, attempt + 1)
                finally:
                    self._pending = None
            else:
                raise DeviceUnavailable(f"OpenEVSE on {self.settings.port}: no valid reply to "
                                        f"${cmd} within {self.timeout_s:g} s")
        if self.failure is not None and not self._task.done():
            log.info("OpenEVSE on %s answers again", self.settings.port)
            self.failure = None
            self._notify()
        self._missed = 0
        if not reply.ok:
            raise CommandRejected(f"OpenEVSE rejected ${cmd} {' '.join(map(str, params))}: "
                                  f"$NK {' '.join(reply.params)}".rstrip(), reply.params)
        return reply.params

    async def refresh(self) -> rapi.EvseStatus | None:
        """Ask the state ($GS) and update ``status``."""
        params = await self.command("GS")
        status = rapi.status_from_gs(params)
        if status is not None:
            self._set_status(status)
        return status
