"""The one place that executes effects and turns the world back into events.

``Runtime.dispatch(event)`` is synchronous: it feeds the station and executes the
resulting effects without awaiting, so no other event can interleave with one event's
effects. Persistence effects of one event commit together in one SQLite transaction
(a transaction row and its outbox message never disagree after a crash), before any
message leaves. Hardware commands go to one worker task per connector, so they run in
order and never block dispatch; their outcomes come back as events.

Every task here belongs to the TaskGroup of ``run()``; nothing is fire-and-forget.

Crash policy (``firmware.errors``): an exception that escapes the handling of an event
is a bug. ``dispatch`` logs it once with the event (idTags masked, secrets left out),
raises ``AgentBug`` to its caller and refuses every later event; ``supervise()``, a task
in the agent's TaskGroup, then raises it so the whole agent stops: ``borne run`` exits
70 and systemd restarts it; the database (one transaction per event) is what the next
start recovers from. A bug elsewhere in a task of the agent (link, session, hardware,
readers) ends the TaskGroup the same way; ``bug_of`` logs it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sqlite3
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Protocol

from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.core.station import Station
from firmware.errors import EXIT_BUG, AgentBug
from firmware.logs import mask_id_tag
from firmware.ocpp import mapping
from firmware.ocpp.adapter import ProtocolAdapter
from firmware.store import payments as payment_store
from firmware.store import repositories as repo
from firmware.store import security_log
from firmware.store.db import atomic

from .agent_clock import AgentClock
from .hardware import ConnectorHardware

log = logging.getLogger(__name__)


@dataclass
class Decision:
    at_s: float
    id_tag: str
    accepted: bool
    why: str
    connector_id: int


class AuthorizationPort(Protocol):
    """What the runtime needs from the authorization store (``firmware.auth.ports``)."""

    def lookup(self, id_tag: str, now: float) -> tuple[Any, Any, bool]:
        """(list entry, cache entry, refused moments ago) for a canonical idTag."""

    def cache_update(self, id_tag: str, status: str, expiry_s: float | None,
                     parent_id_tag: str | None, now: float) -> str | None:
        """Record a CSMS IdTagInfo; returns the list status if it conflicts, else None."""

    def remember_rejected(self, id_tag: str, now: float) -> None:
        """Put a refused tag in the short negative cache."""


class PaymentPort(Protocol):
    """What the runtime needs from the payment terminal's task
    (``firmware.payment_terminal.PaymentTerminalWorker``)."""

    def command(self, effect: fx.Effect) -> None:
        """Queue a payment effect; its outcome comes back as an event."""


class FirmwareWorkPort(Protocol):
    """What the runtime needs from the firmware updater (``firmware.update.updater``)."""

    def execute(self, effect: fx.FirmwareWork) -> None:
        """Queue the work; its outcome comes back as an event."""


class LinkPort(Protocol):
    """What the runtime needs from the OCPP link (``firmware.ocpp.link.OcppLink``)."""

    def submit(self, effect: fx.SendMessage, triggered: bool = False) -> None:
        """Send a non-transaction message now, or answer CallFailed when it cannot go."""

    def wake(self) -> None:
        """The durable outbox has a new message (called after the commit)."""

    def reconnect(self, fallback_profile: int | None = None) -> None:
        """Close the connection and dial again with fresh settings (``fx.ReconnectLink``)."""


@dataclass
class _Held:
    effects: list[fx.SendMessage] = field(default_factory=list)
    wake_outbox: bool = False
    triggered: bool = False
    reconnect: fx.ReconnectLink | None = None  # after the reply went out


class Runtime:
    def __init__(self, station: Station, conn: sqlite3.Connection, clock: AgentClock,
                 hardware: dict[int, ConnectorHardware], info: mapping.StationInfo,
                 auth: AuthorizationPort, adapter: ProtocolAdapter):
        self.station = station
        self.conn = conn
        self.clock = clock
        self.hardware = hardware
        self.info = info
        self.adapter = adapter
        self.auth = auth
        self.link: LinkPort | None = None  # attached by the app once built
        self.payment: PaymentPort | None = None  # the board's payment terminal, if any
        # what the payment flow told the driver, numbered (the console's event lines)
        self.payment_messages: deque[tuple[int, int, str]] = deque(maxlen=50)
        self._payment_seq = 0
        self.firmware: FirmwareWorkPort | None = None  # the updater, attached by the app
        self.decisions: deque[Decision] = deque(maxlen=50)
        self.restart_requested: str | None = None
        self.restart_reason = "RemoteReset"  # or ScheduledReset: the next boot says why
        self.restart_event = asyncio.Event()
        self._timers: dict[Hashable, asyncio.TimerHandle] = {}
        self._replies: dict[Hashable, asyncio.Future] = {}
        self._tasks: asyncio.TaskGroup | None = None
        self._after_dispatch: list[Callable[[list[fx.Effect]], None]] = []
        self.bug: AgentBug | None = None
        self._bug_seen = asyncio.Event()
        clock.on_step(self._on_clock_step)

    # ------------------------------------------------------------------ events in
    def dispatch(self, event: ev.Event, *, hold_messages: bool = False) -> _Held:
        """Handle one event now. With ``hold_messages`` the messages it produces wait in
        the returned holder until ``release`` (a CSMS request's reply goes first).

        Raises ``AgentBug`` when handling the event fails, and for every event after
        that: a core whose memory may disagree with the database handles nothing more.
        """
        if self.bug is not None:
            raise self.bug
        try:
            now = self.clock.now()
            effects = self.station.handle(event, now)
            # Messages the CSMS asked for (a trigger, a report) may go out while Pending.
            held = _Held(triggered=isinstance(event, (ev.MessageTriggerRequested,
                                                      ev.ConfigurationReportRequested)))
            self._execute(effects, now, held, hold_messages)
            for observer in self._after_dispatch:
                observer(effects)
        except AgentBug:
            raise
        except Exception as error:
            raise self.crash(error, f"handling {describe_event(event)}") from error
        return held

    def _on_clock_step(self, step_s: float) -> None:
        # Called inside the link's handling of a reply: the core hears it on the next
        # loop turn, never re-entrantly.
        asyncio.get_running_loop().call_soon(self._dispatch_callback, ev.ClockStepped(step_s))

    def _dispatch_callback(self, event: ev.Event) -> None:
        """``dispatch`` from a loop callback (a timer, call_soon): a bug is recorded by
        ``dispatch`` and raised by ``supervise``, not lost in the loop's handler."""
        try:
            self.dispatch(event)
        except AgentBug:
            pass

    # ------------------------------------------------------------------ bugs
    def crash(self, error: BaseException, context: str) -> AgentBug:
        """Record a bug (the first one counts) and log it with ``context`` and its
        traceback; ``supervise`` stops the agent. Returns the ``AgentBug`` to raise."""
        if self.bug is None:
            bug = AgentBug(f"bug while {context}: {type(error).__name__}: {error}"[:2000])
            bug.__cause__ = error
            self.bug = bug
            log.critical("%s; stopping (exit %d) so that systemd restarts the agent, which "
                         "recovers from its database", bug, EXIT_BUG, exc_info=error)
            self._bug_seen.set()
        return self.bug

    async def supervise(self) -> None:
        """Run in the agent's TaskGroup: raises the first bug, which stops every task."""
        await self._bug_seen.wait()
        assert self.bug is not None
        raise self.bug

    def bug_of(self, group: BaseExceptionGroup) -> AgentBug:
        """The ``AgentBug`` that ended the agent's TaskGroup with ``group``: the one
        ``dispatch`` recorded, else the first exception found (logged now)."""
        if self.bug is not None:
            return self.bug
        first: BaseException = group
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        # A note says what the task was doing ("while answering CALL ...").
        notes = getattr(first, "__notes__", None) or ["running the agent"]
        return self.crash(first, "; ".join(notes).removeprefix("while "))

    def release(self, held: _Held) -> None:
        if self.link is None:
            return  # no link yet (tests of the runtime alone): nothing can be sent
        for effect in held.effects:
            self.link.submit(effect, triggered=held.triggered)
        if held.wake_outbox:
            self.link.wake()
        if held.reconnect is not None:
            self.link.reconnect(held.reconnect.fallback_profile)

    def request_restart(self, reason: str) -> None:
        """Restart the agent (no transaction may be running: the caller checked) and say
        ``reason`` (a 2.0.1 BootReason, e.g. ApplicationReset) in the next boot."""
        self.restart_requested = "Soft"
        self.restart_reason = reason
        self.restart_event.set()

    def observe(self, callback: Callable[[list[fx.Effect]], None]) -> None:
        """Call ``callback(effects)`` after every dispatch (console, tests)."""
        self._after_dispatch.append(callback)

    async def request(self, event: ev.Request, timeout_s: float = 30.0) -> tuple[dict, Callable]:
        """Dispatch a CSMS request; returns (reply fields, continuation sending the rest)."""
        future = asyncio.get_running_loop().create_future()
        self._replies[event.ref] = future
        try:
            held = self.dispatch(event, hold_messages=True)
            async with asyncio.timeout(timeout_s):
                fields = await future
        finally:
            self._replies.pop(event.ref, None)

        async def continuation() -> None:
            self.release(held)

        return fields, continuation

    # ------------------------------------------------------------------ effects out
    def _execute(self, effects: list[fx.Effect], now: float, held: _Held,
                 hold_messages: bool) -> None:
        queued = self._persist(effects, now)
        if queued:
            if hold_messages:
                held.wake_outbox = True
            elif self.link is not None:
                self.link.wake()
        for effect in effects:
            if isinstance(effect, fx.SendMessage):
                if effect.transaction_related:
                    continue  # already in the outbox
                if hold_messages:
                    held.effects.append(effect)
                elif self.link is not None:
                    self.link.submit(effect)
            elif isinstance(effect, (fx.CloseContactor, fx.OpenContactor, fx.OfferEnergy,
                                     fx.LockCable, fx.UnlockCable, fx.ShowStatus,
                                     fx.CheckContactor, fx.ReadMeter)):
                worker = self.hardware.get(effect.connector_id)
                if worker is not None:
                    worker.command(effect)
            elif isinstance(effect, fx.StartTimer):
                self._start_timer(effect.key, effect.delay_s)
            elif isinstance(effect, fx.CancelTimer):
                handle = self._timers.pop(effect.key, None)
                if handle is not None:
                    handle.cancel()
            elif isinstance(effect, fx.Reply):
                future = self._replies.get(effect.ref)
                if future is not None and not future.done():
                    future.set_result(effect.fields)
            elif isinstance(effect, (fx.PreAuthorisePayment, fx.SettlePayment,
                                     fx.CheckPaymentTerminal, fx.RunEndOfDay,
                                     fx.AbortPayment)):
                if self.payment is not None:
                    self.payment.command(effect)  # its record is committed above
            elif isinstance(effect, fx.ShowPaymentMessage):
                log.info("payment (connector %s): %s", effect.connector_id or "-", effect.text)
                self._payment_seq += 1
                self.payment_messages.append((self._payment_seq, effect.connector_id,
                                              effect.text))
                # the display hook: an indicator that shows text (``shows_text``, a
                # display rather than status LEDs) gets the price, the cost, the receipt
                for cid, worker in self.hardware.items():
                    if effect.connector_id in (0, cid) and getattr(
                            worker.indicator, "shows_text", False):
                        worker.command(fx.ShowStatus(cid, effect.text))
            elif isinstance(effect, fx.RecordDecision):
                self._record_decision(effect, now)
            elif isinstance(effect, fx.RememberRejectedTag):
                self.auth.remember_rejected(effect.id_tag, now)
            elif isinstance(effect, fx.ReconnectLink):
                if hold_messages:
                    held.reconnect = effect  # the conf first (A05: Accepted, then reconnect)
                elif self.link is not None:
                    self.link.reconnect(effect.fallback_profile)
            elif isinstance(effect, fx.FirmwareWork):
                if self.firmware is not None:
                    self.firmware.execute(effect)
                else:
                    log.error("no firmware updater: %s dropped", type(effect).__name__)
            elif isinstance(effect, fx.RestartAgent):
                log.warning("%s reset requested: restarting once transactions are stopped",
                            effect.kind)
                self.restart_requested = effect.kind
                self.restart_reason = "FirmwareUpdate" if effect.firmware_update else (
                    "ScheduledReset" if effect.scheduled else "RemoteReset")
                self.restart_event.set()

    def _persist(self, effects: list[fx.Effect], now: float) -> bool:
        """Write every persistence effect in one transaction; True if the outbox grew."""
        queued = False
        conflicts: list[ev.LocalListConflicted] = []
        learned: list[fx.UpdateAuthorizationCache] = []
        with atomic(self.conn):
            for effect in effects:
                if isinstance(effect, fx.SendSecurityEvent):
                    # Every event goes into the security log (A04.FR.04), critical or not.
                    security_log.append(self.conn, effect.timestamp_s, effect.kind,
                                        effect.critical, effect.tech_info)
                if isinstance(effect, fx.PersistTransaction):
                    repo.save_transaction(self.conn, effect.record)
                elif isinstance(effect, fx.PersistChargingProfiles):
                    repo.save_charging_profiles(self.conn, effect.profiles)
                elif isinstance(effect, fx.PersistReservations):
                    repo.save_reservations(self.conn, effect.reservations)
                elif isinstance(effect, fx.PersistStopData):
                    repo.save_stop_data(self.conn, effect.local_tx_id, effect.samples)
                elif isinstance(effect, fx.SendMessage) and effect.transaction_related:
                    message = self.adapter.queued_message(effect, self.conn)
                    if message is not None:
                        action, payload = message
                        repo.outbox_append(self.conn, action, mapping.local_tx_id_of(effect),
                                           payload, now, self.adapter.subprotocol)
                    if isinstance(effect, fx.SendTransactionEnded):
                        repo.delete_transaction(self.conn, effect.local_tx_id)
                    queued = True
                elif isinstance(effect, fx.PersistConfiguration):
                    repo.save_configuration(self.conn, effect.key, effect.value)
                elif isinstance(effect, fx.PersistFirmwareUpdate):
                    repo.save_firmware_update(self.conn, effect.record)
                elif isinstance(effect, fx.PersistAvailability):
                    repo.save_availability(self.conn, effect.connector_id, effect.operative)
                elif isinstance(effect, fx.PersistPayment):
                    payment_store.save_payment(self.conn, effect.record, now)
                elif isinstance(effect, fx.PersistTariff):
                    payment_store.save_tariff(self.conn, effect.tariff)
                elif isinstance(effect, fx.UpdateAuthorizationCache):
                    learned.append(effect)
        # The authorization store has its own connection and writer: never call it while
        # this connection holds the write lock.
        for effect in learned:
            list_status = self.auth.cache_update(effect.id_tag, effect.status, effect.expiry_s,
                                                 effect.parent_id_tag, now)
            if list_status is not None:
                conflicts.append(ev.LocalListConflicted(effect.id_tag, list_status,
                                                        effect.status))
        for conflict in conflicts:
            log.warning("local list conflict for %s: list says %s, CSMS says %s",
                        mask_id_tag(conflict.id_tag), conflict.list_status, conflict.csms_status)
            asyncio.get_running_loop().call_soon(self._dispatch_callback, conflict)
        return queued

    def _start_timer(self, key: Hashable, delay_s: float) -> None:
        previous = self._timers.pop(key, None)
        if previous is not None:
            previous.cancel()
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(max(0.0, delay_s), self._fire_timer, key)

    def _fire_timer(self, key: Hashable) -> None:
        self._timers.pop(key, None)
        self._dispatch_callback(ev.TimerFired(key))

    def _record_decision(self, effect: fx.RecordDecision, now: float) -> None:
        self.decisions.append(Decision(now, effect.id_tag, effect.accepted, effect.why,
                                       effect.connector_id))
        log.info("authorization %s for %s on connector %s: %s",
                 "accepted" if effect.accepted else "refused", mask_id_tag(effect.id_tag),
                 effect.connector_id or "-", effect.why)

    def cancel_timers(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()


def describe_event(event: ev.Event) -> str:
    """An event as a log shows it: its fields, idTags masked, no secret, nested records
    by type only (a list entry or a transaction record holds idTags too)."""
    if not dataclasses.is_dataclass(event):
        return type(event).__name__
    parts = []
    secret = str(getattr(event, "key", "")).lower() == "authorizationkey"
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if "id_tag" in f.name and isinstance(value, str):
            text = mask_id_tag(value)
        elif f.name == "value" and secret:
            text = "***"
        elif value is None or isinstance(value, (str, int, float, tuple)):
            text = repr(value)[:80]
        else:
            text = type(value).__name__
        parts.append(f"{f.name}={text}")
    return f"{type(event).__name__}({', '.join(parts)})"
