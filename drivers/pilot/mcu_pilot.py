"""The Borne safety MCU (firmware/mcu on a Pi Pico) as HAL devices: driver "borne_mcu" for
the roles pilot (``ControlPilot`` + ``ControllerFaults``) and contactor.

The MCU generates the pilot PWM and switches the contactor itself; it closes only when
the host *allowed* energy, the pilot is C/D and no fault is latched, and it opens by
itself within 100 ms of C->B or a fault and when the host falls silent (issue 13). The
host's part is the offer and the permission:
- ``McuPilot.offer(a)`` = OFFER_CURRENT (deciamps, rounded down; 0 withdraws the offer:
  pilot B1). ``open()`` forbids energy and offers nothing (nothing before the agent
  decides) and re-applies the offer after the MCU restarted. ``states()`` yields the EV's
  pilot state; while the MCU holds the pilot at -12 V for a fault (or its self-test) it
  cannot see the EV, so the last EV-side state stands and the fault comes through
  ``faults()`` (mapped in ``mcu_codec.FAULTS``), never a fault as an unplug.
- ``McuContactor.close_contactor()`` = ALLOW_ENERGY, then waits for the MCU to report the
  coil on *and* the mirror closed; ``open_contactor()`` = FORBID_ENERGY, then waits for the
  mirror to open. A mirror mismatch the MCU reports (FAULT_MIRROR) is a weld when the coil
  is off and a contact that did not pull in when it is on.
Both share one ``McuLink`` per port via ``BuildContext.shared[("borne_mcu", port)]``.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any, AsyncIterator, Callable

from drivers import serial_options
from drivers.errors import CommandRejected
from drivers.pilot import mcu_codec as mc
from drivers.pilot.mcu_link import McuLink
from drivers.registry import BuildContext, DriverSpec
from hal.errors import (ContactorDidNotClose, ContactorFault, ContactorWelded,
                        DeviceOpenError, HalError)
from hal.interfaces import ControllerFault, DeviceInfo, PilotState
from hal.options import optional

log = logging.getLogger(__name__)

MIN_CURRENT_A = 6.0     # IEC 61851-1: no PWM offer below 6 A (hardware.md §3.2)
MAX_CURRENT_A = 80.0    # the highest current a PWM duty can signal
_PILOT = {letter: PilotState(letter) for letter in mc.PILOT_LETTERS}


def _info(link: McuLink, role: str, name: str, last_error: str = "") -> DeviceInfo:
    state = link.state
    details = {"mcu": link.version.describe() if link.version else "unknown",
               "decode_errors": str(link.decode_errors), "restarts": str(link.restarts)}
    if state is not None:
        details.update(pilot=state.pilot, faults=",".join(mc.fault_names(state.faults)) or "-",
                       offered_a=f"{state.offered_da / 10:g}", coil=str(state.contactor),
                       mirror=str(state.mirror))
    return DeviceInfo(role=role, name=name, backend="borne_mcu", port=link.settings.describe(),
                      last_error=str(link.failure) if link.failure else last_error,
                      details=details)


class McuPilot:
    """``ControlPilot`` and ``ControllerFaults`` of the Borne safety MCU."""

    def __init__(self, link: McuLink, name: str = "pilot", fault_clear_s: float = 1.0) -> None:
        self.link = link
        self.name = name
        self.fault_clear_s = fault_clear_s
        self.offered_a = 0.0
        self._open = False

    async def open(self) -> None:
        if self._open:
            return
        await self.link.open()
        self._open = True
        self.link.restart_callbacks.append(self._reapply)

    async def close(self) -> None:
        if not self._open:
            return
        self._open = False
        if self._reapply in self.link.restart_callbacks:
            self.link.restart_callbacks.remove(self._reapply)
        try:
            await self.offer(0)          # never leave the MCU offering without the agent
        except HalError as exc:
            log.warning("%s: could not withdraw the offer on close: %s", self.name, exc)
        await self.link.close()

    def info(self) -> DeviceInfo:
        info = _info(self.link, "pilot", self.name)
        info.details["requested_a"] = f"{self.offered_a:g}"
        return info

    def _ev_side(self, last: PilotState | None) -> PilotState | None:
        state = self.link.state
        if state is None:
            return None
        pilot = _PILOT[state.pilot]
        if pilot is PilotState.F and not state.faults & ~mc.FAULT_HOST_SILENT:
            # F without a fault: the MCU has not classified the pilot yet (just booted,
            # or just left its self-test / state F): not news
            return last
        if pilot.is_error and last is not None:
            # the MCU drives -12 V itself (fault, self-test) or sees E/F, which it reports
            # as a fault: the EV may still be there, so keep what it showed last
            return last
        return pilot

    async def states(self) -> AsyncIterator[PilotState]:
        """Current state first, then every change. Raises ``DeviceUnavailable`` when the
        MCU falls silent or its port disappears."""
        await self.link.revive()
        last: PilotState | None = None
        while True:
            self.link.raise_if_failed()
            state = self._ev_side(last)
            if state is not None and state != last:
                last = state
                yield state
                continue
            await self.link.wait_changed(None)

    async def faults(self) -> AsyncIterator[ControllerFault | None]:
        """The MCU's faults (``hal.interfaces.ControllerFaults``): the current one first,
        then every change, the moment the MCU reports it (an MCU restart included,
        ``mcu_codec.RESTART_FAULT``). A fault clears only after the
        MCU has reported none for ``fault_clear_s``: the MCU leaves state F after 300 ms
        and may find the same fault again (a shorted pilot), which must not flap."""
        await self.link.revive()
        loop = asyncio.get_running_loop()
        view = mc.FaultView(self.fault_clear_s, self.link.restarts)
        first = True
        while True:
            self.link.raise_if_failed()
            state = self.link.state
            changed, wake_in_s = view.update(state.faults if state else 0, self.link.restarts,
                                             loop.time())
            if first or changed:
                first = False
                yield view.reported
                continue
            await self.link.wait_changed(wake_in_s)

    async def offer(self, max_current_a: float) -> None:
        if not math.isfinite(max_current_a):
            raise CommandRejected(f"{self.name}: cannot offer {max_current_a!r} A")
        if max_current_a <= 0:
            await self.link.command(mc.CMD_OFFER_CURRENT, mc.encode_u16(0))
            self.offered_a = 0.0
            return
        if max_current_a < MIN_CURRENT_A:
            raise CommandRejected(f"{self.name}: cannot offer {max_current_a:g} A: the pilot "
                                  f"minimum is {MIN_CURRENT_A:g} A (offer 0 to pause)")
        amps = min(max_current_a, MAX_CURRENT_A)     # offering less is always safe
        deciamps = int(math.floor(amps * 10 + 1e-9))
        await self.link.command(mc.CMD_OFFER_CURRENT, mc.encode_u16(deciamps))
        self.offered_a = deciamps / 10

    async def _reapply(self) -> None:
        await self.offer(self.offered_a)


class McuContactor:
    """``Contactor`` view of the relay the MCU switches.

    The MCU closes only for an EV in state C/D, so the agent cannot switch it alone:
    ``self_test_unsupported`` says so (read by the console's ``test contactor``)."""

    self_test_unsupported = ("the Borne MCU closes the contactor only for an EV in state C: "
                             "test it with an EV simulator on the socket")

    def __init__(self, link: McuLink, name: str = "contactor",
                 feedback_timeout_s: float = 3.0) -> None:
        self.link = link
        self.name = name
        self.feedback_timeout_s = feedback_timeout_s
        self._last_error = ""
        self._open = False

    async def open(self) -> None:
        if self._open:
            return
        await self.link.open()
        self._open = True

    async def close(self) -> None:
        if not self._open:
            return
        self._open = False
        await self._forbid_quietly()    # never leave a permission behind the agent
        await self.link.close()

    def info(self) -> DeviceInfo:
        return _info(self.link, "contactor", self.name, self._last_error)

    @property
    def is_closed(self) -> bool:
        return bool(self.link.state and self.link.state.mirror)

    def _fault(self, exc: ContactorFault) -> ContactorFault:
        self._last_error = str(exc)
        log.error("%s", exc)
        return exc

    def _raise_mirror_fault(self) -> None:
        state = self.link.state
        if state is None or not state.faults & mc.FAULT_MIRROR:
            return
        if state.mirror and not state.contactor:
            raise self._fault(ContactorWelded(f"{self.name}: the MCU reports the mirror "
                                              f"contact closed with the coil off: welded"))
        raise self._fault(ContactorDidNotClose(f"{self.name}: the MCU reports a mirror "
                                               f"contact mismatch (coil on, contact open)"))

    async def _wait(self, predicate: Callable[[mc.McuState], bool]) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.feedback_timeout_s
        while True:
            self.link.raise_if_failed()
            self._raise_mirror_fault()
            state = self.link.state
            if state is not None and predicate(state):
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            await self.link.wait_changed(remaining)

    async def close_contactor(self) -> None:
        try:
            await self.link.command(mc.CMD_ALLOW_ENERGY)
        except CommandRejected as exc:
            faults = self.link.state.faults if self.link.state else 0
            raise self._fault(ContactorDidNotClose(
                f"{self.name}: the MCU refused to allow energy (faults "
                f"{','.join(mc.fault_names(faults)) or 'none'}): {exc}")) from exc
        try:
            closed = await self._wait(lambda s: s.contactor and s.mirror)
        except BaseException:
            await self._forbid_quietly()
            raise
        if closed:
            self._last_error = ""
            return
        await self._forbid_quietly()
        state = self.link.state
        pilot = state.pilot if state else "?"
        raise self._fault(ContactorDidNotClose(
            f"{self.name}: the MCU did not close within {self.feedback_timeout_s:g} s "
            f"(pilot {pilot}); permission withdrawn"))

    async def _forbid_quietly(self) -> None:
        try:
            await self.link.command(mc.CMD_FORBID_ENERGY)
        except HalError as exc:
            log.error("%s: could not withdraw the permission: %s", self.name, exc)

    async def open_contactor(self) -> None:
        await self.link.command(mc.CMD_FORBID_ENERGY)
        if await self._wait(lambda s: not s.contactor and not s.mirror):
            self._last_error = ""
            return
        raise self._fault(ContactorWelded(
            f"{self.name}: the mirror contact still says closed {self.feedback_timeout_s:g} s "
            f"after the MCU opened the coil"))

    async def check(self) -> None:
        self.link.raise_if_failed()
        self._raise_mirror_fault()


# -- driver specs ---------------------------------------------------------------------------
LINK_OPTIONS = serial_options.serial_options(baudrate=115200, what="Borne safety MCU") + (
    optional("retry_s", float, 0.1, "time to wait for an ACK before retransmitting a command",
             minimum=0.02, maximum=1.0),
    optional("max_retries", int, 3, "retransmissions of an unacknowledged command before the "
             "MCU is reported unavailable", minimum=1, maximum=10),
    optional("keepalive_interval_s", float, 0.5, "state poll period, the host's keep-alive; "
             "must stay well below the MCU's 2 s keep-alive timeout", minimum=0.05,
             maximum=1.0),
    optional("silence_timeout_s", float, 1.5, "no frame from the MCU for this long (it sends "
             "a keep-alive every second) is a device fault", minimum=0.2, maximum=10.0),
    optional("self_test_at_open", bool, True, "run the MCU's pilot self-test (-12 V for 30 ms, "
             "read back) when the agent starts"),
)
_LINK_KEYS = tuple(o.name for o in LINK_OPTIONS)


class _ConflictingLink(McuLink):
    """Stands in for a link whose settings contradict the port's first user: building
    never fails (check-config lists every problem), opening does."""

    def __init__(self, settings: Any, problem: str) -> None:
        super().__init__(settings)
        self.problem = problem

    async def open(self) -> None:
        raise DeviceOpenError(self.problem)


def _link(ctx: BuildContext, options: dict[str, Any]) -> McuLink:
    settings, rest = serial_options.split({k: options[k] for k in _LINK_KEYS})
    key = ("borne_mcu", settings.port)
    link = ctx.shared.get(key)
    if link is None:
        link = ctx.shared[key] = McuLink(settings, **rest)
    elif (link.settings, link.retry_s, link.max_retries, link.keepalive_interval_s,
          link.silence_timeout_s, link.self_test_at_open) != (settings, *rest.values()):
        return _ConflictingLink(settings, (
            f"{ctx.name}: Borne MCU port {settings.port} is already configured with other "
            f"settings; use the same link keys in the pilot and contactor tables"))
    return link


def _build_pilot(ctx: BuildContext, options: dict[str, Any]) -> McuPilot:
    return McuPilot(_link(ctx, options), name=ctx.name, fault_clear_s=options["fault_clear_s"])


def _build_contactor(ctx: BuildContext, options: dict[str, Any]) -> McuContactor:
    return McuContactor(_link(ctx, options), name=ctx.name,
                        feedback_timeout_s=options["feedback_timeout_s"])


PILOT_SPEC = DriverSpec(
    role="pilot", name="borne_mcu", port_group="borne_mcu", build=_build_pilot,
    options=LINK_OPTIONS + (
        optional("fault_clear_s", float, 1.0, "an MCU fault is reported cleared only after the "
                 "MCU reported none for this long", minimum=0.0, maximum=30.0),),
    doc="Borne safety MCU (firmware/mcu on a Pi Pico, UART): pilot PWM and sampling, "
        "interlock, RCD; its faults map to OCPP error codes (see below).")
CONTACTOR_SPEC = DriverSpec(
    role="contactor", name="borne_mcu", port_group="borne_mcu", build=_build_contactor,
    options=LINK_OPTIONS + (
        optional("feedback_timeout_s", float, 3.0, "how long the MCU may take to close after "
                 "the permission (the EV must ask, state C) or to see the mirror open",
                 minimum=0.1, maximum=30.0),),
    doc="The contactor the Borne MCU switches, on the same port as its pilot.")
