"""OpenEVSE controller over RAPI: the pilot, plus contactor and meter *views* of the
same controller (driver name "openevse" for the roles pilot, contactor and meter).

The OpenEVSE AVR generates the pilot PWM and switches its own relay; the agent only
grants or withdraws the offer. So:
- ``OpenEvsePilot.offer(a > 0)`` = ``$SC a V`` (volatile: no EEPROM wear from frequent
  limit changes; capped by the controller to its saved maximum) then ``$FE`` (enable);
  ``offer(0)`` = ``$FS`` (sleep: no PWM, relay open). ``open()`` puts the controller to
  sleep (nothing is offered before the agent decides) and re-applies the last offer
  after the controller restarts (``$AB``).
- ``OpenEvseContactor`` reports the controller's relay (vflags "charging", or state C
  on firmware without vflags). ``close_contactor()`` waits for the controller to close
  it (it does so once enabled and the EV is in C); ``open_contactor()`` sends ``$FS``
  and waits for it to open. Controller faults 08 (stuck relay) and 0E (relay closure
  fault) map to ContactorWelded / ContactorDidNotClose.
- ``OpenEvseMeter`` reads ``$GG`` (mA, mV) and ``$GU`` (session Ws, total Wh): the
  controller's own ammeter. Its total counter is what the controller keeps; the
  energy billed should come from a Modbus meter where one is fitted.
All three share one ``RapiLink`` per port via ``BuildContext.shared[("rapi", port)]``.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any, AsyncIterator, Callable

from drivers import serial_options
from drivers.errors import CommandRejected
from drivers.pilot import rapi
from drivers.pilot.rapi_link import RapiLink
from drivers.registry import BuildContext, DriverSpec
from hal.errors import (ContactorDidNotClose, ContactorWelded, DeviceOpenError,
                        DeviceUnavailable, HalError, MeterUnavailable)
from hal.interfaces import ControllerFault, DeviceInfo, MeterReading, PilotState
from hal.options import optional

log = logging.getLogger(__name__)

MIN_CURRENT_A = 6     # IEC 61851-1: no PWM offer below 6 A
REFRESH_WHILE_WAITING_S = 0.5


def _info(link: RapiLink, role: str, name: str, last_error: str = "") -> DeviceInfo:
    status = link.status.describe() if link.status else "unknown"
    return DeviceInfo(role=role, name=name, backend="openevse", port=link.settings.describe(),
                      last_error=str(link.failure) if link.failure else last_error,
                      details={"evse_state": status, "bad_lines": str(link.bad_lines)})


class OpenEvsePilot:
    """``ControlPilot`` of an OpenEVSE controller."""

    def __init__(self, link: RapiLink, name: str = "pilot") -> None:
        self.link = link
        self.name = name
        self.offered_a = 0
        self._open = False

    async def open(self) -> None:
        if self._open:
            return
        await self.link.open()
        try:
            await self.offer(0)
        except HalError as exc:
            await self.link.close()
            raise DeviceOpenError(f"{self.name}: OpenEVSE on {self.link.settings.port} refused "
                                  f"to sleep ($FS): {exc}") from exc
        self._open = True
        self.link.boot_callbacks.append(self._reapply)

    async def close(self) -> None:
        if not self._open:
            return
        self._open = False
        if self._reapply in self.link.boot_callbacks:
            self.link.boot_callbacks.remove(self._reapply)
        try:
            await self.offer(0)        # never leave the controller offering without the agent
        except HalError as exc:
            log.warning("%s: could not put the controller to sleep on close: %s", self.name, exc)
        await self.link.close()

    def info(self) -> DeviceInfo:
        info = _info(self.link, "pilot", self.name)
        info.details["offered_a"] = str(self.offered_a)
        return info

    async def states(self) -> AsyncIterator[PilotState]:
        """Current state first, then every change. Raises ``DeviceUnavailable`` when the
        controller stops answering or the port disappears."""
        await self.link.revive()            # after a lost port: reopen or raise
        last: PilotState | None = None
        while True:
            self.link.raise_if_failed()
            state = self.link.status.pilot() if self.link.status else None
            if state is not None and state != last:
                last = state
                yield state
                continue
            await self.link.wait_changed(None)

    async def faults(self) -> AsyncIterator[ControllerFault | None]:
        """The controller's own faults (``hal.interfaces.ControllerFaults``): the current
        one first, then every change, as soon as a status poll shows it."""
        await self.link.revive()
        last: ControllerFault | None = None
        first = True
        while True:
            self.link.raise_if_failed()
            fault = self.link.status.fault() if self.link.status else None
            if first or fault != last:
                first, last = False, fault
                yield fault
                continue
            await self.link.wait_changed(None)

    async def offer(self, max_current_a: float) -> None:
        if max_current_a <= 0:
            await self.link.command("FS")
            self.offered_a = 0
            return
        amps = int(math.floor(max_current_a))
        if amps < MIN_CURRENT_A:
            raise CommandRejected(f"{self.name}: cannot offer {max_current_a:g} A: the pilot "
                                  f"minimum is {MIN_CURRENT_A} A (offer 0 to pause)")
        try:
            await self.link.command("SC", amps, "V")
        except CommandRejected as exc:
            # "$NK <max>" above the controller's maximum: offering less is always safe
            limit = _int(exc.reply[0]) if exc.reply else None
            if limit is None or not MIN_CURRENT_A <= limit < amps:
                raise
            log.info("%s: controller caps the offer at %d A", self.name, limit)
            await self.link.command("SC", limit, "V")
            amps = limit
        await self.link.command("FE")
        self.offered_a = amps

    async def _reapply(self) -> None:
        await self.offer(self.offered_a)


class OpenEvseContactor:
    """``Contactor`` view of the controller's own relay.

    The controller closes its relay only for an EV in state C, so the agent cannot
    switch it on its own: ``self_test_unsupported`` (read by the console's ``test
    contactor``) says so, and the controller's own relay checks (states 08 / 0E) are
    the judge of its faults.
    """

    self_test_unsupported = ("the OpenEVSE controller closes its own relay only for an EV "
                             "in state C: test it with an EV simulator on the socket")

    def __init__(self, link: RapiLink, name: str = "contactor",
                 feedback_timeout_s: float = 3.0) -> None:
        self.link = link
        self.name = name
        self.feedback_timeout_s = feedback_timeout_s
        self._commanded_closed = False
        self._last_error = ""

    async def open(self) -> None:
        await self.link.open()

    async def close(self) -> None:
        await self.link.close()

    def info(self) -> DeviceInfo:
        return _info(self.link, "contactor", self.name, self._last_error)

    @property
    def is_closed(self) -> bool:
        return bool(self.link.status and self.link.status.relay_closed)

    async def _wait(self, predicate: Callable[[rapi.EvseStatus], bool]) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.feedback_timeout_s
        while True:
            self.link.raise_if_failed()
            status = self.link.status
            if status is not None:
                self._raise_relay_fault(status)
                if predicate(status):
                    return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            await self.link.wait_changed(min(remaining, REFRESH_WHILE_WAITING_S))
            if self.link.status is status:      # nothing new: ask, do not just wait
                try:
                    await self.link.refresh()
                except (DeviceUnavailable, CommandRejected) as exc:
                    log.debug("%s: refresh while waiting: %s", self.name, exc)

    def _raise_relay_fault(self, status: rapi.EvseStatus) -> None:
        if status.evse_state == rapi.STATE_STUCK_RELAY:
            raise self._fault(ContactorWelded(f"{self.name}: OpenEVSE reports a stuck relay "
                                              f"(state 08): welded contact"))
        if status.evse_state == rapi.STATE_RELAY_CLOSURE_FAULT:
            raise self._fault(ContactorDidNotClose(f"{self.name}: OpenEVSE reports a relay "
                                                   f"closure fault (state 0E)"))

    def _fault(self, exc: Exception) -> Exception:
        self._last_error = str(exc)
        log.error("%s", exc)
        return exc

    async def close_contactor(self) -> None:
        self._commanded_closed = True
        if await self._wait(lambda s: s.relay_closed):
            self._last_error = ""
            return
        self._commanded_closed = False
        try:
            await self.link.command("FS")
        except HalError as exc:
            log.error("%s: could not put the controller to sleep: %s", self.name, exc)
        state = self.link.status.describe() if self.link.status else "unknown"
        raise self._fault(ContactorDidNotClose(
            f"{self.name}: OpenEVSE did not close its relay within {self.feedback_timeout_s:g} s "
            f"(controller state: {state}); offer withdrawn"))

    async def open_contactor(self) -> None:
        self._commanded_closed = False
        await self.link.command("FS")
        if await self._wait(lambda s: not s.relay_closed):
            self._last_error = ""
            return
        raise self._fault(ContactorWelded(
            f"{self.name}: OpenEVSE still reports its relay closed {self.feedback_timeout_s:g} s "
            f"after sleep ($FS)"))

    async def check(self) -> None:
        self.link.raise_if_failed()
        if self.link.status is not None:
            self._raise_relay_fault(self.link.status)


class OpenEvseMeter:
    """``EnergyMeter`` view: the controller's ammeter ($GG) and energy counters ($GU)."""

    def __init__(self, link: RapiLink, name: str = "meter") -> None:
        self.link = link
        self.name = name
        self._last_energy_wh: float | None = None
        self._last_error = ""

    async def open(self) -> None:
        await self.link.open()
        self._last_energy_wh = None

    async def close(self) -> None:
        await self.link.close()

    def info(self) -> DeviceInfo:
        return _info(self.link, "meter", self.name, self._last_error)

    async def read(self) -> MeterReading:
        try:
            gg = await self.link.command("GG")
            gu = await self.link.command("GU")
            reading = self._reading(gg, gu)
        except (DeviceUnavailable, CommandRejected, ValueError) as exc:
            self._last_error = str(exc)
            raise MeterUnavailable(f"{self.name}: {exc}") from exc
        self._last_error = ""
        return reading

    def _reading(self, gg: tuple[str, ...], gu: tuple[str, ...]) -> MeterReading:
        milliamps, millivolts = (_int(t) for t in (gg + ("", ""))[:2])
        wh_total = _int(gu[1]) if len(gu) >= 2 else None
        if milliamps is None or millivolts is None or wh_total is None:
            raise ValueError(f"unexpected $GG {gg!r} / $GU {gu!r}")
        if wh_total < 0:
            raise ValueError(f"negative energy total {wh_total} Wh")
        if self._last_energy_wh is not None and wh_total < self._last_energy_wh:
            raise ValueError(f"energy total went backwards ({self._last_energy_wh:.0f} → "
                             f"{wh_total} Wh)")
        self._last_energy_wh = float(wh_total)
        current = milliamps / 1000.0 if milliamps >= 0 else None     # negative: no ammeter
        voltage = millivolts / 1000.0 if millivolts > 0 else None
        if (current is not None and current > 100) or (voltage is not None and voltage > 1000):
            raise ValueError(f"implausible $GG {gg!r}")
        power = current * voltage if current is not None and voltage is not None else None
        return MeterReading(energy_wh=float(wh_total), power_w=power, current_a=(current,),
                            voltage_v=(voltage,))


