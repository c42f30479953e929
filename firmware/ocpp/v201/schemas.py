"""Payload validation against the official OCPP 2.0.1 JSON schemas ([S201]).

The schemas ship with the pinned ``ocpp`` package (``ocpp/v201/schemas``, 128 files,
``<Action>Request.json`` / ``<Action>Response.json``, starting with a BOM); they are read
as package data at run time, never copied. OCPP 2.1 (``firmware.ocpp.v201.version``) is
the same with ``package`` "v21" (``ocpp/v21/schemas``, 181 files, no BOM). Each declares draft 6
(``http://json-schema.org/draft-06/schema#``), so the validator class is the one
``jsonschema`` matches to ``$schema`` (Draft6Validator; a test pins it). A validator is
compiled once per action, direction, date-time strictness and version and kept.

jsonschema is imported on the first validation (as the 1.6 adapter does): it costs about
80-100 ms of start-up on a desktop CPU.

Validation failure → 2.0.1 error code ([J201] §4.3, rules §0; the table's wording below
is from the specification's code table, which the rules file lists by name only):

- ``type`` → TypeConstraintViolation: "at least one of the fields violates data type
  constraints (e.g. "somestring": 12)".
- ``required``, ``minItems``, ``maxItems`` → OccurrenceConstraintViolation: "violates
  occurrence constraints".
- ``maxLength``, ``enum``, ``minimum``, ``maximum`` → PropertyConstraintViolation: "at
  least one field contains an invalid value". 2.0.1 has no CiString types (1.6 has, which
  is why the 1.6 adapter answers an over-long string with TypeConstraintViolation): a
  field is "string" with a length limit, so too long is an invalid value of a string.
- ``format`` (date-time) and ``additionalProperties`` → FormatViolation: "Payload for
  Action is syntactically incorrect". A property the message does not define makes the
  payload not the message's syntax; this is also the code the ``ocpp`` library (the
  independent checker CSMS of issue #9) uses. ProtocolError ("not conform the PDU
  structure") is the other reading; we keep FormatViolation, the 1.6 FormationViolation's
  heir.
- anything else → FormatViolation.

Descriptions name the field and the rule, never the value (it may be a password in
SetVariables; [J201] §4.2.3: never echo the input).

date-time: jsonschema checks ``format`` only with a checker, and its own date-time
checker needs a package we do not install, so ours is here. Outgoing: strict RFC 3339
(a date, ``T``, a time, ``Z`` or an offset). Incoming: the same, except that a missing
offset is accepted (read as UTC), because some CSMSs send ``datetime.utcnow().isoformat()``
and refusing their BootNotificationResponse would leave the station unregistered.
"""

from __future__ import annotations

import datetime
import functools
import json
import re
from importlib import resources
from collections.abc import Iterator, Sequence
from typing import Any, Literal, Protocol

from firmware.ocpp.v201.errors import CallError, ErrorCode, InvalidOutgoingMessage

Kind = Literal["Request", "Response"]


class ValidationError(Protocol):
    """What we read of a ``jsonschema.exceptions.ValidationError`` (jsonschema ships
    no type information)."""

    validator: object           # the keyword that failed: "type", "required", ...
    validator_value: Any        # that keyword's value in the schema (a JSON value)
    instance: Any               # the part of the payload that failed (a JSON value)
    schema: Any                 # the subschema holding the keyword
    absolute_path: Sequence[str | int]


class Validator(Protocol):
    schema: Any

    def iter_errors(self, instance: Any) -> Iterator[ValidationError]: ...

SCHEMA_DRAFT = "http://json-schema.org/draft-06/schema#"

DEFAULT_PACKAGE = "v201"  # ``version.V201.schema_package``; 2.1 passes "v21"


def _schemas(package: str) -> Any:
    return resources.files("ocpp").joinpath(package, "schemas")


@functools.cache
def known_actions(package: str = DEFAULT_PACKAGE) -> frozenset[str]:
    """Every action of the version whose schemas are in ``ocpp/<package>/schemas``: one
    ``<Action>Request.json`` schema exists for each."""
    return frozenset(entry.name[: -len("Request.json")] for entry in _schemas(package).iterdir()
                     if entry.name.endswith("Request.json"))


