"""The inbound checks of OCPP-J 2.0.1 in one call, for the link: read a message, and
check the answer to a CALL of ours. Sans-I/O, never raises.

``read`` = ``frames.parse``, then for a CALL: an action we do not support is
NotSupported ("Requested Action is recognized but not supported by the receiver",
[J201] §4.3; a 2.0.1 action nobody knows is NotImplemented, from ``parse``), and its
payload must pass ``<Action>Request.json``. So a ``CallFrame`` out of ``read`` is ready
for its handler, and every ``BadFrame`` carries the one CALLERROR to send (or none, for a
broken response). What ``read`` does not know: the boot state (after a Rejected boot the
station answers CSMS requests with SecurityError, rules §1, B03.FR.08) and the CALL we
are waiting for (``check_result``).
"""

from __future__ import annotations

import uuid

from firmware.ocpp.v201.actions import CSMS_TO_CS
from firmware.ocpp.v201.errors import CallError
from firmware.ocpp.v201.frames import BadFrame, CallFrame, Frame, ResultFrame, parse
from firmware.ocpp.v201.schemas import payload_problem


def read(text: str | bytes, supported: frozenset[str] = CSMS_TO_CS) -> Frame:
    """One websocket message as a usable frame or a BadFrame; ``supported`` are the
    actions the station answers (default: ``actions.CSMS_TO_CS``)."""
    frame = parse(text)
    if not isinstance(frame, CallFrame):
        return frame
    if frame.action not in supported:
        return BadFrame(CallError("NotSupported", f"{frame.action} is not supported"),
                        frame.message_id, 2)
    problem = payload_problem(frame.action, "Request", frame.payload)
    if problem is not None:
        return BadFrame(problem, frame.message_id, 2)
    return frame


def check_result(action: str, frame: ResultFrame) -> CallError | None:
    """Why the CALLRESULT to our CALL of ``action`` cannot be used (its
    ``<Action>Response.json`` refuses it), or None. Never answered on the wire: the
    caller fails its CALL with it, as with a CALLERROR."""
    return payload_problem(action, "Response", frame.payload)


def new_message_id() -> str:
    """A MessageId of ours: 36 characters, unique per sender across connections and
    reboots without any stored counter ([J201] §4.1.1, rules §0)."""
    return str(uuid.uuid4())
