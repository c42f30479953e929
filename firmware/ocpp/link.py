"""The connection to the CSMS: dialling, registration gate, and the one sender.

- Dial ``csms_url/identity`` with the adapter's subprotocol (``ocpp1.6``, ...) under the
  SecurityProfile (``link_security``: Basic auth, TLS ≥ 1.2 against the installed CSMS
  roots, the client certificate for profile 3). A dial refused for the server's
  certificate or TLS version is a security event (InvalidCsmsCertificate,
  InvalidTLSVersion; once per outage). ``reconnect`` closes the connection after a
  security change; a new profile that fails ``TRIAL_DIALS`` dials in a row is reported
  (``SecurityProfileConnectFailed``) so the core goes back to the previous one, and a
  renewed client certificate that fails as often is discarded
  (DiscardedRenewedClientCertificate, A02.FR.28/.29).
  Failed dials back off exponentially with jitter up to a
  cap; the backoff resets once the CSMS has answered one of our CALLs on a connection
  (a CSMS that accepts the handshake and hangs up at once is not redialled in a loop).
- Half-open links are found two ways. (1) Websocket ping every WebSocketPingInterval
  with a deadline of half of it: found and redialled within 2 × the interval. (2) When
  pings are off or do not catch it (a CSMS whose websocket layer lives on while its
  OCPP layer is stuck): after ``unanswered_calls_max`` CALLs in a row got no answer
  within ``call_timeout_s``, the connection is closed and redialled. Any CALLRESULT or
  CALLERROR resets that count. Each of those timeouts still is a failed transmission
  for the outbox ([16] §3.7.1: retried after the interval, counted towards the
  attempts), so redialling never gives a message an extra attempt or a shorter wait.
- One CALL in flight at a time ([J16] §4.1.1). Non-transaction messages (Authorize,
  StatusNotification, Heartbeat) overtake the durable outbox; the outbox is drained in
  order, at most ``replay_max_per_s`` messages a second after a reconnect.
- Registration gate ([16] §4.2): before Accepted only BootNotification goes out; while
  Pending, only what a TriggerMessage asked for; while Rejected, nothing, and inbound
  CALLs are not answered.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import websockets
from websockets.asyncio.client import connect

from firmware.core import effects as fx
from firmware.core import events as ev

from . import mapping
from .adapter import ProtocolAdapter
from .link_security import DialSecurity, LinkConfigurationProblem, LinkCredentials
from .outbox import Outbox, ReadyMessage
from .invalid_messages import InvalidMessageReporter
from .protocol_switch import ProtocolNegotiation
from .session import (CallErrorReceived, CallTimedOut, InboundHandler, LinkClosed, Session,
                      ensure_closed)

log = logging.getLogger(__name__)

SETTINGS_TTL_S = 1.0


@dataclass(frozen=True)
class LinkSettings:
    csms_url: str
    identity: str
    call_timeout_s: float = 30.0
    ping_interval_s: float = 30.0
    authorization_key: str = ""
    security_profile: int = 0
    ca_file: str | None = None
    reconnect_initial_s: float = 1.0
    reconnect_max_s: float = 60.0
    replay_max_per_s: float = 50.0
    unanswered_calls_max: int = 2  # 0 = never close the link for unanswered calls

    @property
    def url(self) -> str:
        return self.csms_url.rstrip("/") + "/" + self.identity


@dataclass
class LinkStatus:
    """What the console's ``status`` shows; true to what the socket is doing.

    ``since_s`` (epoch seconds) is when the link last went up or down: dial attempts
    while down ("connecting", "offline") do not move it, so it reads "offline since".
    """

    state: str = "offline"  # offline | connecting | connected
    since_s: float = field(default_factory=time.time)
    last_error: str = ""
    boot_state: str = "None"
    connects: int = 0


@dataclass
class _Item:
    action: str
    payload: dict[str, Any]
    effect: fx.SendMessage
    triggered: bool = False
    created_s: float = 0.0


def backoff_delay_s(attempt: int, initial_s: float, max_s: float,
                    rng: Callable[[], float] = random.random) -> float:
    """Exponential backoff with jitter: half fixed, half random, capped."""
    ceiling = min(max_s, initial_s * (2 ** min(attempt, 30)))
    return ceiling / 2 + rng() * ceiling / 2


class OcppLink:
    def __init__(self, settings: Callable[[], LinkSettings], handler: InboundHandler,
                 sink: Callable[[ev.Event], None], outbox: Outbox, adapter: ProtocolAdapter,
                 clock: Callable[[], float],
                 sync_clock: Callable[[float, float, float, float], object] | None = None,
                 negotiation: ProtocolNegotiation | None = None,
                 credentials: LinkCredentials | None = None):
        # ``clock``: the agent's wall clock (message creation times). ``sync_clock(
        # csms_time_s, sent_mono_s, received_mono_s, resolution_s)``: applies a CSMS
        # currentTime at receipt (AgentClock.sync), before the answer becomes an event.
        self._settings = settings
        self._sync_clock = sync_clock
        # Several versions offered (``[ocpp] protocol`` a list): the CSMS may pick another.
        self._negotiation = negotiation
        self._handler = handler
        self._sink = sink
        self._outbox = outbox
        self._adapter = adapter
        self._clock = clock
        self._queue: deque[_Item] = deque()
        self._work = asyncio.Event()
        self._session: Session | None = None
        self._invalid_messages = InvalidMessageReporter(sink)
        self.status = LinkStatus()
        self._dial_attempt = 0
        self._unanswered_calls = 0
        self._cached_settings: tuple[float, LinkSettings] | None = None
        # ``credentials``: the certificate store (CSMS roots, client certificate).
        self._security = DialSecurity(credentials, sink)
        self._redial = asyncio.Event()       # reconnect() asked: dial now
        self._close_requested = False         # reconnect() asked: close the session

    def _current_settings(self, cached: bool = False) -> LinkSettings:
        # The sender asks once per message (cached: a changed call timeout or replay rate
        # may take SETTINGS_TTL_S to apply); dialling always reads them afresh, so a new
        # AuthorizationKey or URL is used by the very next connection.
        now_s = time.monotonic()
        if cached and self._cached_settings is not None \
                and now_s - self._cached_settings[0] < SETTINGS_TTL_S:
            return self._cached_settings[1]
        settings = self._settings()
        self._cached_settings = (now_s, settings)
        return settings

    # ------------------------------------------------------------------ runtime API
    def submit(self, effect: fx.SendMessage, triggered: bool = False) -> None:
        """Queue a non-transaction message; fails fast (CallFailed) when it cannot go out."""
        message = self._adapter.message(effect)
        if message is None:
            return  # this OCPP version has no such message (2.0.1: a station status)
        action, payload = message
        if self._session is None or not self._allowed(action, triggered):
            self._fail(effect, action, "offline")
            return
        self._queue.append(_Item(action, payload, effect, triggered, self._clock()))
        self._work.set()

    def wake(self) -> None:
        """The outbox has a new message (the runtime calls this after its commit)."""
        self._outbox.account_appended()
        self._work.set()

    @property
    def connected(self) -> bool:
        return self._session is not None

    # ------------------------------------------------------------------ connection loop
    async def run(self) -> None:
        """Dial, run a session, redial; forever (cancel to stop)."""
        while True:
            settings = self._current_settings()
            self._set_state("connecting")
            renewed = self._security.using_renewed(settings.security_profile)
            try:
                options = self._connect_options(settings)
                connection = await connect(settings.url, **options)
            except LinkConfigurationProblem as e:
                self.status.last_error = str(e)[:200]
                log.error("cannot connect to %s: %s", settings.url, e)
                if self._security.failed(settings.security_profile, renewed, e,
                                         self.status.last_error):
                    self._redial.set()
                self._set_state("offline")
                await self._pause(settings.reconnect_max_s)
                continue
            except (OSError, asyncio.TimeoutError, websockets.exceptions.InvalidHandshake,
                    websockets.exceptions.InvalidURI, ssl.SSLError) as e:
                self.status.last_error = f"{type(e).__name__}: {e}"[:200]
                if self._security.failed(settings.security_profile, renewed, e,
                                         self.status.last_error):
                    self._redial.set()
                delay_s = backoff_delay_s(self._dial_attempt, settings.reconnect_initial_s,
                                          settings.reconnect_max_s)
                self._dial_attempt += 1
                log.warning("cannot connect to %s (%s); retrying in %.1f s", settings.url,
                            self.status.last_error, delay_s)
                self._set_state("offline")
                await self._pause(delay_s)
                continue
            self._security.connected(connection, renewed)
            await self._run_session(connection)
            settings = self._current_settings()
            delay_s = backoff_delay_s(self._dial_attempt, settings.reconnect_initial_s,
                                      settings.reconnect_max_s)
            self._dial_attempt += 1
            await self._pause(delay_s)

    # ------------------------------------------------------------------ security changes
    def reconnect(self, fallback_profile: int | None = None) -> None:
        """Close the connection (after the reply being sent) and dial again at once with
        fresh settings. ``fallback_profile``: a new SecurityProfile is on trial, and
        ``SecurityProfileConnectFailed`` asks the core to restore this one when
        ``TRIAL_DIALS`` dials in a row fail."""
        if fallback_profile is not None:
            self._security.start_trial(self._current_settings().security_profile,
                                       fallback_profile)
        self._dial_attempt = 0
        self._close_requested = self._session is not None
        self._redial.set()
        self._work.set()

    async def _pause(self, delay_s: float) -> None:
        """Wait before the next dial; ``reconnect`` cuts it short."""
        self._redial.clear()
        try:
            async with asyncio.timeout(delay_s):
                await self._redial.wait()
        except TimeoutError:
            pass

    def _connect_options(self, settings: LinkSettings) -> dict[str, Any]:
        options: dict[str, Any] = {
            "subprotocols": (self._negotiation.offered() if self._negotiation is not None
                             else [self._adapter.subprotocol]),
            # Ping deadline of half the interval, and a short close handshake: a half-open
            # link is found and dropped within interval + interval/2 + interval/4.
            "ping_interval": settings.ping_interval_s or None,
            "ping_timeout": (settings.ping_interval_s / 2) or None,
            "open_timeout": max(settings.call_timeout_s, 5.0),
            "close_timeout": max(0.5, min(5.0, (settings.ping_interval_s or 20) / 4)),
            # The largest legal frame (a 10,000-entry SendLocalList with parentIdTags and
            # expiry dates) is under 3.5 MB; anything bigger is refused (1009) before it is
            # parsed, since parsing 13 MB of JSON holds the loop ~200 ms.
            "max_size": 4 * 1024 * 1024,
            "proxy": None,
            "user_agent_header": "Borne",
        }
        options.update(self._security.options(
            settings.security_profile, settings.csms_url, settings.identity,
            settings.authorization_key, settings.ca_file,
            hex_key=self._adapter.subprotocol == "ocpp1.6"))
        return options

    async def _run_session(self, connection: Any) -> None:
        if connection.subprotocol != self._adapter.subprotocol:
            if self._negotiation is not None and self._negotiation.switch_to(
                    connection.subprotocol):
                self.status.last_error = f"switching to {connection.subprotocol}"
                await connection.close(1000, "switching OCPP version")
                return
            log.error("CSMS did not agree to subprotocol %s (got %r); closing",
                      self._adapter.subprotocol, connection.subprotocol)
            self.status.last_error = "subprotocol not accepted"
            await connection.close(1002, "subprotocol required")
            return
        session = Session(connection, self._handler, self._adapter.codec,
                          answer_calls=lambda: self.status.boot_state != "Rejected",
                          on_invalid=self._invalid_messages.saw)
        self._session = session
        self.status.connects += 1
        self._set_state("connected")
        log.info("connected to %s", self._current_settings().url)
        self._sink(ev.LinkConnected())
        try:
            async with asyncio.TaskGroup() as tasks:
                sender = tasks.create_task(self._sender(session))
                await session.receive_loop(tasks)
                sender.cancel()
        except* LinkClosed:
            pass
        # Anything else is a bug: it propagates and stops the agent (crash policy,
        # firmware.errors) rather than a redial on top of memory it may have corrupted.
        finally:
            self._session = None
            await ensure_closed(connection)
            self._set_state("offline")
            reason = getattr(connection, "close_reason", "") or ""
            log.warning("disconnected from CSMS (code %s %s)",
                        getattr(connection, "close_code", None), reason)
            for item in self._drain_queue():
                self._fail(item.effect, item.action, "offline")
            self._sink(ev.LinkDisconnected())

    async def close(self) -> None:
        """Graceful shutdown: close the websocket with 1001 (going away)."""
        if self._session is not None:
            await self._session.close(1001, "charge point shutting down")

    # ------------------------------------------------------------------ sending
    async def _sender(self, session: Session) -> None:
        """Send in the order things happened. A non-transaction message goes before the
        outbox's head when it is older, or while the head waits (retry interval, replay
        rate): the backlog never holds back an Authorize or a StatusNotification."""
        self._unanswered_calls = 0
        try:
            await self._send_in_order(session)
        finally:
            # Removals the outbox batches (at-least-once) are not left pending when the
            # connection ends: the next connection starts after everything confirmed.
            self._outbox.flush()

    async def _send_in_order(self, session: Session) -> None:
        last_replay_s = 0.0
        while True:
            self._work.clear()
            if self._close_requested:
                self._close_requested = False
                log.info("security settings changed: reconnecting")
                await session.close(1000, "security settings changed")
                raise LinkClosed("security settings changed")
            settings = self._current_settings(cached=True)
            item = self._next_item()
            ready, wait_s = (None, None)
            if self.status.boot_state == "Accepted":
                ready, wait_s = self._outbox.head(self._clock())
            if ready is not None:
                pause_s = last_replay_s + 1.0 / settings.replay_max_per_s - time.monotonic()
                if pause_s > 0:
                    ready, wait_s = None, pause_s
            if ready is not None and (item is None or ready.created_at_s <= item.created_s):
                if item is not None:
                    self._queue.appendleft(item)
                last_replay_s = time.monotonic()
                await self._deliver_queued(session, ready, settings)
            elif item is not None:
                await self._deliver(session, item, settings)
            else:
                await self._wait_for_work(wait_s)

    async def _wait_for_work(self, timeout_s: float | None) -> None:
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
        # that races with the event being set, and the sender would never stop.
        try:
            async with asyncio.timeout(timeout_s):
                await self._work.wait()
        except TimeoutError:
            pass

    def _next_item(self) -> _Item | None:
        while self._queue:
            item = self._queue.popleft()
            if self._allowed(item.action, item.triggered):
                return item
            self._fail(item.effect, item.action, "offline")
        return None

    def _allowed(self, action: str, triggered: bool) -> bool:
        boot = self.status.boot_state
        if action == "BootNotification":
            # The core decides when: at connect, after the Pending/Rejected interval, or
            # on TriggerMessage (never answered while Rejected, so never asked then).
            return True
        if boot == "Accepted":
            return True
        return boot == "Pending" and triggered

    async def _call(self, session: Session, action: str, payload: dict[str, Any],
                    settings: LinkSettings) -> dict[str, Any]:
        """One CALL; keeps the count of CALLs in a row that got no answer at all."""
        try:
            response = await session.call(action, payload, settings.call_timeout_s)
        except CallTimedOut:
            self._unanswered_calls += 1
            raise
        except CallErrorReceived:
            self._answered()
            raise
        self._answered()
        return response

    def _answered(self) -> None:
        # The CSMS processes our CALLs on this connection: the link is sound, and the
        # next outage starts again from the shortest redial delay.
        self._unanswered_calls = 0
        self._dial_attempt = 0

    async def _close_if_half_open(self, session: Session, settings: LinkSettings) -> None:
        """After a timeout: redial when too many CALLs in a row went unanswered."""
        limit = settings.unanswered_calls_max
        if limit <= 0 or self._unanswered_calls < limit:
            return
        count, self._unanswered_calls = self._unanswered_calls, 0
        self.status.last_error = f"no answer to {count} calls in a row"
        log.warning("no answer to %d CALLs in a row (%.0f s each): the connection is presumed "
                    "half-open; closing it and redialling", count, settings.call_timeout_s)
        await session.close(1001, "no answer to calls")
        raise LinkClosed(self.status.last_error)

    async def _deliver(self, session: Session, item: _Item, settings: LinkSettings) -> None:
        sent_mono_s = time.monotonic()
        try:
            response = await self._call(session, item.action, item.payload, settings)
            received_mono_s = time.monotonic()
        except CallErrorReceived as e:
            log.warning("%s answered with CALLERROR %s", item.action, e)
            self._fail(item.effect, item.action, "error", e.code)
            return
        except CallTimedOut as e:
            log.warning("%s", e)
            self._fail(item.effect, item.action, "timeout")
            await self._close_if_half_open(session, settings)
            return
        except (LinkClosed, asyncio.CancelledError):
            # The connection closed under the CALL (the sender is cancelled then): no
            # answer will ever come, so say so; a waiting tap must not hold its connector.
            self._fail(item.effect, item.action, "offline")
            raise
        if isinstance(item.effect, (fx.SendRegistration, fx.SendKeepAlive)):
            self._apply_csms_time(response, sent_mono_s, received_mono_s)
        self._succeed(item, response)

    def _apply_csms_time(self, response: dict[str, Any], sent_mono_s: float,
                         received_mono_s: float) -> None:
        """Clock sync at receipt, before the answer is an event: the events it causes
        (StatusNotifications after an Accepted boot) are stamped with the new time."""
        text = response.get("currentTime")
        csms_time_s = mapping.parse_time(text)
        if self._sync_clock is None or csms_time_s is None:
            return
        if response.get("status", "Accepted") != "Accepted":
            return  # as before: only an Accepted boot (or a Heartbeat) sets the clock
        resolution_s = 0.001 if "." in str(text) else 1.0  # whole seconds: [t, t+1)
        self._sync_clock(csms_time_s, sent_mono_s, received_mono_s, resolution_s)

    def _succeed(self, item: _Item, response: dict[str, Any]) -> None:
        if isinstance(item.effect, fx.SendRegistration):
            # The registration gate of this link (both versions answer with a status).
            self.status.boot_state = response.get("status", "Rejected")
        for event in self._adapter.answered(item.effect, response):
            self._sink(event)

    def _fail(self, effect: fx.SendMessage, action: str, reason: str, code: str = "") -> None:
        ref = getattr(effect, "ref", None)
        if isinstance(effect, (fx.SendAuthorizationRequest, fx.SendRegistration)):
            self._sink(ev.CallFailed(ref, effect, reason, code))
        elif reason != "offline":
            log.info("%s not delivered (%s %s); not retried", action, reason, code)

    async def _deliver_queued(self, session: Session, message: ReadyMessage,
                              settings: LinkSettings) -> None:
        try:
            response = await self._call(session, message.action, message.payload, settings)
        except (CallErrorReceived, CallTimedOut) as e:
            dropped = self._outbox.failed(message, self._clock(), str(e))
            if dropped and message.local_tx_id is not None:
                self._sink(ev.TransactionMessageDropped(
                    message.local_tx_id, message.action,
                    self._adapter.starts_transaction(message.action, message.payload)))
            if isinstance(e, CallTimedOut):
                await self._close_if_half_open(session, settings)
            return
        # LinkClosed propagates: the message stays at the head, not counted as an attempt.
        self._outbox.delivered(message, response)
        for event in self._adapter.queued_answered(message, response):
            self._sink(event)

    def _drain_queue(self) -> list[_Item]:
        items = list(self._queue)
        self._queue.clear()
        return items

    def _set_state(self, state: str) -> None:
        if state != self.status.state:
            if (state == "connected") != (self.status.state == "connected"):
                self.status.since_s = time.time()
            self.status.state = state