def payload_problem(action: str, kind: Kind, payload: Any,
                    package: str = DEFAULT_PACKAGE) -> CallError | None:
    """The CALLERROR an inbound ``payload`` of ``action`` deserves, None when it is valid.

    ``kind`` is "Request" for a CALL's payload, "Response" for a CALLRESULT's. An action
    with no schema is NotImplemented ("Requested Action is not known", [J201] §4.3).
    ``payload`` must come from ``frames.parse`` (no Unfit numbers, nesting bounded).
    """
    if action not in known_actions(package):
        return CallError("NotImplemented",
                         f"{action!r} is not an OCPP {version_label(package)} action")
    error = _first_error(_validator(action, kind, False, package), payload)
    return None if error is None else _call_error(error)


def version_label(package: str) -> str:
    from firmware.ocpp.v201.version import by_package

    return by_package(package).label


def require_valid(action: str, kind: Kind, payload: Any,
                  package: str = DEFAULT_PACKAGE) -> None:
    """Check a payload we are about to send; raise ``InvalidOutgoingMessage`` (a bug in
    our code) naming the field and the 2.0.1 code the CSMS would have answered with."""
    if action not in known_actions(package):
        raise InvalidOutgoingMessage(
            f"{action!r} is not an OCPP {version_label(package)} action")
    try:
        error = _first_error(_validator(action, kind, True, package), payload)
    except RecursionError:
        raise InvalidOutgoingMessage(f"{action}{kind}: nested too deep") from None
    if error is not None:
        problem = _call_error(error)
        raise InvalidOutgoingMessage(f"{action}{kind} {problem.code}: {problem.description}")


def _first_error(validator: Validator, payload: Any) -> ValidationError | None:
    # The first error in the schema's keyword order (type, additionalProperties,
    # properties depth first, required): deterministic, and cheap on a payload with
    # thousands of bad entries, where collecting them all would not be.
    return next(iter(validator.iter_errors(payload)), None)


_CODE_BY_KEYWORD: dict[str, ErrorCode] = {
    "type": "TypeConstraintViolation",
    "required": "OccurrenceConstraintViolation",
    "minItems": "OccurrenceConstraintViolation",
    "maxItems": "OccurrenceConstraintViolation",
    "maxLength": "PropertyConstraintViolation",
    "minLength": "PropertyConstraintViolation",
    "enum": "PropertyConstraintViolation",
    "const": "PropertyConstraintViolation",
    "minimum": "PropertyConstraintViolation",
    "maximum": "PropertyConstraintViolation",
    "exclusiveMinimum": "PropertyConstraintViolation",
    "exclusiveMaximum": "PropertyConstraintViolation",
    "multipleOf": "PropertyConstraintViolation",
    "format": "FormatViolation",
    "additionalProperties": "FormatViolation",
}


def _call_error(error: ValidationError) -> CallError:
    keyword = str(error.validator)
    where = "/".join(str(part) for part in error.absolute_path) or "(payload)"
    return CallError(_CODE_BY_KEYWORD.get(keyword, "FormatViolation"),
                     f"{where}: {_rule(keyword, error)}")


def _rule(keyword: str, error: ValidationError) -> str:
    """What the field breaks, from the schema's side only (never the value)."""
    limit = error.validator_value
    instance = error.instance
    if keyword == "type":
        return f"must be of type {limit}"
    if keyword == "required":
        missing = [name for name in limit if isinstance(instance, dict) and name not in instance]
        return "missing required property " + (", ".join(missing) or str(limit))
    if keyword == "additionalProperties":
        allowed = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        extra = [name for name in instance if name not in allowed]
        first = repr(extra[0])[:40] if extra else "?"
        return f"property {first} is not defined by the message"
    if keyword == "maxLength":
        return f"longer than {limit} characters"
    if keyword == "minLength":
        return f"shorter than {limit} characters"
    if keyword == "enum":
        return "must be one of " + ", ".join(str(v) for v in limit)
    if keyword in ("minimum", "exclusiveMinimum"):
        return f"below the minimum {limit}"
    if keyword in ("maximum", "exclusiveMaximum"):
        return f"above the maximum {limit}"
    if keyword == "minItems":
        return f"fewer than {limit} items"
    if keyword == "maxItems":
        return f"more than {limit} items"
    if keyword == "format":
        return f"not an RFC 3339 {limit}"
    return f"breaks the schema's {keyword!r} rule"