def _int(token: str) -> int | None:
    try:
        return int(token)
    except ValueError:
        return None


# -- driver specs ------------------------------------------------------------------------
LINK_OPTIONS = serial_options.serial_options(baudrate=115200, what="OpenEVSE controller") + (
    optional("timeout_s", float, 1.0, "reply timeout per RAPI command", minimum=0.05, maximum=10.0),
    optional("poll_interval_s", float, 1.0, "state poll ($GS) period; also how fast a silent "
             "controller is noticed", minimum=0.05, maximum=60.0),
    optional("max_missed_polls", int, 3, "unanswered polls before the controller is reported "
             "unavailable", minimum=1, maximum=20),
    optional("use_sequence_ids", bool, True, "tag commands with ':ss' sequence ids (RAPI >= 3; "
             "set false for very old firmware)"),
)
_LINK_KEYS = tuple(o.name for o in LINK_OPTIONS)


class _ConflictingLink(RapiLink):
    """Stands in for a link whose serial settings contradict the port's first user:
    building never fails (check-config lists every problem), opening does."""

    def __init__(self, settings, problem: str) -> None:
        super().__init__(settings)
        self.problem = problem

    async def open(self) -> None:
        raise DeviceOpenError(self.problem)


def _link(ctx: BuildContext, options: dict[str, Any]) -> RapiLink:
    link_opts = {k: options[k] for k in _LINK_KEYS}
    settings, rest = serial_options.split(link_opts)
    key = ("rapi", settings.port)
    link = ctx.shared.get(key)
    if link is None:
        link = ctx.shared[key] = RapiLink(settings, **rest)
    elif link.settings != settings:
        return _ConflictingLink(settings, (
            f"{ctx.name}: OpenEVSE port {settings.port} is already configured as "
            f"{link.settings.describe()}; use the same serial settings in the pilot, "
            f"contactor and meter tables"))
    return link


