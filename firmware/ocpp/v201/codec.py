"""OCPP-J 2.0.1 framing as a ``FrameCodec`` (``firmware.ocpp.adapter``) over ``rpc``,
``frames`` and ``schemas`` of this package: the session's only link to 2.0.1 frames.

``read`` never raises ([J201] §4.1.7 "Invalid message ⇒ CALLERROR", rules §0):

- a CALL of an action we answer, whose payload passes ``<Action>Request.json``:
  ``Received("call")`` with a ``CheckedCall`` (a ``frames.CallFrame``; integral floats of
  integer fields already ints), ready for ``inbound.V201InboundDispatcher``;
- a CALLRESULT: ``Received("result")``; its schema depends on our CALL, so the session
  checks it with ``response_problem``;
- a CALLERROR: ``Received("error")`` with the peer's code and description;
- a CALLRESULT or CALLERROR that is broken but whose MessageId is readable (a number
  that fits no type, three elements in a CALLERROR): ``Received("error")`` too, so the
  pending CALL fails at once instead of timing out; never answered (a CALLERROR answers
  a CALL only);
- anything else: ``Received("bad")`` with ``reply`` = the one 2.0.1 CALLERROR to send:
  RpcFrameworkError (not JSON, not an array, MessageId unreadable — then MessageId
  "-1", [J201] §4.2.3), MessageTypeNotSupported (MessageTypeId not 2/3/4, [J201] §4.4),
  NotImplemented (not a 2.0.1 action), NotSupported (a 2.0.1 action we do not answer),
  FormatViolation / TypeConstraintViolation / OccurrenceConstraintViolation /
  PropertyConstraintViolation from the payload (``schemas``); ``reply`` None for a
  broken response without a readable MessageId.

``encode_call`` / ``encode_result`` check our payload against the 2.0.1 schema (strict
date-time) and raise ``InvalidOutgoingMessage`` (an ``OcppError``: a bug of ours, never
sent). ``encode_error`` takes a 2.0.1 ``CallError`` or a 1.6-spelled ``CallErrorReply``
from shared code (``firmware.auth.validate``), renamed by ``errors.from_v16``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from firmware.ocpp.adapter import Received
from firmware.ocpp.frames import CallErrorReply
from firmware.ocpp.v201 import frames, rpc
from firmware.ocpp.v201.actions import CSMS_TO_CS
from firmware.ocpp.v201.errors import InvalidOutgoingMessage, from_v16
from firmware.ocpp.v201.version import V201, Ocpp2Version


@dataclass(frozen=True)
class CheckedCall(frames.CallFrame):
    """A CALL ``rpc.read`` checked: a supported action, its payload valid against
    ``<Action>Request.json``, integral floats of integer fields already ints. The
    dispatcher does not validate it again (a 10,000-entry SendLocalList costs ~0.7 s of
    jsonschema on the event loop each time)."""


# CALLs whose payload the dispatcher checks in a worker thread instead (big lists).
CHECKED_OFF_LOOP = frozenset({"SendLocalList"})


class V201Codec:
    """``supported``: the CSMS→station actions answered (others: NotSupported). A
    ``CHECKED_OFF_LOOP`` CALL comes out as a plain ``CallFrame``: not checked yet.
    ``version``: 2.0.1 or 2.1 (``version.V21``: the same framing, the 2.1 schemas)."""

    def __init__(self, supported: frozenset[str] = CSMS_TO_CS,
                 version: Ocpp2Version = V201) -> None:
        self._supported = supported
        self._package = version.schema_package

    def read(self, text: str | bytes) -> Received:
        frame = rpc.read(text, self._supported, CHECKED_OFF_LOOP, self._package)
        if isinstance(frame, frames.CallFrame) and frame.action in CHECKED_OFF_LOOP:
            return Received("call", frame.message_id, frame.action, call=frame)
        if isinstance(frame, frames.CallFrame):
            return Received("call", frame.message_id, frame.action,
                            call=CheckedCall(frame.message_id, frame.action, frame.payload))
        if isinstance(frame, frames.ResultFrame):
            return Received("result", frame.message_id, payload=frame.payload)
        if isinstance(frame, frames.ErrorFrame):
            return Received("error", frame.message_id, code=frame.code,
                            description=frame.description)
        error = frame.error
        if frame.never_answered:  # 2.1 CALLRESULTERROR / SEND: nothing pending, no reply
            return Received("bad", frame.message_id, reply=None,
                            why=f"{error.code}: {error.description}")
        if not frame.answered and frame.message_id is not None:
            # A broken answer to one of our CALLs: fail that CALL now.
            return Received("error", frame.message_id, code=error.code,
                            description=f"invalid response: {error.description}")
        return Received("bad", frame.message_id, reply=frame.reply(),
                        why=f"{error.code}: {error.description}")

    def encode_call(self, message_id: str, action: str, payload: dict[str, Any]) -> str:
        return frames.encode_call(message_id, action, payload, self._package)

    def encode_result(self, message_id: str, action: str, payload: dict[str, Any]) -> str:
        return frames.encode_result(message_id, action, payload, self._package)

    def encode_error(self, message_id: str, error: Any) -> str:
        if not isinstance(error, CallErrorReply):
            raise InvalidOutgoingMessage(
                f"a CALLERROR needs a CallErrorReply, not {type(error).__name__}")
        return frames.encode_error(message_id, from_v16(error))

    def response_problem(self, action: str, payload: dict[str, Any]
                         ) -> tuple[dict[str, Any], tuple[str, str] | None]:
        """The CALLRESULT payload to our CALL of ``action`` with integral floats of
        integer fields as ints, or (the payload as received, (code, why)) when its
        ``<Action>Response.json`` refuses it."""
        checked = rpc.check_result(action, frames.ResultFrame("-", payload), self._package)
        if isinstance(checked, frames.ResultFrame):
            return checked.payload, None
        return payload, (checked.code, checked.description)
