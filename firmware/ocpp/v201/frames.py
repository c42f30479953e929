"""OCPP-J 2.0.1 frames ([J201] Part 4 §4): reading what arrives, writing what we send.

Sans-I/O: ``parse`` takes one websocket message and never raises; ``encode_*`` build the
text to send and raise ``InvalidOutgoingMessage`` (a bug of ours) instead of putting a
non-conforming frame on the wire.

    CALL        [2, "<MessageId>", "<Action>", {payload}]
    CALLRESULT  [3, "<MessageId>", {payload}]
    CALLERROR   [4, "<MessageId>", "<ErrorCode>", "<ErrorDescription>", {ErrorDetails}]

What ``parse`` answers (rules §0; [J201] §4.1.7 "Invalid message ⇒ CALLERROR"):

- Not JSON (RFC 8259), not an array, an empty array, a binary frame that is not UTF-8:
  RpcFrameworkError ("Content of the call is not a valid RPC Request, for example:
  MessageId could not be read", [J201] §4.3). The MessageId is recovered from the text's
  start when it plainly reads ``[2,"<id>",``, else the CALLERROR carries "-1": "When also
  the MessageId cannot be read, the CALLERROR SHALL contain "-1" as MessageId" and the
  invalid JSON is never echoed ([J201] §4.2.3).
- MessageId missing, not a string, empty, longer than 36 characters ([J201] §4.1.1;
  answering with it would break the limit ourselves) or not Unicode text: "-1",
  RpcFrameworkError.
- MessageTypeId not an integer (``2.0``, ``"2"``, ``true``): RpcFrameworkError. An
  integer other than 2, 3, 4: MessageTypeNotSupported ([J201] §4.4).
- A CALL without exactly four elements, or whose Action is not a string: RpcFrameworkError.
  An Action that is not a 2.0.1 action: NotImplemented ("Requested Action is not known",
  [J201] §4.3). Payload not a JSON object: FormatViolation.
- ``NaN`` / ``Infinity`` (Python's json reads them, RFC 8259 §6 does not) in a readable
  frame: FormatViolation, the payload is syntactically incorrect.
- A number no wire type holds (an integer beyond 64 bits, a float beyond a double,
  1e400, a 5,000-digit integer: never converted, see ``firmware.ocpp.frames``), or a
  string with a lone surrogate (not Unicode): TypeConstraintViolation of that field.
- Nesting deeper than ``MAX_DEPTH`` (no 2.0.1 message nests beyond ~10; what is deeper
  would exhaust the stack of whoever serialises it later): FormatViolation.
- A frame longer than ``max_frame_chars`` (the link's websocket limit refuses bigger ones
  before they arrive; this is the same bound for a caller without one): FormatViolation,
  without parsing it.

A broken CALLRESULT or CALLERROR is never answered (a CALLERROR answers a CALL only;
2.0.1 has no CALLRESULTERROR), but its ``BadFrame`` keeps the MessageId when readable so
the caller can fail the pending CALL instead of waiting for its timeout.

Payload schemas are not checked here (``schemas.payload_problem``): the CALL's schema
depends on nothing but the action, the CALLRESULT's on the CALL we sent, which only the
session knows.

The JSON-safe decoding (numbers kept as ``Unfit``, the lone-surrogate test, the value scan)
is the protocol-neutral part of ``firmware.ocpp.frames``, imported, not copied.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from firmware.ocpp.frames import _SURROGATE_ESCAPE, INT64_MAX, INT64_MIN, _Decoding
from firmware.ocpp.frames import value_problem as _value_problem
from firmware.ocpp.v201.errors import (
    CallError,
    ErrorCode,
    InvalidOutgoingMessage,
    printable,
)
from firmware.ocpp.v201.schemas import (DEFAULT_PACKAGE, known_actions, require_valid,
                                        version_label)
from firmware.ocpp.v201.version import by_package

CALL, CALLRESULT, CALLERROR = 2, 3, 4
CALLRESULTERROR, SEND = 5, 6  # OCPP-J 2.1 (``version.Ocpp2Version.unanswered_message_types``)
MAX_MESSAGE_ID_LENGTH = 36            # [J201] §4.1.1
UNREADABLE_MESSAGE_ID = "-1"          # [J201] §4.2.3
MAX_DEPTH = 32
MAX_FRAME_CHARS = 4 * 1024 * 1024     # as the link's websocket max_size


@dataclass(frozen=True)
class CallFrame:
    """A readable CALL of a known 2.0.1 action. Its payload holds only JSON values that
    fit (no Unfit, no lone surrogate, depth ≤ MAX_DEPTH); check the schema next."""

    message_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class ResultFrame:
    """A readable CALLRESULT; its payload is as clean as a CallFrame's."""

    message_id: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class ErrorFrame:
    """A CALLERROR from the peer. ``code`` and ``description`` are printable text as
    received (the code may not be a 2.0.1 code: it is theirs), at most 255 characters;
    ``details`` is their object, or ``{}`` when it was not a clean JSON object."""

    message_id: str
    code: str
    description: str
    details: dict[str, Any]


