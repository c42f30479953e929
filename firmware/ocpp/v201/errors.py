"""OCPP-J 2.0.1 error codes and the two errors of the 2.0.1 RPC layer.

The twelve codes of [J201] §4.3 (ocpp201-rules.md §0). Where they differ from 1.6:
``FormatViolation`` (1.6: FormationViolation), ``OccurrenceConstraintViolation`` (two r's;
1.6: OccurenceConstraintViolation), and the new ``RpcFrameworkError`` ("Content of the
call is not a valid RPC Request, for example: MessageId could not be read") and
``MessageTypeNotSupported`` (unknown MessageTypeId, [J201] §4.4).

- ``CallError``: raise it (or return it) to answer a CALL with a CALLERROR. It is a
  ``firmware.ocpp.frames.CallErrorReply``, so a session that catches that answers it, but
  its code is always one of the twelve 2.0.1 codes.
- ``InvalidOutgoingMessage``: a message *we* built does not conform (schema, MessageId,
  a value JSON cannot carry). It is a bug in our code, raised before anything reaches the
  wire; never answer the CSMS with it.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from firmware.errors import OcppError
from firmware.ocpp.frames import CallErrorReply

ErrorCode = Literal[
    "FormatViolation",
    "GenericError",
    "InternalError",
    "MessageTypeNotSupported",
    "NotImplemented",
    "NotSupported",
    "OccurrenceConstraintViolation",
    "PropertyConstraintViolation",
    "ProtocolError",
    "RpcFrameworkError",
    "SecurityError",
    "TypeConstraintViolation",
]

ERROR_CODES: frozenset[str] = frozenset(get_args(ErrorCode))

# ErrorDescription is at most 255 characters ([J201] §4.2.3).
MAX_DESCRIPTION_LENGTH = 255


class InvalidOutgoingMessage(OcppError):
    """A frame of ours would not conform to OCPP 2.0.1: a bug, stopped before the wire."""


def printable(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with lone surrogates escaped so that it
    encodes as UTF-8 (it goes into a frame and into the log)."""
    return text[:limit].encode("utf-8", "backslashreplace").decode("utf-8")[:limit]


class CallError(CallErrorReply):
    """A CALLERROR to send: a 2.0.1 ``code``, a description of at most 255 characters
    (never the raw input: [J201] §4.2.3 forbids echoing invalid JSON, and a value may be
    a secret) and ``details``, a JSON object (``{}`` when there are none).

    Raises ``InvalidOutgoingMessage`` for a code that is not a 2.0.1 code.
    """

    code: ErrorCode

    def __init__(self, code: ErrorCode, description: str = "",
                 details: dict[str, Any] | None = None) -> None:
        if code not in ERROR_CODES:
            raise InvalidOutgoingMessage(f"{code!r} is not an OCPP 2.0.1 error code")
        if details is not None and not isinstance(details, dict):
            raise InvalidOutgoingMessage("CALLERROR details must be a JSON object")
        super().__init__(code, printable(description, MAX_DESCRIPTION_LENGTH), details)


# OCPP-J 1.6 §4.2.3 names whose 2.0.1 name differs (rules §8, first row).
_RENAMED_FROM_V16: dict[str, ErrorCode] = {
    "FormationViolation": "FormatViolation",
    "OccurenceConstraintViolation": "OccurrenceConstraintViolation",
}


def from_v16(reply: CallErrorReply) -> CallError:
    """The 2.0.1 CALLERROR for a ``CallErrorReply`` raised by code shared with 1.6
    (``firmware.auth.validate`` names its codes in 1.6 spelling): FormationViolation →
    FormatViolation, OccurenceConstraintViolation → OccurrenceConstraintViolation, the
    names both versions share unchanged, anything else GenericError ("Any other error
    not covered by the more specific error codes", [J201] §4.3)."""
    if isinstance(reply, CallError):
        return reply
    code = _RENAMED_FROM_V16.get(reply.code, reply.code)
    if code not in ERROR_CODES:
        return CallError("GenericError", reply.description, reply.details)
    return CallError(code, reply.description, reply.details)  # type: ignore[arg-type]
