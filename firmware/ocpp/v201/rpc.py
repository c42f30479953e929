"""The inbound checks of OCPP-J 2.0.1 in one call, for the link: read a message, and
check the answer to a CALL of ours. Sans-I/O, never raises.

``read`` = ``frames.parse``, then for a CALL: an action we do not support is
NotSupported ("Requested Action is recognized but not supported by the receiver",
[J201] §4.3; a 2.0.1 action nobody knows is NotImplemented, from ``parse``), and its
payload must pass ``<Action>Request.json``; an integral float in an integer field
(draft 6 allows ``1.0``) becomes an int. So a ``CallFrame`` out of ``read`` is ready
for its handler, and every ``BadFrame`` carries the one CALLERROR to send (or none, for a
broken response). What ``read`` does not know: the boot state (after a Rejected boot the
station answers CSMS requests with SecurityError, rules §1, B03.FR.08) and the CALL we
are waiting for (``check_result``).
"""

from __future__ import annotations

import re
import uuid

from firmware.ocpp.v201.actions import CSMS_TO_CS
from firmware.ocpp.v201.errors import CallError
from firmware.ocpp.v201.frames import BadFrame, CallFrame, Frame, ResultFrame, parse
from firmware.ocpp.v201.schemas import DEFAULT_PACKAGE, payload_problem, with_integers

# A float in JSON has a digit before its "." or exponent; without one, no float to convert.
_FLOATISH = re.compile(r"[0-9][.eE]")


def read(text: str | bytes, supported: frozenset[str] = CSMS_TO_CS,
         deferred: frozenset[str] = frozenset(), package: str = DEFAULT_PACKAGE) -> Frame:
    """One websocket message as a usable frame or a BadFrame; ``supported`` are the
    actions the station answers (default: ``actions.CSMS_TO_CS``). The payload of a
    ``deferred`` action is not checked here: its handler checks it off the event loop
    (a 10,000-entry SendLocalList is ~0.7 s of jsonschema). ``package``: the version's
    schemas ("v201", "v21", ``version.Ocpp2Version.schema_package``)."""
    frame = parse(text, package=package)
    if not isinstance(frame, CallFrame):
        return frame
    if frame.action not in supported:
        return BadFrame(CallError("NotSupported", f"{frame.action} is not supported"),
                        frame.message_id, 2)
    if frame.action in deferred:
        return frame
    problem = payload_problem(frame.action, "Request", frame.payload, package)
    if problem is not None:
        return BadFrame(problem, frame.message_id, 2)
    if _FLOATISH.search(text if isinstance(text, str) else text.decode("utf-8")):
        try:
            return CallFrame(frame.message_id, frame.action,
                             with_integers(frame.action, "Request", frame.payload, package))
        except CallError as error:
            return BadFrame(error, frame.message_id, 2)
    return frame


def check_result(action: str, frame: ResultFrame,
                 package: str = DEFAULT_PACKAGE) -> ResultFrame | CallError:
    """The CALLRESULT to our CALL of ``action``, with integral floats of integer fields
    as ints (``schemas.with_integers``), or why it cannot be used (its
    ``<Action>Response.json`` refuses it). Never answered on the wire: the caller fails
    its CALL with the CallError, as with a CALLERROR."""
    problem = payload_problem(action, "Response", frame.payload, package)
    if problem is not None:
        return problem
    try:
        return ResultFrame(frame.message_id,
                           with_integers(action, "Response", frame.payload, package))
    except CallError as error:
        return error


def new_message_id() -> str:
    """A MessageId of ours: 36 characters, unique per sender across connections and
    reboots without any stored counter ([J201] §4.1.1, rules §0)."""
    return str(uuid.uuid4())
