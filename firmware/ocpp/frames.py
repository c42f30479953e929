"""OCPP-J 1.6 frames: parsing what arrives, validating payloads, the 1.6 error codes.

The ``ocpp`` library answers with 2.0.1 spellings and swaps NotImplemented /
NotSupported for 1.6 (ocpp16-rules.md §2.3), and only logs a frame that is not JSON.
A 1.6 charge point must use the 1.6 codes of OCPP-J §4.2.3, so parsing and the
schema-error mapping live here; the library still provides the official schemas.

1.6 codes used:
- NotImplemented: the action is not known to us (not an OCPP 1.6 action).
- NotSupported: a 1.6 action we recognise but do not support.
- FormationViolation: not JSON, not a valid frame, or properties the PDU does not have.
- ProtocolError: the frame is incomplete (missing elements).
- OccurenceConstraintViolation: a required field missing / too many items.
- TypeConstraintViolation: a field of the wrong type or too long for its CiString type.
- PropertyConstraintViolation: a field with a value outside its enum/range.
- GenericError / InternalError: anything else / our own failure.

Numbers and text that do not fit (OCPP-J §4.2.3, RFC 8259 §6 and §8.2): ``NaN`` and
``Infinity`` are not JSON, so a frame holding them is a FormationViolation. A JSON number
no wire type holds (an integer outside 64 bits: SQLite and every CSMS database stop
there; a float beyond a double such as 1e400) and a string with a lone surrogate (not
Unicode text; it cannot even be stored or logged as UTF-8) are TypeConstraintViolations
of their field. ``parse`` never raises on them: it keeps such a number as an ``Unfit``
placeholder and marks the frame ``suspect``; ``value_problem`` names the field.
"""

from __future__ import annotations

import decimal
import functools
import json
import math
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from firmware.errors import OcppError

MAX_UNIQUE_ID_LENGTH = 36

# The official schemas ship with the ocpp library; reading them as package data (not
# importing ocpp.v16, which pulls in jsonschema and every dataclass) keeps the agent's
# start-up short: jsonschema is imported on the first validation, after the
# BootNotification has left.
_SCHEMAS = resources.files("ocpp").joinpath("v16", "schemas")


@functools.lru_cache(maxsize=1)
def known_actions() -> frozenset[str]:
    """Every OCPP 1.6 action (a CALL schema exists for each)."""
    return frozenset(entry.name[:-5] for entry in _SCHEMAS.iterdir()
                     if entry.name.endswith(".json") and not entry.name.endswith("Response.json"))

_UNIQUE_ID_PATTERN = re.compile(r'^\s*\[\s*2\s*,\s*"([^"\\]{1,36})"')


class CallErrorReply(OcppError):
    """Raised by a handler (or the parser) to answer a CALL with a CALLERROR."""

    def __init__(self, code: str, description: str = "", details: dict | None = None):
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description[:255]
        self.details = details or {}


@dataclass(frozen=True)
class CallFrame:
    unique_id: str
    action: str
    payload: dict[str, Any]
    # True when the payload may hold an Unfit number or a lone surrogate: check it with
    # ``value_problem`` before anything reads it.
    suspect: bool = False


@dataclass(frozen=True)
class ResultFrame:
    unique_id: str
    payload: dict[str, Any]
    suspect: bool = False


@dataclass(frozen=True)
class ErrorFrame:
    unique_id: str
    code: str
    description: str
    details: Any


@dataclass(frozen=True)
class BadFrame:
    """Unusable input; ``unique_id`` set when a CALLERROR can still be addressed."""

    unique_id: str | None
    error: CallErrorReply


Frame = CallFrame | ResultFrame | ErrorFrame | BadFrame


INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1


@dataclass(frozen=True)
class Unfit:
    """A JSON number that no wire type holds, kept in place of its value."""

    text: str

    def __repr__(self) -> str:
        head = self.text[:12] + ("..." if len(self.text) > 12 else "")
        return f"<number {head} ({len(self.text)} characters)>"


class _NotJson(OcppError, ValueError):
    """``NaN`` / ``Infinity``: Python's json accepts them, RFC 8259 does not."""


def _parse_int(text: str) -> int | Unfit:
    # Checked before int(): beyond 4,300 digits int() raises, and long before that the
    # conversion is quadratic; no 64-bit integer has more than 19 digits.
    if len(text) > 20:
        return Unfit(text)
    value = int(text)
    return value if INT64_MIN <= value <= INT64_MAX else Unfit(text)


def _parse_float(text: str) -> float | Unfit:
    value = float(text)
    return value if math.isfinite(value) else Unfit(text)


