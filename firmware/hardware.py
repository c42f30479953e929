"""Tasks that drive one connector's devices and report what they see as events.

- The command worker executes hardware effects in order. An ``OpenContactor`` preempts
  a close still waiting for its feedback (the safety rule: opening never waits).
- The meter poller reads every ``meter_poll_interval_s``; after ``meter_failed_reads``
  consecutive failures it reports ``MeterFailed`` once (PowerMeterFailure); the next
  good reading clears it. Readings are never invented: a failed read sends nothing.
- The pilot watcher forwards every control pilot state.
- The contactor checker compares feedback with the command every
  ``contactor_check_interval_s`` (a weld while idle is noticed).

Contactor faults and their clearing: a fault found by the feedback (a weld, a contact
that dropped out) is reported once as ``ContactorFailed``. A weld clears
(``HardwareFaultChanged(kind="contactor", active=False)``) when the feedback agrees
with the command again. A coil that did not pull in (``ContactorDidNotClose``) cannot
be judged while the contactor is open — an idle check always agrees — so it stays
latched: clearing it on the idle check would re-close the broken contactor at once,
fault again, and repeat (DESIGN §6: never re-close without a new request). The
connector stays Faulted and refuses new sessions until a technician's ``self_test()``
(console ``test contactor N``) passes, or the agent restarts. A contactor the agent
cannot switch without a vehicle (``self_test_unsupported`` set on the device: an
OpenEVSE controller's own relay) cannot be self-tested: its latch clears when the
vehicle is unplugged (pilot A), so the next session tries again.

``self_test()`` runs through the command worker, so it never interleaves with a
command of the core: check, close, check, open, check — timing each switch.

Every device error these tasks catch is also recorded, with its time, in the device's
``health[role]`` record (``firmware.device_health``), and the next success records the
recovery: the console's ``hw`` shows both. A contactor fault recovers when it clears.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.device_health import DeviceHealth
from hal.errors import ContactorDidNotClose, ContactorFault, HalError
from hal.interfaces import (Contactor, ConnectorLock, ControlPilot, ControllerFaults, Device,
                            EnergyMeter, Indicator, PilotState)

log = logging.getLogger(__name__)

PILOT_RETRY_S = 2.0
ROLES = ("pilot", "contactor", "meter", "lock", "indicator")
# the device a failed command is about; nothing retries it until the next command
_COMMAND_ROLE = {fx.OpenContactor: "contactor", fx.CheckContactor: "contactor",
                 fx.OfferEnergy: "pilot", fx.LockCable: "lock", fx.UnlockCable: "lock",
                 fx.ShowStatus: "indicator"}


@dataclass
class HardwareTiming:
    meter_poll_interval_s: float = 1.0
    meter_failed_reads: int = 3
    contactor_check_interval_s: float = 1.0


@dataclass(frozen=True)
class ContactorTestResult:
    """A passed ``self_test``: how long the feedback took to confirm each switch, s."""

    close_s: float
    open_s: float
    cleared_fault: str = ""     # vendor error code of the latched fault it cleared, if any


class _SelfTest:
    """A worker command (not a core effect): run the contactor self test, report to
    ``future``."""

    def __init__(self, future: asyncio.Future) -> None:
        self.future = future


class ConnectorHardware:
    def __init__(self, connector_id: int, pilot: ControlPilot, contactor: Contactor,
                 meter: EnergyMeter, lock: ConnectorLock | None = None,
                 indicator: Indicator | None = None,
                 timing: HardwareTiming | None = None,
                 clock: Callable[[], float] = time.time):
        self.connector_id = connector_id
        self.pilot = pilot
        self.contactor = contactor
        self.meter = meter
        self.lock = lock
        self.indicator = indicator
        self.timing = timing or HardwareTiming()
        self.dispatch: Callable[[ev.Event], Any] = lambda event: None
        self._commands: asyncio.Queue = asyncio.Queue()
        self._closing: asyncio.Task | None = None
        self.meter_failures = 0
        self.contactor_fault: ContactorFault | None = None  # reported, not yet cleared
        self._self_testing = False
        # The last offer failed: the EV's allowed current is unknown, so no close runs
        # until an offer succeeds (the core opens on the OfferFailed it was told of).
        self._offer_failed = False
        # what hw shows of each device's errors; agent clock (epoch s) for their times
        self.health = {role: DeviceHealth(clock) for role in ROLES}

    @property
    def contactor_fault_latched(self) -> bool:
        """The reported fault does not clear on a passing ``check()`` (see module doc)."""
        return isinstance(self.contactor_fault, ContactorDidNotClose)

    def devices(self) -> list[Device]:
        return [d for d in (self.pilot, self.contactor, self.meter, self.lock, self.indicator)
                if d is not None]

    def command(self, effect: fx.Effect) -> None:
        if isinstance(effect, fx.OpenContactor) and self._closing is not None:
            self._closing.cancel()  # never wait for a close to finish before opening
        self._commands.put_nowait(effect)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._worker(tasks))
            tasks.create_task(self._watch_pilot())
            tasks.create_task(self._poll_meter())
            tasks.create_task(self._check_contactor())
            if isinstance(self.pilot, ControllerFaults):
                tasks.create_task(self._watch_controller_faults(self.pilot))

    # ------------------------------------------------------------------ commands
    async def drained(self) -> None:
        """Return once every queued command has been executed."""
        await self._commands.join()

    async def _worker(self, tasks: asyncio.TaskGroup) -> None:
        while True:
            effect = await self._commands.get()
            try:
                await self._execute(effect, tasks)
            finally:
                self._commands.task_done()

    async def _execute(self, effect: Any, tasks: asyncio.TaskGroup) -> None:
        if isinstance(effect, _SelfTest):
            await self._run_self_test(effect)
            return
        if not isinstance(effect, fx.CloseContactor):
            await self._run_command(effect)
            return
        if self._offer_failed:
            log.warning("connector %d: not closing: the pilot refused the last offer",
                        self.connector_id)
            return
        self._closing = tasks.create_task(self._close())
        try:
            await self._closing
        except asyncio.CancelledError:
            if asyncio.current_task().cancelling():
                raise  # we are being stopped ourselves
            # else: an OpenContactor preempted the close; it is next in the queue.
        finally:
            self._closing = None

    async def _close(self) -> None:
        try:
            await self.contactor.close_contactor()
        except ContactorFault as e:
            self._report_contactor_fault(e)
            return
        except HalError as e:
            self.health["contactor"].failed(e, retrying=False)
            raise
        self._contactor_ok()
        self.dispatch(ev.ContactorSwitched(self.connector_id, True))

    async def _run_command(self, effect: fx.Effect) -> None:
        try:
            if isinstance(effect, fx.OpenContactor):
                await self.contactor.open_contactor()
                self._contactor_ok()
                self.dispatch(ev.ContactorSwitched(self.connector_id, False))
            elif isinstance(effect, fx.OfferEnergy):
                await self.pilot.offer(effect.max_current_a)
                self._offer_failed = False
                self.health["pilot"].succeeded()
            elif isinstance(effect, fx.LockCable):
                await self._lock_cable()
            elif isinstance(effect, fx.ReadMeter):
                await self._read_meter_now()
            elif isinstance(effect, fx.CheckContactor):
                await self.contactor.check()
                self._contactor_ok()
                self.dispatch(ev.ContactorChecked(self.connector_id))
            elif isinstance(effect, fx.UnlockCable):
                ok = bool(self.lock is not None and await self.lock.unlock())
                if not ok:
                    log.error("connector %d: cable lock did not unlock", self.connector_id)
                    if self.lock is not None:
                        self.health["lock"].failed("did not unlock", retrying=False)
                else:
                    self.health["lock"].succeeded()
                self.dispatch(ev.CableUnlocked(self.connector_id, ok, effect.request_ref))
            elif isinstance(effect, fx.ShowStatus) and self.indicator is not None:
                await self.indicator.show(effect.status)
                self.health["indicator"].succeeded()
        except ContactorFault as e:
            self._report_contactor_fault(e)
        except HalError as e:
            log.error("connector %d: %s failed: %s", self.connector_id,
                      type(effect).__name__, e)
            role = _COMMAND_ROLE.get(type(effect))
            if role is not None:
                self.health[role].failed(e, retrying=False)
            if isinstance(effect, fx.UnlockCable):
                self.dispatch(ev.CableUnlocked(self.connector_id, False, effect.request_ref))
            elif isinstance(effect, fx.OfferEnergy):
                self._offer_failed = True
                self.dispatch(ev.OfferFailed(self.connector_id, effect.max_current_a,
                                             str(e)[:40]))
            elif isinstance(effect, fx.LockCable):
                self.dispatch(ev.LockFailed(self.connector_id, str(e)[:50]))

    async def _read_meter_now(self) -> None:
        """After the commands before it (the opening): the reading a stop reports."""
        try:
            reading = await self.meter.read()
        except HalError as e:
            log.warning("connector %d: meter read after the stop failed: %s",
                        self.connector_id, e)
            self.health["meter"].failed(e)      # the poller retries
            self.dispatch(ev.MeterRead(self.connector_id, None))
        else:
            self.health["meter"].succeeded()
            self.dispatch(ev.MeterRead(self.connector_id, reading))

    async def _lock_cable(self) -> None:
        """The core offers no energy before ``CableLocked``; anything else is a fault."""
        if self.lock is None:
            self.dispatch(ev.LockFailed(self.connector_id, "no cable lock on this board"))
        elif await self.lock.lock():
            self.health["lock"].succeeded()
            self.dispatch(ev.CableLocked(self.connector_id))
        else:
            log.error("connector %d: cable lock did not lock", self.connector_id)
            self.health["lock"].failed("did not lock", retrying=False)
            self.dispatch(ev.LockFailed(self.connector_id, "lock did not confirm"))

    def _report_contactor_fault(self, e: ContactorFault) -> None:
        log.error("connector %d: contactor fault %s: %s", self.connector_id,
                  e.vendor_error_code, e)
        if not self.contactor_fault_latched:
            self.contactor_fault = e      # a latched no-pull-in is never downgraded
        # the periodic check retries a weld; a latched no-pull-in waits for a self test
        self.health["contactor"].failed(e, retrying=not self.contactor_fault_latched)
        self.dispatch(ev.ContactorFailed(self.connector_id, e.vendor_error_code, str(e)[:50]))

    def _contactor_ok(self) -> None:
        """The contactor did what was asked: a recovery, unless a fault is outstanding."""
        if self.contactor_fault is None:
            self.health["contactor"].succeeded()

    def _clear_contactor_fault(self, why: str) -> str:
        fault, self.contactor_fault = self.contactor_fault, None
        self._contactor_ok()
        if fault is None:
            return ""
        log.warning("connector %d: contactor fault %s cleared: %s", self.connector_id,
                    fault.vendor_error_code, why)
        self.dispatch(ev.HardwareFaultChanged(self.connector_id, "contactor", False))
        return fault.vendor_error_code

    # ------------------------------------------------------------------ self test
    async def self_test(self) -> ContactorTestResult:
        """Close then open the contactor, checking the feedback before, between and
        after, in the command worker's order (no core command interleaves).

        The caller must make sure no vehicle is connected and no session is running or
        being authorized (the console refuses otherwise): the contactor closes for real.
        On a ``ContactorFault`` the fault is reported exactly as at run time
        (``ContactorFailed``: the connector goes Faulted) and re-raised; the contactor
        is left open. Other ``HalError``s (device unreachable) are re-raised without a
        fault. A pass clears a reported contactor fault (a latched no-pull-in
        included). Raises ``RuntimeError`` (with the device's reason) when the device
        cannot be switched without a vehicle (``self_test_unsupported``).
        """
        reason = getattr(self.contactor, "self_test_unsupported", "")
        if reason:
            raise RuntimeError(reason)
        future = asyncio.get_running_loop().create_future()
        self._commands.put_nowait(_SelfTest(future))
        return await future

    async def _run_self_test(self, command: _SelfTest) -> None:
        if command.future.done():       # the console gave up waiting
            return
        try:
            result = await self._self_test_steps()
        except BaseException as e:
            if not command.future.done():
                command.future.set_exception(e)
            if isinstance(e, asyncio.CancelledError):
                raise
        else:
            if not command.future.done():
                command.future.set_result(result)

    async def _self_test_steps(self) -> ContactorTestResult:
        loop = asyncio.get_running_loop()
        contactor = self.contactor
        self._self_testing = True
        closed = False
        try:
            await contactor.check()                 # a weld shows before we energise
            started = loop.time()
            closed = True
            await contactor.close_contactor()
            close_s = loop.time() - started
            await contactor.check()
            started = loop.time()
            closed = False
            await contactor.open_contactor()
            open_s = loop.time() - started
            await contactor.check()
        except ContactorFault as e:
            self._report_contactor_fault(e)
            raise
        except HalError as e:
            self.health["contactor"].failed(e, retrying=False)
            raise
        finally:
            self._self_testing = False
            if closed:
                await self._open_quietly()
        cleared = self._clear_contactor_fault("self test passed")
        return ContactorTestResult(close_s, open_s, cleared)

    async def _open_quietly(self) -> None:
        try:
            await self.contactor.open_contactor()
        except ContactorFault as e:
            self._report_contactor_fault(e)
        except HalError as e:
            log.error("connector %d: opening after a failed self test: %s",
                      self.connector_id, e)

    # ------------------------------------------------------------------ watchers
    async def _watch_pilot(self) -> None:
        link_lost = False
        while True:
            try:
                async for state in self.pilot.states():
                    self.health["pilot"].succeeded()
                    if link_lost:
                        # states() yields again only once the controller answers
                        link_lost = False
                        log.warning("connector %d: pilot controller answers again",
                                    self.connector_id)
                        self.dispatch(ev.HardwareFaultChanged(self.connector_id, "pilot-link",
                                                              False))
                    if (state is PilotState.A and self.contactor_fault_latched
                            and getattr(self.contactor, "self_test_unsupported", "")):
                        self._clear_contactor_fault("the vehicle was unplugged")
                    self.dispatch(ev.PilotChanged(self.connector_id, state))
            except HalError as e:
                log.error("connector %d: pilot controller lost: %s", self.connector_id, e)
                self.health["pilot"].failed(e)
                if not link_lost:
                    link_lost = True
                    self.dispatch(ev.HardwareFaultChanged(
                        self.connector_id, "pilot-link", True, "OtherError", "PilotLinkLost",
                        str(e)[:50]))
            await asyncio.sleep(PILOT_RETRY_S)

    async def _watch_controller_faults(self, pilot: ControllerFaults) -> None:
        """The controller's own faults, reported when they happen (kind "controller");
        a lost controller is the pilot watcher's to report."""
        active = False
        while True:
            try:
                async for fault in pilot.faults():
                    if fault is not None:
                        log.error("connector %d: controller fault %s (%s): %s",
                                  self.connector_id, fault.error_code,
                                  fault.vendor_error_code, fault.info)
                        active = True
                        self.dispatch(ev.HardwareFaultChanged(
                            self.connector_id, "controller", True, fault.error_code,
                            fault.vendor_error_code[:50], fault.info[:50]))
                    elif active:
                        active = False
                        log.warning("connector %d: controller fault cleared", self.connector_id)
                        self.dispatch(ev.HardwareFaultChanged(self.connector_id, "controller",
                                                              False))
            except HalError:
                pass  # the pilot watcher logs and reports the lost link
            await asyncio.sleep(PILOT_RETRY_S)

    async def _poll_meter(self) -> None:
        while True:
            try:
                reading = await self.meter.read()
            except HalError as e:
                self.health["meter"].failed(e)
                self.meter_failures += 1
                if self.meter_failures == self.timing.meter_failed_reads:
                    log.error("connector %d: meter failed %d reads in a row: %s",
                              self.connector_id, self.meter_failures, e)
                    self.dispatch(ev.MeterFailed(self.connector_id, str(e)[:50]))
            else:
                if self.meter_failures >= self.timing.meter_failed_reads:
                    log.warning("connector %d: meter answers again", self.connector_id)
                self.meter_failures = 0
                self.health["meter"].succeeded()
                self.dispatch(ev.MeterSampled(self.connector_id, reading))
            await asyncio.sleep(self.timing.meter_poll_interval_s)

    async def _check_contactor(self) -> None:
        while True:
            await asyncio.sleep(self.timing.contactor_check_interval_s)
            if self._closing is not None or self._self_testing:
                continue  # a switch is waiting for its feedback: not a mismatch yet
            try:
                await self.contactor.check()
            except ContactorFault as e:
                if self.contactor_fault is None:
                    self._report_contactor_fault(e)
            except HalError as e:
                log.warning("connector %d: contactor check failed: %s", self.connector_id, e)
                self.health["contactor"].failed(e)
            else:
                if self.contactor_fault is not None and not self.contactor_fault_latched:
                    self._clear_contactor_fault("the feedback agrees with the command again")
                self._contactor_ok()