@dataclass(frozen=True)
class BadFrame:
    """A message we cannot use, and why.

    ``message_id``: the MessageId if it could be read, else None. ``message_type``: 2, 3,
    4 when it could be told, else the unknown integer or None. ``reply()`` gives the
    CALLERROR to send (at most one per message), or None for a broken response.
    """

    error: CallError
    message_id: str | None
    message_type: int | None
    # a 2.1 CALLRESULTERROR or SEND this station does not use: logged, never answered
    never_answered: bool = False

    @property
    def answered(self) -> bool:
        return not self.never_answered and self.message_type not in (CALLRESULT, CALLERROR)

    def reply(self) -> str | None:
        if not self.answered:
            return None
        return encode_error(self.message_id or UNREADABLE_MESSAGE_ID, self.error)


Frame = CallFrame | ResultFrame | ErrorFrame | BadFrame

# The start of a frame, read without JSON: used only when the JSON is unusable.
_PREFIX = re.compile(r'\s*\[\s*([234])\s*,\s*"([^"\\]{1,36})"\s*,')


def _bad(code: ErrorCode, why: str, message_id: str | None = None,
         message_type: int | None = None) -> BadFrame:
    return BadFrame(CallError(code, why), message_id, message_type)


def _bad_text(code: ErrorCode, why: str, text: str) -> BadFrame:
    match = _PREFIX.match(text)
    if match is None:
        return _bad(code, why)
    return _bad(code, why, match.group(2), int(match.group(1)))


class _Decoding201(_Decoding):
    """The shared decoding, except that NaN / Infinity are noted instead of raising, so
    the MessageId of a frame holding them can still be read and answered."""

    def __init__(self) -> None:
        super().__init__()
        self.not_json: str | None = None

    def parse_constant(self, name: str) -> None:
        self.not_json = self.not_json or name
        return None

    def loads(self, text: str) -> Any:
        return json.loads(text, parse_int=self.parse_int, parse_float=self.parse_float,
                          parse_constant=self.parse_constant)