def _parse_constant(name: str) -> float:
    raise _NotJson(f"{name} is not a JSON number")


class _Decoding:
    """One ``json.loads`` that notes whether it met an Unfit number."""

    def __init__(self) -> None:
        self.unfit = False

    def parse_int(self, text: str) -> int | Unfit:
        value = _parse_int(text)
        self.unfit |= isinstance(value, Unfit)
        return value

    def parse_float(self, text: str) -> float | Unfit:
        value = _parse_float(text)
        self.unfit |= isinstance(value, Unfit)
        return value

    def loads(self, text: str) -> Any:
        return json.loads(text, parse_int=self.parse_int, parse_float=self.parse_float,
                          parse_constant=_parse_constant)


# Every number ``_parse_int``/``_parse_float`` may refuse has 19 digits in a row or a
# 3-digit exponent (a double overflows only beyond 1.8e308; int64 has 19 digits), and
# NaN/Infinity are spelt so: a text without any of these decodes the same without hooks.
_MAYBE_UNFIT = re.compile(r"[0-9]{19}|[eE][-+]?[0-9]{3}|NaN|Infinity")
_PLAIN = json.JSONDecoder()

# A lone surrogate can only arrive as a \u escape (a text frame is valid UTF-8).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def parse(text: str | bytes) -> Frame:
    """Classify one websocket message. Never raises."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return BadFrame(None, CallErrorReply("FormationViolation", "binary frame, not UTF-8"))
    decoding = _Decoding()
    try:
        # Hooks make every decoding build its own decoder: only for a text that may
        # hold an Unfit number or NaN/Infinity (false alarms, e.g. digits in a string,
        # merely take the careful path).
        message = decoding.loads(text) if _MAYBE_UNFIT.search(text) else _PLAIN.decode(text)
    except (ValueError, RecursionError) as e:  # JSONDecodeError, _NotJson
        match = _UNIQUE_ID_PATTERN.match(text)
        why = str(e) if isinstance(e, _NotJson) else "message is not valid JSON"
        return BadFrame(match.group(1) if match else None,
                        CallErrorReply("FormationViolation", why))
    suspect = decoding.unfit or _SURROGATE_ESCAPE.search(text) is not None
    if not isinstance(message, list) or not message:
        return BadFrame(None, CallErrorReply("FormationViolation", "message is not a JSON array"))
    kind = message[0]
    unique_id = message[1] if len(message) > 1 else None
    if not isinstance(unique_id, str) or not 0 < len(unique_id) <= MAX_UNIQUE_ID_LENGTH:
        return BadFrame(None, CallErrorReply("FormationViolation", "bad or missing UniqueId"))
    if type(kind) is not int:  # 2.0 or true is not a MessageTypeId
        return BadFrame(unique_id if kind not in (3, 4) else None,  # 3.0: not answered
                        CallErrorReply("FormationViolation", "MessageTypeId must be an integer"))
    if kind == 2:
        if len(message) != 4:
            return BadFrame(unique_id, CallErrorReply(
                "ProtocolError" if len(message) < 4 else "FormationViolation",
                "a CALL has exactly 4 elements"))
        action, payload = message[2], message[3]
        if not isinstance(action, str):
            return BadFrame(unique_id, CallErrorReply("FormationViolation", "Action must be a string"))
        if not isinstance(payload, dict):
            return BadFrame(unique_id, CallErrorReply("FormationViolation",
                                                      "payload must be a JSON object"))
        return CallFrame(unique_id, action, payload, suspect)
    if kind == 3:
        if len(message) != 3 or not isinstance(message[2], dict):
            return BadFrame(None, CallErrorReply("FormationViolation", "malformed CALLRESULT"))
        return ResultFrame(unique_id, message[2], suspect)
    if kind == 4:
        if len(message) < 4:
            return BadFrame(None, CallErrorReply("FormationViolation", "malformed CALLERROR"))
        details = message[4] if len(message) > 4 else {}
        return ErrorFrame(unique_id, _text(message[2]), _text(message[3]), details)
    return BadFrame(unique_id if kind not in (3, 4) else None,  # never answer a response
                    CallErrorReply("FormationViolation", f"unknown MessageTypeId {kind!r}"))


def _text(value: Any) -> str:
    """A CALLERROR's code or description as printable text (it is logged)."""
    text = value if isinstance(value, str) else repr(value)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")[:500]


