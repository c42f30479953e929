"""One charge point's websocket session: the `ocpp` library's ChargePoint with recording and scripting.

Frame flow (all on one event loop, every task owned by `StationSession.run`'s TaskGroup):

    websocket.recv() ─► record (checks) ─┬─ CALL ───────────► queue ─► answerer task: script or @on handler
                                         └─ CALLRESULT/ERROR ─► the pending `call_action` future
    every outbound frame ─► `_send` ─► record ─► websocket.send()

CP requests are answered one at a time, in arrival order, by the answerer task, so a scripted Delay holds
back later requests (as a slow CSMS would) while replies to CSMS calls keep flowing through the receiver.
The library's own `start()` loop and response queue are not used.
"""

from __future__ import annotations

import asyncio
import dataclasses
import decimal
import itertools
import json
import logging
import uuid
from typing import Any, Protocol

from ocpp.charge_point import remove_nones, serialize_as_dict, snake_to_camel_case
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from devcsms.errors import DevCsmsError
from devcsms.policy import AuthorizationPolicy, BootPolicy, rfc3339_utc
from devcsms.recording import FROM_CP, TO_CP, Frame, Recorder
from devcsms.scripting import CallError, Delay, Disconnect, NoAnswer, Reply, Responder, ScriptBook
from devcsms.validation import CALL, CALLERROR, CALLRESULT, payload_problems

LIBRARY_LOGGER = logging.getLogger("devcsms.library")


class CallErrorReceived(DevCsmsError):
    """The charge point answered a CSMS call with a CALLERROR; `code` is its ErrorCode."""

    def __init__(self, action: str, code: str | None, description: str | None, details: Any) -> None:
        super().__init__(f"{action}: CALLERROR {code}: {description} {details or ''}".rstrip())
        self.action = action
        self.code = code
        self.description = description
        self.details = details


class StationNotConnected(DevCsmsError):
    """No open websocket for that station (never connected, or it disconnected while a call was pending)."""


class Policies(Protocol):
    """Where a session reads the current answers (DevCsms itself): attributes tests may even replace."""

    boot: BootPolicy
    authorization: AuthorizationPolicy


