"""One serial link to the Borne safety MCU (firmware/mcu), shared by its pilot and contactor
views (``BuildContext.shared[("borne_mcu", port)]``).

The link owns one background task (started by the first ``open()``, cancelled and awaited
by the last ``close()``) that runs, in a TaskGroup:
- the reader: decodes frames, acknowledges every MCU frame but an ACK, drops duplicates
  and stale events (``mcu_codec.ReceiveFilter``), resolves the pending command's ACK and
  updates ``state``;
- the keep-alive: ``READ_STATE`` every ``keepalive_interval_s``, which must stay well below
  the MCU's keep-alive timeout (2 s in firmware/mcu) so that the MCU never drops the offer
  while the host is alive;
- the silence watch: no valid frame for ``silence_timeout_s`` (the MCU sends a keep-alive
  every second and answers every command) fails the link.

Commands are stop-and-wait: one in flight, retransmitted with the same SEQ after
``retry_s`` up to ``max_retries`` times (the MCU re-acks a duplicate without applying it
twice). ``ACK_REFUSED``/``ACK_UNKNOWN`` raise ``CommandRejected``; no ACK raises
``DeviceUnavailable``. A failed link (silence, vanished port) wakes every waiter, which
raises ``DeviceUnavailable``; a link failed by silence recovers when the MCU speaks again,
a vanished port is reopened by ``revive()``. ``open()`` refuses an MCU that is silent or
speaks another protocol major version (``DeviceOpenError`` with the fix).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Awaitable, Callable, cast

from drivers.errors import CommandRejected
from drivers.pilot import mcu_codec as mc
from drivers.shared_link import SharedLinkLifecycle
from hal.errors import DeviceOpenError, DeviceUnavailable
from hal.serial import SerialPort, SerialSettings
from hal.tasks import cancel_and_wait

log = logging.getLogger(__name__)


class McuLink:
    def __init__(self, settings: SerialSettings, *, retry_s: float = 0.1, max_retries: int = 3,
                 keepalive_interval_s: float = 0.5, silence_timeout_s: float = 1.5,
                 self_test_at_open: bool = True) -> None:
        self.settings = settings
        self.retry_s = retry_s
        self.max_retries = max_retries
        self.keepalive_interval_s = keepalive_interval_s
        self.silence_timeout_s = silence_timeout_s
        self.self_test_at_open = self_test_at_open
        self.state: mc.McuState | None = None
        self.version: mc.McuVersion | None = None
        self.failure: DeviceUnavailable | None = None
        self.restarts = 0
        self.bad_frames = 0      # valid CRC, payload that does not parse
        self.restart_callbacks: list[Callable[[], Awaitable[None]]] = []
        self._port = SerialPort(settings)
        self._decoder = mc.FrameDecoder()
        self._filter = mc.ReceiveFilter()
        self._seq = mc.SeqCounter()
        self._task: asyncio.Task[None] | None = None
        self._lifecycle = SharedLinkLifecycle(
            self._start, self._shutdown, started=lambda: self._task is not None,
            running=lambda: self._task is not None and not self._task.done(),
            open_error=self._open_error)
        self._lock = asyncio.Lock()
        self._pending: tuple[int, asyncio.Future[int]] | None = None
        self._version_wait: asyncio.Future[mc.McuVersion] | None = None
        self._self_test_wait: asyncio.Future[tuple[bool, int]] | None = None
        self._write_lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._last_heard = 0.0
        self._restart_seen = False

    @property
    def decode_errors(self) -> int:
        return self._decoder.errors

    # -- lifecycle --------------------------------------------------------------------
    async def open(self) -> None:
        """Open the port, check the MCU's protocol version, run its pilot self-test (when
        ``self_test_at_open``) and read its state; reference-counted
        (``drivers.shared_link``)."""
        await self._lifecycle.open()

    def _open_error(self, exc: DeviceUnavailable) -> DeviceOpenError:
        return DeviceOpenError(
            f"Borne MCU on {self.settings.describe()} does not answer ({exc}): check TX/RX "
            f"(crossed), GND, the baudrate, that the MCU is powered and flashed with "
            f"firmware/mcu (mpremote)")

    async def _start(self) -> None:
        await self._port.open()
        self.failure = None
        self._decoder = mc.FrameDecoder()
        self._filter = mc.ReceiveFilter()
        self._last_heard = asyncio.get_running_loop().time()
        self._task = asyncio.create_task(self._run(), name=f"borne-mcu {self.settings.port}")
        try:
            version = await self.read_version()
            if version.major != mc.PROTOCOL_MAJOR:
                raise DeviceOpenError(
                    f"Borne MCU on {self.settings.port} speaks {version.describe()}; this "
                    f"agent speaks protocol {mc.PROTOCOL_MAJOR}.x: flash the MCU with the "
                    f"firmware/mcu of this agent's version (mpremote)")
            await self.command(mc.CMD_FORBID_ENERGY)
            await self.command(mc.CMD_OFFER_CURRENT, mc.encode_u16(0))
            await self.command(mc.CMD_READ_STATE)
            if self.self_test_at_open:
                passed, faults = await self.self_test()
                if not passed:
                    raise DeviceOpenError(
                        f"Borne MCU on {self.settings.port}: pilot self-test failed "
                        f"({','.join(mc.fault_names(faults | mc.FAULT_SELF_TEST))}): the "
                        f"ADC did not read -12 V: check the pilot's PWM output stage and "
                        f"its ADC divider")
        except CommandRejected as exc:
            await self._shutdown()
            raise DeviceOpenError(f"Borne MCU on {self.settings.port} refused a start-up "
                                  f"command ({exc}): check that it runs firmware/mcu") from exc
        except BaseException:
            await self._shutdown()
            raise
        log.info("Borne MCU on %s: %s", self.settings.port, version.describe())

    async def revive(self) -> None:
        """After the port was lost (runner ended), reopen it, once for all the views that
        ask (pilot.states() and faults() both do). Raises ``DeviceUnavailable`` while it is
        still missing or silent."""
        if await self._lifecycle.revive():
            log.info("Borne MCU on %s: link re-established", self.settings.port)

    async def close(self) -> None:
        await self._lifecycle.close()

    async def _shutdown(self) -> None:
        task, self._task = self._task, None
        try:
            if task is not None:
                # our own cancel is never swallowed (hal.tasks)
                await cancel_and_wait(cast("asyncio.Future[object]", task))
        finally:
            await self._port.close()

    async def _run(self) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._reader())
                tg.create_task(self._keepalive())
                tg.create_task(self._watch_silence())
        except* DeviceUnavailable as group:
            self._fail(group.exceptions[0])          # type: ignore[arg-type]

    # -- state ----------------------------------------------------------------------------
    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _fail(self, exc: DeviceUnavailable) -> None:
        if self.failure is None:
            log.error("%s", exc)
        self.failure = exc
        for waiter in (self._pending[1] if self._pending else None, self._version_wait,
                       self._self_test_wait):
            if waiter is not None and not waiter.done():
                waiter.set_exception(DeviceUnavailable(str(exc)))
        self._notify()

    def raise_if_failed(self) -> None:
        if self.failure is not None:
            raise DeviceUnavailable(str(self.failure))
        if self._task is None:
            raise DeviceUnavailable(f"Borne MCU link on {self.settings.port} is not open")

    async def wait_changed(self, timeout_s: float | None) -> None:
        """Return at the next state change or failure (or after ``timeout_s``)."""
        changed = self._changed
        try:
            async with asyncio.timeout(timeout_s):
                await changed.wait()
        except TimeoutError:
            pass

    def _set_state(self, state: mc.McuState) -> None:
        if state != self.state:
            self.state = state
            self._notify()

    # -- tasks ----------------------------------------------------------------------------
    async def _reader(self) -> None:
        while True:
            data = await self._port.read()
            out = bytearray()
            for frame in self._decoder.feed(data):
                out += self._receive(frame)
            if out:
                await self._write(bytes(out))

    def _receive(self, frame: mc.Frame) -> bytes:
        """Handle one valid frame; returns the bytes to answer with (its ACK)."""
        self._last_heard = asyncio.get_running_loop().time()
        if self.failure is not None and self._task is not None and not self._task.done():
            log.warning("Borne MCU on %s answers again", self.settings.port)
            self.failure = None
            self._notify()
        if frame.kind == mc.MSG_ACK:
            self._on_ack(frame)
            return b""
        if (frame.seq == 0 and frame.kind not in mc.SNAPSHOTS and self.state is not None
                and self.state.uptime_s >= 1):
            # a SEQ-0 event from an MCU that had been up for a second: its boot events'
            # retransmissions (300 ms) are long over, so this is a new boot
            self._on_restart("its first event after a start")
        if self._filter.accept(frame):
            try:
                self._apply(frame)
                self._filter.applied(frame)
            except mc.McuPayloadError as exc:
                self.bad_frames += 1
                log.debug("Borne MCU: dropped frame type 0x%02X: %s", frame.kind, exc)
        return mc.ack(frame)

    def _on_ack(self, frame: mc.Frame) -> None:
        pending = self._pending
        if len(frame.payload) != 2 or pending is None or frame.payload[0] != pending[0]:
            return                      # a stale or malformed ACK releases nothing
        if not pending[1].done():
            pending[1].set_result(frame.payload[1])

    def _apply(self, frame: mc.Frame) -> None:
        kind, payload = frame.kind, frame.payload
        if kind in (mc.MSG_STATE, mc.MSG_KEEPALIVE):
            state = mc.decode_state(payload)
            if self.state is not None and frame.seq == 0:
                self._on_restart("its first frame after a start")
            elif self.state is not None and mc.uptime_went_back(self.state.uptime_s,
                                                              state.uptime_s):
                self._on_restart("its uptime went back")
            self._set_state(state)
        elif kind == mc.MSG_SELF_TEST:
            # the faults it carries also come as MSG_FAULT; only the verdict is news here
            result = mc.decode_self_test(payload)
            if self._self_test_wait is not None and not self._self_test_wait.done():
                self._self_test_wait.set_result(result)
        elif kind == mc.MSG_VERSION:
            version = mc.decode_version(payload)
            self.version = version
            if self._version_wait is not None and not self._version_wait.done():
                self._version_wait.set_result(version)
        elif self.state is None:
            return                          # events refine a snapshot; none yet
        elif kind == mc.MSG_PILOT_CHANGED:
            self._set_state(replace(self.state, pilot=mc.decode_pilot(payload)))
        elif kind == mc.MSG_CONTACTOR_CHANGED:
            coil, mirror = mc.decode_contactor(payload)
            self._set_state(replace(self.state, contactor=coil, mirror=mirror))
        elif kind == mc.MSG_FAULT:
            self._set_state(replace(self.state, faults=mc.decode_u16(payload)))
        else:
            raise mc.McuPayloadError(f"unknown message type 0x{kind:02X}")

    def _on_restart(self, why: str) -> None:
        """The MCU rebooted: it came up with the contactor open and no offer or
        permission. The offer is re-applied (restart_callbacks); the permission is not
        (energy flows again only on a new request), and the pilot's ``faults()`` reports
        the restart once. Events until its next snapshot are not applied. Seen as a
        snapshot with SEQ 0, an uptime that went back (not the 18 h wrap) or a SEQ-0 event
        after a second of uptime; a reboot within the MCU's first second shows only by
        its effects (the host-silent bit it boots with, reported as a fault)."""
        self.restarts += 1
        self._filter.reset()
        self.state = None
        self._restart_seen = True
        log.warning("Borne MCU on %s restarted (%s): re-applying the offer",
                    self.settings.port, why)
        self._notify()

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(self.keepalive_interval_s)
            if self._restart_seen:
                self._restart_seen = False
                await self._check_version_after_restart()
                for callback in list(self.restart_callbacks):
                    try:
                        await callback()
                    except (DeviceUnavailable, CommandRejected) as exc:
                        log.error("Borne MCU: re-applying settings after a restart: %s", exc)
            try:
                await self.command(mc.CMD_READ_STATE)
            except (DeviceUnavailable, CommandRejected) as exc:
                log.debug("Borne MCU: keep-alive unanswered: %s", exc)

    async def _check_version_after_restart(self) -> None:
        """A rebooted MCU may have been reflashed: one that now speaks another protocol
        major ends the link (DeviceUnavailable; every revive() refuses it again)."""
        try:
            version = await self.read_version()
        except (DeviceUnavailable, CommandRejected) as exc:
            log.warning("Borne MCU: version after a restart unknown: %s", exc)
            return
        if version.major != mc.PROTOCOL_MAJOR:
            raise DeviceUnavailable(
                f"Borne MCU on {self.settings.port} restarted speaking {version.describe()}; "
                f"this agent speaks protocol {mc.PROTOCOL_MAJOR}.x: flash the matching "
                f"firmware/mcu")

    async def _watch_silence(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            silent_s = loop.time() - self._last_heard
            if silent_s >= self.silence_timeout_s and self.failure is None:
                self._fail(DeviceUnavailable(
                    f"Borne MCU on {self.settings.port} silent for {silent_s:.1f} s (no "
                    f"keep-alive, no ACK): check the serial cable and the MCU's power"))
            await asyncio.sleep(min(self.silence_timeout_s, self.keepalive_interval_s) / 2)

    # -- commands -------------------------------------------------------------------------
    async def _write(self, data: bytes) -> None:
        """Whole frames only (the reader's ACKs and the commands never interleave), and
        bounded: a line that stops draining is a vanished device, not a hang."""
        async with self._write_lock:
            try:
                async with asyncio.timeout(max(1.0, 4 * self.retry_s)):
                    await self._port.write(data)
            except TimeoutError:
                raise DeviceUnavailable(f"Borne MCU on {self.settings.port}: the line does "
                                        f"not drain (write timed out)") from None

    async def command(self, kind: int, payload: bytes = b"") -> None:
        """Send one command and wait for its ACK (retransmitting the same SEQ).

        Raises ``CommandRejected`` when the MCU refuses it (ACK_REFUSED, ACK_UNKNOWN) and
        ``DeviceUnavailable`` when no ACK comes after ``max_retries`` retransmissions or
        the link is failed/closed."""
        if self._task is None:
            raise DeviceUnavailable(f"Borne MCU link on {self.settings.port} is not open")
        if self._task.done():
            await self.revive()
        async with self._lock:
            seq = self._seq.next()
            wire = mc.encode(seq, kind, payload)
            future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            self._pending = (seq, future)
            try:
                for _ in range(self.max_retries + 1):
                    await self._write(wire)
                    try:
                        async with asyncio.timeout(self.retry_s):
                            status = await asyncio.shield(future)
                        break
                    except TimeoutError:
                        continue
                else:
                    raise DeviceUnavailable(
                        f"Borne MCU on {self.settings.port}: no ACK to command 0x{kind:02X} "
                        f"after {self.max_retries} retransmissions")
            finally:
                self._pending = None
                if not future.done():
                    future.cancel()
        if status != mc.ACK_OK:
            name = mc.ACK_NAMES.get(status, f"status {status}")
            raise CommandRejected(f"Borne MCU on {self.settings.port} answered command "
                                  f"0x{kind:02X} with {name}", (name,))

    async def read_version(self) -> mc.McuVersion:
        loop = asyncio.get_running_loop()
        self._version_wait = loop.create_future()
        try:
            await self.command(mc.CMD_VERSION)
            async with asyncio.timeout(self.retry_s * (self.max_retries + 1)):
                return await self._version_wait
        except TimeoutError:
            raise DeviceUnavailable(f"Borne MCU on {self.settings.port} acknowledged VERSION "
                                    f"but sent no version") from None
        finally:
            self._version_wait = None

    async def self_test(self, timeout_s: float = 1.0) -> tuple[bool, int]:
        """Run the MCU's pilot self-test (-12 V for 30 ms, read back on the ADC); returns
        (passed, fault bits). Refused (``CommandRejected``) while the contactor is closed."""
        loop = asyncio.get_running_loop()
        self._self_test_wait = loop.create_future()
        try:
            await self.command(mc.CMD_SELF_TEST)
            async with asyncio.timeout(timeout_s):
                return await self._self_test_wait
        except TimeoutError:
            raise DeviceUnavailable(f"Borne MCU on {self.settings.port} reported no self-test "
                                    f"result within {timeout_s:g} s") from None
        finally:
            self._self_test_wait = None