def is_message_id(value: Any) -> bool:
    """A MessageId we can read and echo: a string of 1-36 characters of Unicode text."""
    return (isinstance(value, str) and 0 < len(value) <= MAX_MESSAGE_ID_LENGTH
            and _is_text(value))


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse(text: str | bytes, max_frame_chars: int = MAX_FRAME_CHARS, *,
          package: str = DEFAULT_PACKAGE) -> Frame:
    """Classify one websocket message (module docstring) of the OCPP 2.x version whose
    schemas are ``ocpp/<package>`` ("v201", "v21": which actions exist). Never raises."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return _bad("RpcFrameworkError", "binary frame, not UTF-8 text")
    if len(text) > max_frame_chars:
        return _bad_text("FormatViolation",
                         f"frame longer than {max_frame_chars} characters", text)
    decoding = _Decoding201()
    try:
        message = decoding.loads(text)
    except (ValueError, RecursionError):  # JSONDecodeError; nesting beyond the C stack
        return _bad_text("RpcFrameworkError", "message is not valid JSON", text)
    if not isinstance(message, list) or not message:
        return _bad("RpcFrameworkError", "message is not a non-empty JSON array")
    kind = message[0]
    message_id = message[1] if len(message) > 1 and is_message_id(message[1]) else None
    if type(kind) is not int:  # 2.0 or true is not a MessageTypeId
        # 3.0 / 4.0 would be a response: never answered.
        looks_like = int(kind) if isinstance(kind, float) and kind in (3, 4) else None
        return _bad("RpcFrameworkError", "MessageTypeId must be an integer",
                    message_id, looks_like)
    if kind in by_package(package).unanswered_message_types:
        what = {CALLRESULTERROR: "CALLRESULTERROR", SEND: "SEND"}.get(kind, str(kind))
        return BadFrame(CallError("MessageTypeNotSupported", f"a {what} is not used here"),
                        message_id, kind, never_answered=True)
    if kind not in (CALL, CALLRESULT, CALLERROR):
        return _bad("MessageTypeNotSupported", f"MessageTypeId {kind} is not supported"[:80],
                    message_id, kind)
    if message_id is None:
        return _bad("RpcFrameworkError",
                    "MessageId missing, empty, longer than 36 characters or not text",
                    None, kind)
    if decoding.not_json is not None:
        return _bad("FormatViolation", f"{decoding.not_json} is not a JSON number",
                    message_id, kind)
    suspect = decoding.unfit or _SURROGATE_ESCAPE.search(text) is not None
    deep = text.count("[") + text.count("{") > MAX_DEPTH
    if kind == CALL:
        return _call(message, message_id, suspect, deep, package)
    if kind == CALLRESULT:
        if len(message) != 3:
            return _bad("RpcFrameworkError", "a CALLRESULT has exactly 3 elements",
                        message_id, kind)
        payload = message[2]
        if not isinstance(payload, dict):
            return _bad("FormatViolation", "payload must be a JSON object", message_id, kind)
        problem = _values(payload, suspect, deep)
        if problem is not None:
            return BadFrame(problem, message_id, kind)
        return ResultFrame(message_id, payload)
    return _error(message, message_id, suspect, deep)


def _call(message: list[Any], message_id: str, suspect: bool, deep: bool,
          package: str) -> Frame:
    if len(message) != 4:
        return _bad("RpcFrameworkError", "a CALL has exactly 4 elements", message_id, CALL)
    action, payload = message[2], message[3]
    if not isinstance(action, str) or not _is_text(action):
        return _bad("RpcFrameworkError", "Action must be a string", message_id, CALL)
    if action not in known_actions(package):
        return _bad("NotImplemented", f"{printable(repr(action), 60)} is not an OCPP "
                    f"{version_label(package)} action", message_id, CALL)
    if not isinstance(payload, dict):
        return _bad("FormatViolation", "payload must be a JSON object", message_id, CALL)
    problem = _values(payload, suspect, deep)
    if problem is not None:
        return BadFrame(problem, message_id, CALL)
    return CallFrame(message_id, action, payload)


def _error(message: list[Any], message_id: str, suspect: bool, deep: bool) -> Frame:
    if len(message) != 5:
        return _bad("RpcFrameworkError", "a CALLERROR has exactly 5 elements",
                    message_id, CALLERROR)
    code, description, details = message[2], message[3], message[4]
    if not isinstance(details, dict) or _values(details, suspect, deep) is not None:
        details = {}
    return ErrorFrame(message_id, _printable_text(code), _printable_text(description),
                      details)


def _printable_text(value: Any) -> str:
    if isinstance(value, str):
        return printable(value, 255)
    return printable(repr(value), 60)  # an Unfit's repr is short already


def _values(payload: dict[str, Any], suspect: bool, deep: bool) -> CallError | None:
    """The first value that does not fit (TypeConstraintViolation) or the nesting
    beyond MAX_DEPTH (FormatViolation); None when the payload is clean."""
    if suspect:
        problem = _value_problem(payload)
        if problem is not None:
            return CallError("TypeConstraintViolation", problem.description)
    if deep and _depth_exceeds(payload, MAX_DEPTH):
        return CallError("FormatViolation", f"nested deeper than {MAX_DEPTH} levels")
    return None


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Iterative: a payload as deep as json.loads allows must not exhaust the stack."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values()
                         if isinstance(child, (dict, list)))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item
                         if isinstance(child, (dict, list)))
    return False


# ---------------------------------------------------------------------------- sending

def encode_call(message_id: str, action: str, payload: dict[str, Any],
                package: str = DEFAULT_PACKAGE) -> str:
    """A CALL of ours, its payload checked against ``<action>Request.json``.

    Raises ``InvalidOutgoingMessage``: a MessageId that is not 1-36 characters of text,
    an unknown action, a payload the schema refuses or that JSON cannot carry.
    """
    _require_message_id(message_id)
    require_valid(action, "Request", payload, package)
    return _dump([CALL, message_id, action, payload])


def encode_result(message_id: str, action: str, payload: dict[str, Any],
                  package: str = DEFAULT_PACKAGE) -> str:
    """A CALLRESULT answering the CALL ``message_id`` of ``action``, checked against
    ``<action>Response.json``; raises ``InvalidOutgoingMessage`` as ``encode_call``."""
    _require_message_id(message_id)
    require_valid(action, "Response", payload, package)
    return _dump([CALLRESULT, message_id, payload])


def encode_error(message_id: str, error: CallError) -> str:
    """A CALLERROR answering ``message_id`` ("-1" when it could not be read)."""
    if message_id != UNREADABLE_MESSAGE_ID:
        _require_message_id(message_id)
    if not isinstance(error, CallError):
        raise InvalidOutgoingMessage("a 2.0.1 CALLERROR needs a v201 CallError")
    return _dump([CALLERROR, message_id, error.code, error.description, error.details])


def _require_message_id(message_id: str) -> None:
    if not is_message_id(message_id):
        raise InvalidOutgoingMessage("MessageId must be 1-36 characters of text")


def _dump(frame: list[Any]) -> str:
    problem = _unsendable(frame)
    if problem is not None:
        raise InvalidOutgoingMessage(problem)
    try:
        return json.dumps(frame, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as e:
        raise InvalidOutgoingMessage(f"frame cannot be written as JSON: {e}") from None


def _unsendable(frame: Any) -> str | None:
    """What JSON or the peer cannot take: a lone surrogate, an integer beyond 64 bits,
    a non-finite float, a non-string key, a payload nested deeper than ``parse`` takes
    (the frame's array is depth 0, its payload depth 1, as there). Iterative."""
    stack: list[tuple[Any, int]] = [(frame, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH} levels"
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int):
            if not INT64_MIN <= value <= INT64_MAX:
                return "an integer beyond 64 bits"
        elif isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                return "NaN or Infinity is not JSON"
        elif isinstance(value, str):
            if not _is_text(value):
                return "a string that is not Unicode text (lone surrogate)"
        elif isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str) or not _is_text(key):
                    return "a property name that is not text"
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        else:
            return f"a {type(value).__name__} is not a JSON value"
    return None