def _is_text(value: str) -> bool:
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def value_problem(payload: Any) -> CallErrorReply | None:
    """The first field (depth first) whose value does not fit its type, as the
    TypeConstraintViolation to answer with; None when every value fits.

    Run on a ``suspect`` payload before the schema (jsonschema would compare an Unfit
    or fail on inf) and before anything stores it. Iterative: a payload nested as deep
    as json.loads allows must not exhaust the stack here.
    """
    stack: list[tuple[tuple[str, ...], Any]] = [((), payload)]
    while stack:
        path, value = stack.pop()
        where = "/".join(path) or "(payload)"
        if isinstance(value, Unfit):
            return CallErrorReply("TypeConstraintViolation",
                                  f"{where}: the number {value!r} does not fit its type")
        if isinstance(value, str):
            if not _is_text(value):
                return CallErrorReply("TypeConstraintViolation",
                                      f"{where}: not Unicode text (lone surrogate)")
        elif isinstance(value, dict):
            for key, item in reversed(list(value.items())):
                if not _is_text(key):
                    return CallErrorReply("TypeConstraintViolation",
                                          f"{where}: a property name is not Unicode text")
                stack.append((path + (key,), item))
        elif isinstance(value, list):
            for index in range(len(value) - 1, -1, -1):
                stack.append((path + (str(index),), value[index]))
    return None


_CODE_BY_VALIDATOR = {
    "type": "TypeConstraintViolation",
    "maxLength": "TypeConstraintViolation",
    "required": "OccurenceConstraintViolation",
    "minItems": "OccurenceConstraintViolation",
    "maxItems": "OccurenceConstraintViolation",
    "additionalProperties": "FormationViolation",
}


def schema_problem(kind: int, action: str, payload: dict[str, Any]) -> CallErrorReply | None:
    """Validate a CALL (kind 2) or CALLRESULT (kind 3) payload against the 1.6 schema.

    Returns the CALLERROR to answer with, or None when the payload is valid. Floats in
    the three schedule actions are compared as the schema intends (multipleOf 0.1).
    """
    if not payload and (kind, action) in _EMPTY_IS_VALID:
        return None  # the commonest answer ({} to MeterValues), checked once per action
    from jsonschema.exceptions import ValidationError as SchemaError

    decimal_floats = (kind, action) in _DECIMAL_SCHEMAS
    validator = _validator(kind, action, decimal_floats)
    if decimal_floats:
        payload = json.loads(json.dumps(payload), parse_float=decimal.Decimal)
    try:
        # Enough digits for multipleOf 0.1 on any double (1e308 / 0.1 has 310 digits):
        # with the default 28, Decimal raises DivisionImpossible on a big limit.
        with decimal.localcontext(prec=_DECIMAL_DIGITS):
            validator.validate(payload)
    except SchemaError as e:
        code = _CODE_BY_VALIDATOR.get(e.validator, "PropertyConstraintViolation")
        where = "/".join(str(p) for p in e.absolute_path) or "(payload)"
        return CallErrorReply(code, f"{where}: {e.message}"[:255])
    if not payload:
        _EMPTY_IS_VALID.add((kind, action))
    return None


_DECIMAL_DIGITS = 800

# (kind, action) whose schema accepts the empty payload {}: the answer for {} depends
# on nothing else, so a drain's thousands of {} answers are validated once.
_EMPTY_IS_VALID: set[tuple[int, str]] = set()

# Schemas with multipleOf 0.1 on floats: compare as decimals, as the schema intends.
_DECIMAL_SCHEMAS = {(2, "SetChargingProfile"), (2, "RemoteStartTransaction"),
                    (3, "GetCompositeSchedule")}


@functools.lru_cache(maxsize=None)
def _validator(kind: int, action: str, decimal_floats: bool) -> Any:
    """The official 1.6 schema shipped with the ocpp library, loaded once per action."""
    from jsonschema import Draft4Validator

    name = f"{action}Response.json" if kind == 3 else f"{action}.json"
    text = _SCHEMAS.joinpath(name).read_text("utf-8-sig")
    schema = json.loads(text, parse_float=decimal.Decimal if decimal_floats else float)
    return Draft4Validator(schema)


def call_frame(unique_id: str, action: str, payload: dict[str, Any]) -> str:
    return json.dumps([2, unique_id, action, payload], separators=(",", ":"))


def result_frame(unique_id: str, payload: dict[str, Any]) -> str:
    return json.dumps([3, unique_id, payload], separators=(",", ":"))


def error_frame(unique_id: str, error: CallErrorReply) -> str:
    return json.dumps([4, unique_id, error.code, error.description, error.details],
                      separators=(",", ":"))