# RFC 3339 §5.6 date-time; the offset is optional only when reading (module docstring).
_DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?"
    r"(?P<offset>[Zz]|[+-](\d{2}):(\d{2}))?", re.ASCII)


def is_date_time(value: str, *, strict: bool) -> bool:
    """Whether ``value`` is an RFC 3339 date-time (``strict``) or one without an offset."""
    match = _DATE_TIME.fullmatch(value)
    if match is None or (strict and match.group("offset") is None):
        return False
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    offset_ok = match.group(8) is None or (int(match.group(8)) < 24 and int(match.group(9)) < 60)
    # Second 60 is a leap second (RFC 3339 §5.7).
    return hour < 24 and minute < 60 and second <= 60 and offset_ok


@functools.lru_cache(maxsize=None)
def _validator(action: str, kind: Kind, strict: bool,
               package: str = DEFAULT_PACKAGE) -> Validator:
    from jsonschema import FormatChecker  # type: ignore[import-untyped]
    from jsonschema.validators import validator_for  # type: ignore[import-untyped]

    # The 2.0.1 files start with a BOM, the 2.1 ones do not: utf-8-sig reads both.
    text = _schemas(package).joinpath(f"{action}{kind}.json").read_text("utf-8-sig")
    schema = json.loads(text)
    cls = validator_for(schema)
    schema = inline_definitions(schema)
    checker = FormatChecker(formats=())
    checker.checks("date-time")(
        lambda value: not isinstance(value, str) or is_date_time(value, strict=strict))
    validator: Validator = cls(schema, format_checker=checker)
    return validator


_LOCAL = "#/definitions/"


def inline_definitions(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with each ``{"$ref": "#/definitions/X"}`` replaced by X itself.

    The same validation (draft 6 ignores a ``$ref``'s siblings, and so does this), but
    without a reference lookup per value: a 10,000-entry SendLocalList validates about
    a quarter faster. A definition that refers to itself keeps its ``$ref`` (none of the
    2.0.1 schemas has one), so ``definitions`` stays for the validator to resolve it.
    """
    definitions = schema.get("definitions", {})

    def inline(node: Any, expanding: frozenset[str]) -> Any:
        if isinstance(node, list):
            return [inline(item, expanding) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_LOCAL):
            name = ref[len(_LOCAL):]
            if name in definitions and name not in expanding:
                return inline(definitions[name], expanding | {name})
            return node
        return {key: value if key == "definitions" else inline(value, expanding)
                for key, value in node.items()}

    result: dict[str, Any] = inline(schema, frozenset())
    if definitions and "definitions" not in result:  # the root itself was a $ref
        result = {**result, "definitions": definitions}
    return result


_INT64 = 2 ** 63


def with_integers(action: str, kind: Kind, payload: dict[str, Any],
                  package: str = DEFAULT_PACKAGE) -> dict[str, Any]:
    """``payload`` (already valid) with each float of an "integer" field as an int.

    Draft 6 counts 1.0 as an integer, so ``"evseId": 1.0`` is valid, but the handler
    that reads an evseId must get the int 1 (a float would be stored as REAL, printed
    "1.0", refused as an index). Raises ``CallError`` TypeConstraintViolation for an
    integral float beyond 64 bits (1e300), like ``frames.parse`` for a long integer.
    """

    def convert(schema: Any, value: Any, path: str) -> Any:
        if not isinstance(schema, dict):
            return value
        if isinstance(value, float) and schema.get("type") == "integer":
            if not -_INT64 <= value < _INT64:
                raise CallError("TypeConstraintViolation",
                                f"{path or '(payload)'}: the number does not fit its type")
            return int(value)
        if isinstance(value, dict):
            properties = schema.get("properties", {})
            return {key: convert(properties.get(key), item, f"{path}/{key}".lstrip("/"))
                    for key, item in value.items()}
        if isinstance(value, list):
            items = schema.get("items")
            return [convert(items, item, f"{path}/{index}".lstrip("/"))
                    for index, item in enumerate(value)]
        return value

    schema = _validator(action, kind, False, package).schema  # the inlined schema
    result: dict[str, Any] = convert(schema, payload, "")
    return result
