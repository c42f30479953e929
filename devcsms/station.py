"""One charge point's websocket session: recording, scripting and the version's default answers.

Frame flow (all on one event loop, every task owned by `StationSession.run`'s TaskGroup):

    websocket.recv() ─► record (checks) ─┬─ CALL ───────────► queue ─► answerer task: script, refusal
                                         │                                  or the router's @on handler
                                         └─ CALLRESULT/ERROR ─► the pending `call_action` future
    every outbound frame ─► `_send` ─► record ─► websocket.send()

CP requests are answered one at a time, in arrival order, by the answerer task, so a scripted Delay holds
back later requests (as a slow CSMS would) while replies to CSMS calls keep flowing through the receiver.
The router is the `ocpp` library's ChargePoint of the negotiated version (`devcsms.dialects`); its own
`start()` loop and response queue are not used. For 2.0.1 the session decides the CALLERROR of an invalid
frame itself (`devcsms.v201.refusal`), malformed frames included, before the library sees it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import decimal
import itertools
import json
import logging
import uuid
from typing import Any

from ocpp.charge_point import remove_nones, serialize_as_dict, snake_to_camel_case
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from devcsms.dialects import OCPP16_DIALECT, Dialect
from devcsms.errors import DevCsmsError
from devcsms.recording import FROM_CP, TO_CP, Frame, Recorder
from devcsms.routing import Policies, Router
from devcsms.scripting import CallError, Delay, Disconnect, NoAnswer, Reply, Responder, ScriptBook
from devcsms.v201 import Refusal
from devcsms.validation import CALL, CALLERROR, CALLRESULT, OcppVersion, payload_problems

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


__all__ = ["CallErrorReceived", "Policies", "StationNotConnected", "StationSession", "request_action_and_payload"]


class StationSession:
    """The CSMS side of one websocket connection of station `id`, speaking `dialect` (default 1.6).

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
        dialect: Dialect = OCPP16_DIALECT,
    ) -> None:
        self.id = station_id
        self.connection = connection
        self.dialect = dialect
        self._recorder = recorder
        self._scripts = scripts
        self._router: Router = dialect.handlers(
            station_id, self, policies=policies, transaction_ids=transaction_ids, logger=LIBRARY_LOGGER
        )
        self._registration: str | None = None  # the status of the last BootNotification answer sent
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
            frame = self._recorder.record(FROM_CP, self.id, raw, self.version)
            if frame.message_type == CALL or (frame.message_type is None and self.dialect.refusal is not None):
                self._requests.put_nowait((frame, frame.raw))
            elif frame.message_type in (CALLRESULT, CALLERROR) and frame.unique_id is not None:
                future = self._pending_replies.get(frame.unique_id)
                if future is not None and not future.done():
                    future.set_result(frame)

    async def _answer_requests(self) -> None:
        try:
            while True:
                request, raw = await self._requests.get()
                action = request.action if request.message_type == CALL else None
                responder = self._scripts.take(action, self.id) if action else None
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
        """Refuse the frame when the dialect says so; otherwise let the library route the CALL to an @on
        handler (it validates, answers or sends a CALLERROR)."""
        refusal = self._refusal(request, raw)
        if refusal is not None:
            await self._send(_compact_json(refusal.frame()))
            return
        if request.message_type != CALL:
            return  # defensive: a frame the dialect neither refuses nor may answer (2.1: SEND, CALLRESULTERROR)
        self._default_answer_for = request
        try:
            await self._router.route_message(raw)
        finally:
            self._default_answer_for = None

    def _refusal(self, request: Frame, raw: str) -> Refusal | None:
        if self.dialect.refusal is None:
            return None
        refusal = self.dialect.refusal(raw, self._router.route_map)
        if (
            refusal is None
            and self.dialect.refuses_while_rejected
            and self._registration == "Rejected"
            and request.action != "BootNotification"
            and request.unique_id is not None
        ):
            refusal = Refusal(request.unique_id, "SecurityError", "the BootNotification was Rejected (B03.FR.04)")
        return refusal

    @property
    def version(self) -> OcppVersion:
        return self.dialect.version

    async def send(self, message: str) -> None:
        """FrameSender for the router: record `message`, then send it."""
        await self._send(message)

    async def _send(self, message: str) -> None:
        """Every outbound frame passes here (library replies, scripted replies, CSMS calls, raw frames)."""
        frame = self._recorder.record(TO_CP, self.id, message, self.version)
        if frame.message_type == CALLRESULT and frame.action == "BootNotification" and isinstance(frame.payload, dict):
            self._registration = frame.payload.get("status")
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
        schema of the station's version (nothing is sent), CallErrorReceived on a CALLERROR, TimeoutError
        when no answer comes, StationNotConnected when the websocket closes first.
        """
        if validate:
            problems = await asyncio.to_thread(_request_problems, action, payload, self.version)
            if problems:
                raise ValueError(
                    f"{action} payload breaks the OCPP {self.version.label} schema: {'; '.join(problems)}"
                )
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


def _request_problems(action: str, payload: dict, version: OcppVersion) -> list[str]:
    payload_for_schema = json.loads(json.dumps(payload), parse_float=decimal.Decimal)
    return payload_problems(CALL, action, payload_for_schema, version)


def _compact_json(message: list) -> str:
    return json.dumps(message, separators=(",", ":"))


def request_action_and_payload(request: Any) -> tuple[str, dict]:
    """(action, camelCase payload) from an `ocpp.v16.call.*` / `ocpp.v201.call.*` dataclass or an
    `(action, dict)` tuple."""
    if dataclasses.is_dataclass(request) and not isinstance(request, type):
        payload = snake_to_camel_case(remove_nones(serialize_as_dict(request)))
        return type(request).__name__, payload
    if isinstance(request, tuple) and len(request) == 2 and isinstance(request[0], str):
        return request[0], request[1]
    raise TypeError(f"expected an ocpp.v16/v201 call dataclass or (action, payload), got {request!r}")
