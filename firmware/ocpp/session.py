"""One open websocket to the CSMS: receiving frames, answering CALLs, making CALLs.

The session never decides anything: inbound CALLs go to the ``InboundHandler`` (which
returns the response payload or raises ``CallErrorReply``), our CALLs are awaited
here and their outcome returned to the link's sender. Frames are logged at DEBUG as
``> [2,"id","Heartbeat",{}]`` / ``< ...`` with secrets redacted.

Failure modes: a frame that cannot be parsed gets a CALLERROR when a UniqueId can be
recovered, otherwise it is logged and dropped — the connection stays up. An exception
from the handler other than ``CallErrorReply`` is a bug: it is not answered, it ends the
session's TaskGroup (and the agent: the crash policy of ``firmware.errors``). A CALLRESULT
for an unknown UniqueId is logged and dropped. ``CallTimedOut`` / ``CallErrorReceived``
/ ``LinkClosed`` are the outcomes of our own CALLs besides a result payload.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import uuid
from typing import Any, Awaitable, Callable, Protocol

from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from firmware.errors import OcppError

from . import frames
from .adapter import FrameCodec, Received

log = logging.getLogger(__name__)
frame_log = logging.getLogger("firmware.ocpp.frames")

_SECRET_PATTERN = re.compile(r'("key"\s*:\s*"AuthorizationKey"\s*,\s*"value"\s*:\s*)"[^"]*"',
                             re.IGNORECASE)


def redact(text: str) -> str:
    """Frames as logged: the AuthorizationKey's value never reaches a log."""
    if "uthorizationkey" not in text.lower():
        return text
    return _SECRET_PATTERN.sub(r'\1"***"', text)


class CallTimedOut(OcppError):
    """No answer to our CALL in time."""


class CallErrorReceived(OcppError):
    def __init__(self, code: str, description: str):
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description


class LinkClosed(OcppError):
    """The connection is gone (or was never there) for this CALL."""


class InboundHandler(Protocol):
    async def __call__(self, frame: Any) -> tuple[dict[str, Any],
                                                  Callable[[], Awaitable[None]] | None]:
        """Answer the codec's CALL frame: (response payload, continuation run after the
        reply is sent), or raise ``frames.CallErrorReply``."""


class Session:
    """A connected websocket (``websockets`` ClientConnection) speaking OCPP-J in the
    version of ``codec``."""

    def __init__(self, connection: Any, handler: InboundHandler, codec: FrameCodec,
                 answer_calls: Callable[[], bool] = lambda: True,
                 on_invalid: Callable[[str], None] | None = None):
        # ``on_invalid(why)``: a malformed frame arrived (InvalidMessages security event,
        # coalesced by ``firmware.ocpp.invalid_messages``).
        self._on_invalid = on_invalid
        self._connection = connection
        self._codec = codec
        self._handler = handler
        self._answer_calls = answer_calls
        self._pending: dict[str, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self._prefix = uuid.uuid4().hex[:8]
        self.closed = asyncio.Event()

    # ------------------------------------------------------------------ our CALLs
    async def call(self, action: str, payload: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """Send one CALL and wait for its CALLRESULT payload.

        Raises ``CallErrorReceived``, ``CallTimedOut``, or ``LinkClosed``. The response is
        validated against the 1.6 schema; an invalid one counts as a CALLERROR
        (FormationViolation etc.), since a CSMS reply we cannot trust is a failure.
        """
        if self.closed.is_set():
            raise LinkClosed("not connected")
        unique_id = f"{self._prefix}-{next(self._ids)}"
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending[unique_id] = future
        try:
            await self._send(self._codec.encode_call(unique_id, action, payload))
            try:
                async with asyncio.timeout(timeout_s):
                    kind, body = await future
            except TimeoutError:
                raise CallTimedOut(f"no answer to {action} within {timeout_s:g} s") from None
        finally:
            self._pending.pop(unique_id, None)
        if kind == "closed":
            raise LinkClosed("connection closed while waiting for the answer")
        if kind == "error":
            raise CallErrorReceived(body.code, body.description)
        body, problem = self._codec.response_problem(action, body)
        if problem is not None:
            raise CallErrorReceived(problem[0], f"invalid {action} response: {problem[1]}")
        return body

    async def _send(self, text: str) -> None:
        if frame_log.isEnabledFor(logging.DEBUG):  # redact() reads the whole frame
            frame_log.debug("> %s", redact(text))
        try:
            await self._connection.send(text)
        except ConnectionClosed as e:
            self._mark_closed()
            raise LinkClosed(str(e)) from e

    # ------------------------------------------------------------------ receiving
    async def receive_loop(self, tasks: asyncio.TaskGroup) -> None:
        """Read frames until the connection closes. Inbound CALLs run in ``tasks``."""
        try:
            async for text in self._connection:
                if frame_log.isEnabledFor(logging.DEBUG):
                    frame_log.debug("< %s", redact(text if isinstance(text, str) else repr(text)))
                received = self._codec.read(text)
                if received.kind == "call":
                    if not self._answer_calls():
                        log.info("boot rejected: not answering %s", received.action)
                        continue
                    tasks.create_task(self._answer(received))
                elif received.kind in ("result", "error"):
                    self._resolve(received)
                else:
                    await self._reject_bad_frame(received)
        except ConnectionClosed:
            pass
        finally:
            self._mark_closed()

    def _resolve(self, received: Received) -> None:
        future = self._pending.get(received.message_id or "")
        if future is None or future.done():
            log.warning("response for unknown or expired call %s dropped", received.message_id)
            return
        if received.kind == "result":
            future.set_result(("result", received.payload))
        else:
            future.set_result(("error", received))

    async def _reject_bad_frame(self, received: Received) -> None:
        log.warning("bad frame from CSMS: %s", received.why)
        if self._on_invalid is not None:
            self._on_invalid(str(received.why))
        if received.reply is not None and self._answer_calls():
            await self._send_quietly(received.reply)

    async def _answer(self, received: Received) -> None:
        continuation = None
        message_id = received.message_id or ""
        try:
            payload, continuation = await self._handler(received.call)
            text = self._codec.encode_result(message_id, received.action, payload)
        except frames.CallErrorReply as error:
            log.info("answering %s with CALLERROR %s", received.action, error)
            text = self._codec.encode_error(message_id, error)
        except Exception as error:
            # A bug, not an invalid CALL: no InternalError to carry on with; it ends the
            # agent (firmware.errors, crash policy) and this says what it was answering.
            error.add_note(f"while answering CALL {received.action} {message_id!r}")
            raise
        await self._send_quietly(text)
        if continuation is not None:
            await continuation()

    async def _send_quietly(self, text: str) -> None:
        try:
            await self._send(text)
        except LinkClosed:
            log.info("connection closed before the reply could be sent")

    def _mark_closed(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for future in self._pending.values():
            if not future.done():
                future.set_result(("closed", None))

    async def close(self, code: int = 1000, reason: str = "") -> None:
        try:
            await self._connection.close(code, reason)
        finally:
            self._mark_closed()


CLOSE_TIMEOUT_S = 2.0


async def ensure_closed(connection: Any, code: int = 1011, reason: str = "session ended") -> None:
    """Close a session's socket unless it is closed already; abort it when the close
    handshake does not finish in ``CLOSE_TIMEOUT_S`` (or is interrupted). A socket never
    outlives its session, however the session ended."""
    try:
        if connection.state is not State.CLOSED:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await connection.close(code, reason)
    except (TimeoutError, OSError, ConnectionClosed):
        pass
    finally:
        if connection.state is not State.CLOSED and connection.transport is not None:
            connection.transport.abort()
