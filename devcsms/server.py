"""DevCsms: an OCPP 1.6J, 2.0.1 and 2.1 central system for development and integration tests.

    async with DevCsms(first_transaction_id=5001) as csms:          # 127.0.0.1, a free port
        agent = start_agent(csms_url=csms.url)                       # ws://127.0.0.1:PORT/ocpp
        await csms.wait_connected("CP-0001", timeout_s=10)
        boot = await csms.wait_for("BootNotification", timeout_s=10)
        mark = csms.mark()
        reply = await csms.call("CP-0001", call.RemoteStartTransaction(id_tag="04A2B3C4", connector_id=1))
        start = await csms.wait_for("StartTransaction", after=mark, timeout_s=10)
        ...
        assert csms.violations == []

Each websocket connection gets a `StationSession` speaking the subprotocol the station chose ("ocpp1.6",
"ocpp2.0.1" or "ocpp2.1": the first one it offers that we speak; see `devcsms.dialects`); the station
identity is the last path segment of the URL. Every frame in both directions is recorded and
every frame a charge point sends is checked (see `recording`). Test helpers wait on events, never poll.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from devcsms.dialects import SUBPROTOCOLS, dialect_for

from devcsms.handshake import (
    ConnectionRecord,
    RefusedHandshake,
    basic_credentials_problem,
    first_spoken,
    remote_address_text,
    station_identity,
)
from devcsms.policy import AuthorizationPolicy, BootPolicy, ReceiptPolicy, TagRule
from devcsms.printing import FramePrinter
from devcsms.recording import FROM_CP, TO_CP, Direction, Frame, Recorder
from devcsms.scripting import Responder, ScriptBook
from devcsms.station import CallErrorReceived, StationNotConnected, StationSession, request_action_and_payload
from devcsms.settlements import SettlementView, build_settlements
from devcsms.transactions import TransactionEventsView, TransactionView, build_transactions
from devcsms.validation import CALLERROR, CALLRESULT

logger = logging.getLogger(__name__)

__all__ = ["DevCsms", "ConnectionRecord", "RefusedHandshake", "CallErrorReceived", "StationNotConnected"]


class DevCsms:
    """OCPP 1.6J / 2.0.1 / 2.1 development CSMS; use as `async with DevCsms(...) as csms:`.

    It offers all three subprotocols; each connection speaks the one its station chose.

    Arguments (all keyword except host/port):
      host, port            where to listen; port 0 picks a free port (see `.port`, `.url`).
      path                  URL path the charge point appends its identity to (`.url` = ws://host:port/path).
      boot_status, boot_interval_s
                            the BootNotification answer (Accepted/Pending/Rejected, interval in seconds);
                            change later through `csms.boot.status` / `csms.boot.interval_s`.
      authorization         AuthorizationPolicy (default: every tag Accepted); or use `tag_rules`, a dict
                            idTag → status string or TagRule, for the per-tag overrides.
      first_transaction_id  the first transactionId handed out (ids increase by one, shared by stations).
      basic_auth            identity → password; when given, a handshake without the right HTTP Basic
                            credentials (username = identity) is refused with 401.
      ssl_context           serve wss:// with this server-side TLS context.
      printer               callable receiving one readable line per message (None: silent).
      check_boot_sequence   record boot ordering violations (requests while Pending/Rejected…; OCPP 1.6
                            §4.2, 2.0.1 B01-B03).
      ping_interval_s       websocket keepalive pings from the CSMS (None: never ping).
      subprotocols          the OCPP versions offered (default all: "ocpp1.6", "ocpp2.0.1", "ocpp2.1"); e.g.
                            ("ocpp1.6",) to see a charge point fall back. ValueError for others.
      receipt_url           2.1: make the receipt of each NotifySettlement, answering this template with
                            {station} and {psp_ref} filled in (None: answer {}); ValueError for a bad
                            template; change later through `csms.receipts.url_template`.

    Failure modes: `__aenter__` raises OSError when the port cannot be bound. Helpers raise WaitTimeout
    (a TimeoutError) with a description of what was recorded meanwhile.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        path: str = "/ocpp",
        boot_status: str = "Accepted",
        boot_interval_s: int = 300,
        authorization: AuthorizationPolicy | None = None,
        tag_rules: Mapping[str, TagRule | str] | None = None,
        first_transaction_id: int = 1001,
        basic_auth: Mapping[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        printer: Callable[[str], None] | None = None,
        check_boot_sequence: bool = True,
        ping_interval_s: float | None = 20.0,
        subprotocols: Sequence[str] = SUBPROTOCOLS,
        receipt_url: str | None = None,
    ) -> None:
        unknown = [name for name in subprotocols if name not in SUBPROTOCOLS]
        if unknown or not subprotocols:
            raise ValueError(f"subprotocols must be some of {SUBPROTOCOLS}, got {list(subprotocols)}")
        self.subprotocols = tuple(subprotocols)
        self.host = host
        self.requested_port = port
        self.first_transaction_id = first_transaction_id
        self.path = "/" + path.strip("/")
        self.boot = BootPolicy(boot_status, boot_interval_s)
        self.authorization = authorization or AuthorizationPolicy()
        for id_tag, rule in (tag_rules or {}).items():
            self.authorization.set(id_tag, rule)
        self.receipts = ReceiptPolicy(receipt_url)
        self.basic_auth = dict(basic_auth) if basic_auth is not None else None
        self.refuse_connections = False
        """When True, new websocket handshakes are answered 503 (an outage); open ones are untouched."""
        self.connections: list[ConnectionRecord] = []
        self.refused: list[RefusedHandshake] = []

        self._ssl_context = ssl_context
        self._ping_interval_s = ping_interval_s
        self._transaction_ids = itertools.count(first_transaction_id)
        self._scripts = ScriptBook()
        self._printer = FramePrinter(printer) if printer is not None else None
        self._recorder = Recorder(
            self._printer.frame if self._printer else None, check_boot_sequence=check_boot_sequence
        )
        # Open sessions per station, oldest first; the last one is the one CSMS calls go to.
        self._sessions: dict[str, list[StationSession]] = {}
        self._server: Server | None = None
        self.port: int | None = None

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> DevCsms:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Bind and start accepting connections. Raises OSError (e.g. address in use).

        After `close()`, `start()` listens again on the same port, keeping the record, the scripts and the
        transaction id counter: a CSMS restart that kept its database, for reconnection tests."""
        self._server = await serve(
            self._serve_connection,
            self.host,
            self.port if self.port is not None else self.requested_port,
            subprotocols=[Subprotocol(name) for name in self.subprotocols],
            select_subprotocol=lambda _, offered: Subprotocol(first_spoken(offered, self.subprotocols)),
            process_request=self._check_handshake,
            ssl=self._ssl_context,
            ping_interval=self._ping_interval_s,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self, code: int = 1001, reason: str = "") -> None:
        """Stop listening, close every connection with `code` (default 1001 going away; 1012 = service
        restart), and wait until their sessions ended. Idempotent."""
        if self._server is not None:
            self._server.close(code=code, reason=reason)
            await self._server.wait_closed()
            self._server = None

    @property
    def url(self) -> str:
        """ws[s]://host:port/path; the charge point appends "/<identity>"."""
        scheme = "wss" if self._ssl_context is not None else "ws"
        return f"{scheme}://{self.host}:{self.port}{self.path}"

    # ------------------------------------------------------------------ handshake and sessions

    def _check_handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        station = station_identity(request.path, self.path)
        if self.refuse_connections:
            return self._refuse(connection, station, HTTPStatus.SERVICE_UNAVAILABLE, "refusing connections")
        if station is None:
            return self._refuse(connection, None, HTTPStatus.NOT_FOUND, f"no station identity in {request.path!r}")
        if self.basic_auth is not None:
            problem = basic_credentials_problem(request.headers, station, self.basic_auth)
            if problem is not None:
                response = self._refuse(connection, station, HTTPStatus.UNAUTHORIZED, problem)
                response.headers["WWW-Authenticate"] = 'Basic realm="devcsms", charset="UTF-8"'
                return response
        return None

    def _refuse(
        self, connection: ServerConnection, station: str | None, status: HTTPStatus, reason: str
    ) -> Response:
        self.refused.append(RefusedHandshake(station, time.monotonic(), int(status), reason))
        if self._printer:
            self._printer.event(station or "?", f"refused: {int(status)} {reason}")
        self._recorder.poke()
        return connection.respond(status, f"{reason}\n")

    async def _serve_connection(self, connection: ServerConnection) -> None:
        station = station_identity(connection.request.path, self.path)
        assert station is not None  # _check_handshake refused the others
        record = ConnectionRecord(
            station=station,
            opened_monotonic_s=time.monotonic(),
            remote_address=remote_address_text(connection.remote_address),
            subprotocol=connection.subprotocol,
        )
        session = StationSession(
            station,
            connection,
            recorder=self._recorder,
            scripts=self._scripts,
            policies=self,
            transaction_ids=self._transaction_ids,
            dialect=dialect_for(connection.subprotocol),
        )
        # The newest connection of a station wins; an older one keeps being recorded until it dies.
        self._sessions.setdefault(station, []).append(session)
        self.connections.append(record)
        if self._printer:
            self._printer.event(station, f"connected from {record.remote_address} ({record.subprotocol})")
        self._recorder.poke()
        try:
            await session.run()
        except Exception as error:  # a devcsms bug: surface it in the violations, keep serving others
            logger.exception("session of %s failed", station)
            self._recorder.add_violation(station, f"devcsms session failed: {error!r}")
        finally:
            self._sessions[station].remove(session)
            if not self._sessions[station]:
                del self._sessions[station]
            record.closed_monotonic_s = time.monotonic()
            record.close_code = connection.close_code
            record.close_reason = connection.close_reason
            if self._printer:
                reason = f" {record.close_reason}" if record.close_reason else ""
                self._printer.event(station, f"disconnected (code {record.close_code}{reason})")
            self._recorder.poke()

    def _session(self, station_id: str) -> StationSession:
        sessions = self._sessions.get(station_id)
        if not sessions:
            raise StationNotConnected(f"{station_id} is not connected")
        return sessions[-1]

    @property
    def connected_stations(self) -> set[str]:
        """Identities with an open websocket."""
        return set(self._sessions)

    async def wait_connected(self, station_id: str, timeout_s: float = 10.0) -> ConnectionRecord:
        """Return the open connection of `station_id`, waiting for it if needed. Raises WaitTimeout."""
        await self._recorder.wait_until(
            lambda: station_id in self._sessions, timeout_s=timeout_s, awaited=f"connection from {station_id}"
        )
        return self._open_record(station_id)

    async def wait_disconnected(self, station_id: str, timeout_s: float = 10.0) -> ConnectionRecord | None:
        """Wait until `station_id` has no open connection; return its last ConnectionRecord (with the
        close code), None if it never connected. Raises WaitTimeout."""
        await self._recorder.wait_until(
            lambda: station_id not in self._sessions,
            timeout_s=timeout_s,
            awaited=f"disconnection of {station_id}",
        )
        records = [r for r in self.connections if r.station == station_id]
        return records[-1] if records else None

    async def wait_connection_closed(self, record: ConnectionRecord, timeout_s: float = 10.0) -> ConnectionRecord:
        """Wait until the connection of `record` (from `connections` or `wait_connected`) has ended and
        its session is gone; return it with its close code. Raises WaitTimeout."""
        await self._recorder.wait_until(
            lambda: not record.is_open, timeout_s=timeout_s, awaited=f"end of {record.station}'s connection"
        )
        return record

    async def disconnect(self, station_id: str, code: int = 1000, reason: str = "", timeout_s: float = 10.0) -> None:
        """Close the station's websocket from the CSMS side and wait until its session ended.

        Raises StationNotConnected if it is not connected, WaitTimeout if it does not end in time."""
        session = self._session(station_id)
        async with asyncio.timeout(timeout_s):
            await session.connection.close(code, reason)
        await self._recorder.wait_until(
            lambda: session not in self._sessions.get(station_id, ()),
            timeout_s=timeout_s,
            awaited=f"end of {station_id}'s session",
        )

    def _open_record(self, station_id: str) -> ConnectionRecord:
        return next(r for r in reversed(self.connections) if r.station == station_id and r.is_open)

    # ------------------------------------------------------------------ scripting

    def script(
        self, action: str, responder: Responder, *, always: bool = False, station: str | None = None
    ) -> None:
        """Answer the next CALL of `action` (every one when `always`) with `responder`: Reply, CallError,
        NoAnswer, Delay or Disconnect (see `devcsms.scripting`). `station` limits it to one identity."""
        self._scripts.add(action, responder, always=always, station=station)

    def clear_scripts(self, action: str | None = None) -> None:
        """Back to the default answers (for `action` only, when given)."""
        self._scripts.clear(action)

    # ------------------------------------------------------------------ record and checks

    @property
    def violations(self) -> list[str]:
        """Readable problems found in frames the charge points sent; integration tests end with
        `assert csms.violations == []`."""
        return self._recorder.violations

    @property
    def frames(self) -> list[Frame]:
        """Every recorded frame, both directions, oldest first."""
        return self._recorder.frames

    def mark(self) -> int:
        """Position in the record: pass as `after=` to consider only frames recorded from now on."""
        return self._recorder.mark()

    def messages(
        self,
        action: str | None = None,
        station: str | None = None,
        *,
        direction: Direction | None = FROM_CP,
        message_type: int | None = None,
        after: int = 0,
    ) -> list[Frame]:
        """Recorded frames matching the filters (default: everything charge points sent)."""
        return self._recorder.select(
            action=action, station=station, direction=direction, message_type=message_type, after=after
        )

    async def wait_for(
        self,
        action: str,
        predicate: Callable[[Frame], bool] | None = None,
        *,
        timeout_s: float = 10.0,
        direction: Direction = FROM_CP,
        station: str | None = None,
        after: int = 0,
    ) -> Frame:
        """The first frame of `action` in `direction` with `seq >= after` satisfying `predicate(frame)`,
        already recorded or still to come. From a charge point that is normally its CALL; with
        `direction="to_cp"` the CSMS's answer or call. Raises WaitTimeout after `timeout_s`."""

        def matches(frame: Frame) -> bool:
            return (
                frame.action == action
                and frame.direction == direction
                and (station is None or frame.station == station)
                and (predicate is None or predicate(frame))
            )

        return await self._recorder.wait_for_frame(
            matches, after=after, timeout_s=timeout_s, awaited=f"{direction} {action} frame"
        )

    async def wait_frame(
        self,
        predicate: Callable[[Frame], bool] | None = None,
        *,
        timeout_s: float = 10.0,
        direction: Direction = FROM_CP,
        station: str | None = None,
        after: int = 0,
    ) -> Frame:
        """The first frame in `direction` with `seq >= after` (satisfying `predicate`), any action,
        malformed ones included: e.g. whatever the charge point answered to a `send_raw`."""

        def matches(frame: Frame) -> bool:
            return (
                frame.direction == direction
                and (station is None or frame.station == station)
                and (predicate is None or predicate(frame))
            )

        return await self._recorder.wait_for_frame(
            matches, after=after, timeout_s=timeout_s, awaited=f"{direction} frame"
        )

    @property
    def transactions(self) -> dict[int | str, TransactionView | TransactionEventsView]:
        """transactionId → view, rebuilt from the record: for 1.6 stations the integer id the CSMS handed
        out → TransactionView (start, stops, meter values); for 2.0.1 and 2.1 stations the station's string id →
        TransactionEventsView (its TransactionEvents)."""
        return build_transactions(self._recorder.frames)

    @property
    def settlements(self) -> list[SettlementView]:
        """The NotifySettlements of 2.1 stations that the CSMS answered with a CALLRESULT, in answer
        order, rebuilt from the record (`devcsms.settlements`); refused ones are not listed."""
        return build_settlements(self._recorder.frames)

    # ------------------------------------------------------------------ CSMS-initiated traffic

    async def call(
        self,
        station_id: str,
        request: Any,
        timeout_s: float = 30.0,
        *,
        validate: bool = True,
    ) -> dict:
        """Send a CSMS-initiated CALL and return the charge point's CALLRESULT payload (camelCase dict).

        `request` is an `ocpp.v16.call.*` dataclass (e.g. `call.Reset(type="Soft")`) for a 1.6 station,
        an `ocpp.v201.call.*` one for a 2.0.1 station, `ocpp.v21.call.*` for 2.1 (ValueError for another
        version's), or a tuple
        `(action, camelCase payload dict)`. With `validate` the request must satisfy the schema of the
        station's version (ValueError otherwise, nothing sent); the reply is checked like every
        charge-point frame.
        Raises CallErrorReceived (`.code`) on a CALLERROR, TimeoutError after `timeout_s`,
        StationNotConnected if the station is not (or no longer) connected.
        """
        session = self._session(station_id)
        package = type(request).__module__.rpartition(".")[0]
        if package.startswith("ocpp.v") and package != session.dialect.calls_package:
            raise ValueError(f"{station_id} speaks {session.dialect.subprotocol}: use {session.dialect.calls_package}.call")
        action, payload = request_action_and_payload(request)
        return await session.call_action(action, payload, timeout_s=timeout_s, validate=validate)

    async def send_raw(self, station_id: str, text: str) -> Frame:
        """Send `text` unchecked as one websocket text frame; return its recorded Frame (whose
        `unique_id` is set when the text parses far enough). Raises StationNotConnected."""
        mark = self._recorder.mark()
        await self._session(station_id).send_raw(text)
        return next(f for f in self._recorder.frames[mark:] if f.direction == TO_CP and f.raw == text)

    async def wait_raw_reply(
        self, unique_id: str, timeout_s: float = 10.0, *, station: str | None = None, after: int = 0
    ) -> Frame:
        """The CALLRESULT or CALLERROR a charge point sent with `unique_id` (e.g. after `send_raw`)."""

        def matches(frame: Frame) -> bool:
            return (
                frame.direction == FROM_CP
                and frame.message_type in (CALLRESULT, CALLERROR)
                and frame.unique_id == unique_id
                and (station is None or frame.station == station)
            )

        return await self._recorder.wait_for_frame(
            matches, after=after, timeout_s=timeout_s, awaited=f"reply to unique id {unique_id!r}"
        )