def _build_pilot(ctx: BuildContext, options: dict[str, Any]) -> OpenEvsePilot:
    return OpenEvsePilot(_link(ctx, options), name=ctx.name)


def _build_contactor(ctx: BuildContext, options: dict[str, Any]) -> OpenEvseContactor:
    return OpenEvseContactor(_link(ctx, options), name=ctx.name,
                             feedback_timeout_s=options["feedback_timeout_s"])


def _build_meter(ctx: BuildContext, options: dict[str, Any]) -> OpenEvseMeter:
    return OpenEvseMeter(_link(ctx, options), name=ctx.name)


PILOT_SPEC = DriverSpec(role="pilot", name="openevse", options=LINK_OPTIONS, build=_build_pilot,
                        port_group="rapi",
                        doc="OpenEVSE controller over RAPI (serial); it switches its own relay.")
CONTACTOR_SPEC = DriverSpec(
    role="contactor", name="openevse", port_group="rapi",
    options=LINK_OPTIONS + (optional("feedback_timeout_s", float, 3.0, "how long the controller "
                                     "may take to switch its relay", minimum=0.1, maximum=30.0),),
    build=_build_contactor,
    doc="The OpenEVSE controller's own relay, on the same port as its pilot.")
METER_SPEC = DriverSpec(role="meter", name="openevse", options=LINK_OPTIONS, build=_build_meter,
                        port_group="rapi",
                        doc="The OpenEVSE controller's ammeter and energy counter ($GG/$GU).")