class StationSession(ChargePoint):
    """The CSMS side of one websocket connection of station `id`.

    Obligations: `run()` must be awaited by exactly one owner (the connection handler); it returns when the
    websocket closes. Policies, scripts and the transaction id counter are shared with DevCsms and read at
    the moment each request arrives.
    """

    def __init__(
        self,
        station_id: str,
        connection: ServerConnection,
        *,
        recorder: Recorder,
        scripts: ScriptBook,
        policies: Policies,
        transaction_ids: itertools.count,
    ) -> None:
        super().__init__(station_id, connection, logger=LIBRARY_LOGGER)
        self.connection = connection
        self._recorder = recorder
        self._scripts = scripts
        self._policies = policies
        self._transaction_ids = transaction_ids
        self._requests: asyncio.Queue[tuple[Frame, str]] = asyncio.Queue()
        self._pending_replies: dict[str, asyncio.Future[Frame]] = {}
        self._csms_call_lock = asyncio.Lock()
        self._default_answer_for: Frame | None = None
        self._closed = False

    # ------------------------------------------------------------------ session lifecycle

    async def run(self) -> None:
        """Receive and answer until the websocket closes; then fail pending CSMS calls."""
        try:
            async with asyncio.TaskGroup() as tasks:
                answerer = tasks.create_task(self._answer_requests(), name=f"devcsms-answer-{self.id}")
                await self._receive()
                answerer.cancel()
        finally:
            self._closed = True
            for future in self._pending_replies.values():
                if not future.done():
                    future.set_exception(StationNotConnected(f"{self.id} disconnected before answering"))

    async def _receive(self) -> None:
        while True:
            try:
                raw = await self.connection.recv()
            except ConnectionClosed:
                return
            frame = self._recorder.record(FROM_CP, self.id, raw)
            if frame.message_type == CALL:
                self._requests.put_nowait((frame, frame.raw))
            elif frame.message_type in (CALLRESULT, CALLERROR) and frame.unique_id is not None:
                future = self._pending_replies.get(frame.unique_id)
                if future is not None and not future.done():
                    future.set_result(frame)

    async def _answer_requests(self) -> None:
        try:
            while True:
                request, raw = await self._requests.get()
                responder = self._scripts.take(request.action, self.id) if request.action else None
                try:
                    await self._answer(request, raw, responder)
                except ConnectionClosed:
                    raise
                except Exception as error:  # a devcsms bug must fail the test, not kill the session
                    LIBRARY_LOGGER.exception("answering %s failed", request.action)
                    self._recorder.add_violation(
                        self.id, f"devcsms failed to answer {request.action} [{request.unique_id}]: {error!r}"
                    )
        except ConnectionClosed:
            return  # the receiver sees the close too and ends the session

    async def _answer(self, request: Frame, raw: str, responder: Responder | None) -> None:
        if responder is None:
            await self._answer_by_default(request, raw)
        elif isinstance(responder, Delay):
            await asyncio.sleep(responder.delay_s)
            await self._answer(request, raw, responder.then)
        elif isinstance(responder, NoAnswer):
            return
        elif isinstance(responder, Reply):
            await self._send(_compact_json([CALLRESULT, request.unique_id, responder.payload_dict()]))
        elif isinstance(responder, CallError):
            error = [CALLERROR, request.unique_id, responder.code, responder.description, responder.details or {}]
            await self._send(_compact_json(error))
        elif isinstance(responder, Disconnect):
            await self.connection.close(responder.code, responder.reason)

    async def _answer_by_default(self, request: Frame, raw: str) -> None:
        """Let the library route the CALL to an @on handler (it validates, answers or sends a CALLERROR)."""
        self._default_answer_for = request
        try:
            await self.route_message(raw)
        finally:
            self._default_answer_for = None

    async def _send(self, message: str) -> None:
        """Every outbound frame passes here (library replies, scripted replies, CSMS calls, raw frames)."""
        frame = self._recorder.record(TO_CP, self.id, message)
        request = self._default_answer_for
        if (
            request is not None
            and frame.message_type == CALLERROR
            and frame.unique_id == request.unique_id
            and not request.violations
        ):
            # The library refused a CALL our own checks found valid (e.g. no handler, or our reply failed
            # its validation): tests must see it, the library only logs it.
            self._recorder.add_violation(
                self.id,
                f"the CSMS answered {request.action} [{request.unique_id}] with CALLERROR "
                f"{frame.error_code}: {frame.error_description} {frame.payload or ''}".rstrip(),
            )
        await self.connection.send(message)

    # ------------------------------------------------------------------ CSMS-initiated traffic

    async def call_action(self, action: str, payload: dict, *, timeout_s: float, validate: bool) -> dict:
        """Send a CALL and return the CALLRESULT payload.

        One CSMS call is outstanding per station at a time (OCPP-J §4.1.1): concurrent callers queue, and
        `timeout_s` covers the queueing too. Raises ValueError when `validate` and the payload breaks the
        1.6 schema (nothing is sent), CallErrorReceived on a CALLERROR, TimeoutError when no answer comes,
        StationNotConnected when the websocket closes first.
        """
        if validate:
            problems = await asyncio.to_thread(_request_problems, action, payload)
            if problems:
                raise ValueError(f"{action} payload breaks the OCPP 1.6 schema: {'; '.join(problems)}")
        async with asyncio.timeout(timeout_s):
            async with self._csms_call_lock:
                if self._closed:
                    raise StationNotConnected(f"{self.id} is not connected")
                unique_id = str(uuid.uuid4())
                reply: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
                self._pending_replies[unique_id] = reply
                try:
                    await self._send(_compact_json([CALL, unique_id, action, payload]))
                    answer = await reply
                except ConnectionClosed as error:
                    raise StationNotConnected(f"{self.id} disconnected: {error}") from error
                finally:
                    del self._pending_replies[unique_id]
        if answer.message_type == CALLERROR:
            raise CallErrorReceived(action, answer.error_code, answer.error_description, answer.payload)
        return answer.payload

    async def send_raw(self, text: str) -> None:
        """Send `text` as one websocket text frame, unchecked (it is recorded like any frame)."""
        try:
            await self._send(text)
        except ConnectionClosed as error:
            raise StationNotConnected(f"{self.id} disconnected: {error}") from error

    # ------------------------------------------------------------------ default answers (@on handlers)

    @on(Action.boot_notification)
    def _on_boot_notification(self, charge_point_vendor: str, charge_point_model: str, **_: Any):
        return call_result.BootNotification(
            current_time=rfc3339_utc(), interval=self._policies.boot.interval_s, status=self._policies.boot.status
        )

    @on(Action.heartbeat)
    def _on_heartbeat(self, **_: Any):
        return call_result.Heartbeat(current_time=rfc3339_utc())

    @on(Action.authorize)
    def _on_authorize(self, id_tag: str, **_: Any):
        return call_result.Authorize(id_tag_info=self._policies.authorization.id_tag_info(id_tag))

    @on(Action.start_transaction)
    def _on_start_transaction(self, id_tag: str, **_: Any):
        # A transaction id is assigned whatever the authorization: the charge point decides what to do.
        return call_result.StartTransaction(
            transaction_id=next(self._transaction_ids), id_tag_info=self._policies.authorization.id_tag_info(id_tag)
        )

    @on(Action.stop_transaction)
    def _on_stop_transaction(self, id_tag: str | None = None, **_: Any):
        info = self._policies.authorization.id_tag_info(id_tag) if id_tag is not None else None
        return call_result.StopTransaction(id_tag_info=info)

    @on(Action.status_notification)
    def _on_status_notification(self, **_: Any):
        return call_result.StatusNotification()

    @on(Action.meter_values)
    def _on_meter_values(self, **_: Any):
        return call_result.MeterValues()

    @on(Action.data_transfer)
    def _on_data_transfer(self, **_: Any):
        return call_result.DataTransfer(status="UnknownVendorId")

    @on(Action.diagnostics_status_notification)
    def _on_diagnostics_status_notification(self, **_: Any):
        return call_result.DiagnosticsStatusNotification()

    @on(Action.firmware_status_notification)
    def _on_firmware_status_notification(self, **_: Any):
        return call_result.FirmwareStatusNotification()

    @on(Action.security_event_notification)
    def _on_security_event_notification(self, **_: Any):
        return call_result.SecurityEventNotification()

    @on(Action.signed_firmware_status_notification)
    def _on_signed_firmware_status_notification(self, **_: Any):
        return call_result.SignedFirmwareStatusNotification()

    @on(Action.log_status_notification)
    def _on_log_status_notification(self, **_: Any):
        return call_result.LogStatusNotification()

    @on(Action.sign_certificate)
    def _on_sign_certificate(self, **_: Any):
        return call_result.SignCertificate(status="Rejected")  # the dev CSMS has no certificate authority


def _request_problems(action: str, payload: dict) -> list[str]:
    payload_for_schema = json.loads(json.dumps(payload), parse_float=decimal.Decimal)
    return payload_problems(CALL, action, payload_for_schema)


def _compact_json(message: list) -> str:
    return json.dumps(message, separators=(",", ":"))


def request_action_and_payload(request: Any) -> tuple[str, dict]:
    """(action, camelCase payload) from an `ocpp.v16.call.*` dataclass or an `(action, dict)` tuple."""
    if dataclasses.is_dataclass(request) and not isinstance(request, type):
        payload = snake_to_camel_case(remove_nones(serialize_as_dict(request)))
        return type(request).__name__, payload
    if isinstance(request, tuple) and len(request) == 2 and isinstance(request[0], str):
        return request[0], request[1]
    raise TypeError(f"expected an ocpp.v16.call dataclass or (action, payload), got {request!r}")
