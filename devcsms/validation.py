"""Strict checks of OCPP-J frames (1.6 and 2.0.1): framing, official JSON schemas, RFC 3339 timestamps.

The `ocpp` library validates payloads too, but without a FormatChecker (so `format: date-time` is never
enforced) and it answers an invalid inbound CALL with a CALLERROR that is only logged. The development CSMS
runs this module on every frame a charge point sends so that tests can assert `csms.violations == []`.

Everything here is pure (no I/O, no asyncio); functions return lists of readable problems, empty when
the frame is fine. What differs between versions (schema files and draft, error codes, the requests a
charge point may send) is an `OcppVersion`; `OCPP16` is the default everywhere, `devcsms.v201` has 2.0.1.
"""

from __future__ import annotations

import decimal
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import ocpp.v16

CALL = 2
CALLRESULT = 3
CALLERROR = 4
# OCPP-J 2.1 only (our reading of 2.1 Part 4 §4.2, as the station's firmware/ocpp/v201/frames.py): a
# CALLRESULTERROR refuses a CALLRESULT, a SEND is a message without reply. Neither is ever answered.
CALLRESULTERROR = 5
SEND = 6

MESSAGE_TYPE_NAMES = {
    CALL: "CALL",
    CALLRESULT: "CALLRESULT",
    CALLERROR: "CALLERROR",
    CALLRESULTERROR: "CALLRESULTERROR",
    SEND: "SEND",
}
_ELEMENT_COUNTS = {CALL: 4, CALLRESULT: 3, CALLERROR: 5, CALLRESULTERROR: 5, SEND: 4}
BASE_MESSAGE_TYPES = frozenset({CALL, CALLRESULT, CALLERROR})

# OCPP-J 1.6 §4.1.3: the UniqueId is a string of at most 36 characters.
UNIQUE_ID_MAX_CHARS = 36

# OCPP-J 1.6 §4.2.3 error codes, with the 1.6 spellings (FormationViolation, OccurenceConstraintViolation).
OCPP16_ERROR_CODES = frozenset(
    {
        "NotImplemented",
        "NotSupported",
        "InternalError",
        "ProtocolError",
        "SecurityError",
        "FormationViolation",
        "PropertyConstraintViolation",
        "OccurenceConstraintViolation",
        "TypeConstraintViolation",
        "GenericError",
    }
)

# Requests a charge point may send (OCPP 1.6 edition 2 plus the 1.6 security whitepaper edition 2).
CHARGE_POINT_ACTIONS = frozenset(
    {
        "Authorize",
        "BootNotification",
        "DataTransfer",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StartTransaction",
        "StatusNotification",
        "StopTransaction",
        "LogStatusNotification",
        "SecurityEventNotification",
        "SignCertificate",
        "SignedFirmwareStatusNotification",
    }
)

SCHEMA_DIR = Path(ocpp.v16.__file__).parent / "schemas"


@dataclass(frozen=True)
class OcppVersion:
    """What the frame checks need to know about one OCPP version.

    `subprotocol` is the websocket subprotocol ("ocpp1.6"); `label` the version for messages ("1.6").
    Schemas are `schema_dir/<Action><request_suffix>.json` and `<Action>Response.json`, validated with
    `validator_class` (the draft the files declare). `error_codes` are the CALLERROR codes of its OCPP-J
    (`error_codes_section` cites them); `charge_point_actions` the requests a charge point may send.
    `message_types` are the MessageTypeIds of its OCPP-J (2.1 adds CALLRESULTERROR and SEND, whose
    schema is `<Action>.json`); any other is an unknown MessageTypeId. `send_actions` the actions a
    SEND may carry (only these reach a schema lookup: the action is the station's text).
    """

    subprotocol: str
    label: str
    schema_dir: Path
    request_suffix: str
    validator_class: type
    error_codes: frozenset[str]
    error_codes_section: str
    charge_point_actions: frozenset[str]
    error_description_max_chars: int | None = None
    forbids_empty_fields: bool = False  # 2.0.1 [J201] §4.1.5: omit an empty optional field, never {} or []
    message_types: frozenset[int] = BASE_MESSAGE_TYPES
    send_actions: frozenset[str] = frozenset()

    def schema_name(self, message_type: int, action: str) -> str:
        if message_type == SEND:
            return action  # ocpp/v21/schemas/NotifyPeriodicEventStream.json: no Request/Response pair
        return f"{action}{self.request_suffix}" if message_type == CALL else f"{action}Response"


OCPP16 = OcppVersion(
    subprotocol="ocpp1.6",
    label="1.6",
    schema_dir=SCHEMA_DIR,
    request_suffix="",
    validator_class=jsonschema.Draft4Validator,
    error_codes=OCPP16_ERROR_CODES,
    error_codes_section="§4.2.3",
    charge_point_actions=CHARGE_POINT_ACTIONS,
)

_RFC3339_DATE_TIME = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})[Tt]"
    r"(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})(?:\.\d+)?"
    r"(?:[Zz]|[+-](?P<offset_hour>\d{2}):(?P<offset_minute>\d{2}))"
)


def is_rfc3339_date_time(text: str) -> bool:
    """True when `text` is an RFC 3339 §5.6 date-time, which always carries a time zone ('Z' or ±hh:mm).

    jsonschema only checks `date-time` when the optional rfc3339-validator package is installed, which we
    do not depend on; this is our own strict check. A leap second (ss=60) is accepted, as RFC 3339 allows.
    """
    match = _RFC3339_DATE_TIME.fullmatch(text)
    if match is None:
        return False
    year, month, day = int(match["year"]), int(match["month"]), int(match["day"])
    if not 1 <= month <= 12:
        return False
    leap_year = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days_in_month = [31, 29 if leap_year else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    if not 1 <= day <= days_in_month:
        return False
    if int(match["hour"]) > 23 or int(match["minute"]) > 59 or int(match["second"]) > 60:
        return False
    if match["offset_hour"] is not None:
        if int(match["offset_hour"]) > 23 or int(match["offset_minute"]) > 59:
            return False
    return True


def _build_format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(formats=())

    @checker.checks("date-time")
    def _date_time(instance: object) -> bool:
        # JSON Schema: a format only constrains strings; a wrong type is the "type" keyword's business.
        return not isinstance(instance, str) or is_rfc3339_date_time(instance)

    return checker


FORMAT_CHECKER = _build_format_checker()


@lru_cache(maxsize=None)
def _validator(version: OcppVersion, schema_name: str) -> Any:
    path = version.schema_dir / f"{schema_name}.json"
    if not path.is_file():
        return None
    # Decimal floats: three 1.6 schemas use multipleOf 0.1, which binary floats fail (21.4 → 21.399…).
    # utf-8-sig: the 2.0.1 schema files start with a byte order mark.
    schema = json.loads(path.read_text(encoding="utf-8-sig"), parse_float=decimal.Decimal)
    return version.validator_class(schema, format_checker=FORMAT_CHECKER)


def schema_errors(
    message_type: int, action: str, payload_for_schema: Any, version: OcppVersion = OCPP16
) -> list[jsonschema.ValidationError] | None:
    """The jsonschema errors of a CALL or CALLRESULT payload, sorted by path; None when there is no schema."""
    validator = _validator(version, version.schema_name(message_type, action))
    if validator is None:
        return None
    return sorted(validator.iter_errors(payload_for_schema), key=lambda e: [str(p) for p in e.absolute_path])


def describe_schema_error(error: jsonschema.ValidationError) -> str:
    """ "path: message", the line a violation shows."""
    location = "/".join(str(part) for part in error.absolute_path) or "(payload)"
    return f"{location}: {error.message}"


def payload_problems(
    message_type: int, action: str, payload_for_schema: Any, version: OcppVersion = OCPP16
) -> list[str]:
    """Check a CALL payload (schema `<Action>`, 2.0.1: `<Action>Request`) or a CALLRESULT payload
    (schema `<Action>Response`) against the official schemas of `version`.

    `payload_for_schema` must have been parsed with `parse_float=decimal.Decimal` (see `parse_frame`).
    Returns one readable line per schema error ("path: message"), or a single line when no schema exists.
    """
    errors = schema_errors(message_type, action, payload_for_schema, version)
    if errors is None:
        return [f"no OCPP {version.label} schema for {version.schema_name(message_type, action)}"]
    problems = [describe_schema_error(error) for error in errors]
    if version.forbids_empty_fields:
        problems.extend(
            f"{path}: empty {kind} (OCPP-J {version.label} §4.1.5: omit an empty optional field)"
            for path, kind in empty_fields(payload_for_schema)
        )
    return problems


def empty_fields(payload: Any, path: str = "") -> list[tuple[str, str]]:
    """(path, "object"/"array") of every field below the payload whose value is {} or [] (the payload
    itself may be {}, e.g. a Heartbeat)."""
    found: list[tuple[str, str]] = []
    children = payload.items() if isinstance(payload, dict) else enumerate(payload) if isinstance(payload, list) else ()
    for key, value in children:
        child_path = f"{path}/{key}" if path else str(key)
        if isinstance(value, (dict, list)) and not value:
            found.append((child_path, "object" if isinstance(value, dict) else "array"))
        else:
            found.extend(empty_fields(value, child_path))
    return found


@dataclass(frozen=True)
class ParsedFrame:
    """The OCPP-J structure of one websocket text frame.

    `message_type` is None when the frame is not OCPP-J at all; `problems` lists every framing error.
    `payload` is the object parsed with plain floats (what tests look at); `payload_for_schema` the same
    object parsed with Decimal floats (what the schema check needs). For a CALLERROR `payload` holds the
    errorDetails object.
    """

    message_type: int | None
    unique_id: str | None
    action: str | None
    payload: Any
    payload_for_schema: Any
    error_code: str | None
    error_description: str | None
    problems: tuple[str, ...]


def reject_non_json_constant(name: str) -> Any:
    """`parse_constant` for json.loads: NaN, Infinity and -Infinity are Python's extension, not JSON
    (RFC 8259 §6); a frame carrying one is not JSON. Raises ValueError."""
    raise ValueError(f"{name} is not a JSON value")


def parse_frame(text: str, version: OcppVersion = OCPP16) -> ParsedFrame:
    """Parse `text` as an OCPP-J message of `version` (OCPP-J §4) and list what is wrong with its framing.

    Never raises: a frame that is not JSON, not an array, has the wrong number of elements or wrongly
    typed elements comes back with `problems` filled in and as much structure as could be recovered.
    """
    try:
        decoded = json.loads(text, parse_constant=reject_non_json_constant)
        decoded_for_schema = json.loads(text, parse_float=decimal.Decimal, parse_constant=reject_non_json_constant)
    except (ValueError, RecursionError) as error:
        return ParsedFrame(None, None, None, None, None, None, None, (f"not JSON: {error}",))
    if not isinstance(decoded, list) or not decoded:
        return ParsedFrame(None, None, None, None, None, None, None, ("not a non-empty JSON array",))

    problems: list[str] = []
    message_type = decoded[0]
    if type(message_type) is not int or message_type not in version.message_types:  # not bool, not a list
        return ParsedFrame(
            None, None, None, None, None, None, None, (f"unknown MessageTypeId {message_type!r}",)
        )
    expected_length = _ELEMENT_COUNTS[message_type]
    if len(decoded) != expected_length:
        problems.append(
            f"{MESSAGE_TYPE_NAMES[message_type]} must have {expected_length} elements, got {len(decoded)}"
        )

    unique_id = decoded[1] if len(decoded) > 1 else None
    if not isinstance(unique_id, str):
        problems.append(f"UniqueId must be a string, got {unique_id!r}")
        unique_id = None if unique_id is None else str(unique_id)
    elif len(unique_id) > UNIQUE_ID_MAX_CHARS:
        problems.append(f"UniqueId longer than {UNIQUE_ID_MAX_CHARS} characters: {unique_id!r}")

    def element(index: int) -> Any:
        return decoded[index] if len(decoded) > index else None

    def element_for_schema(index: int) -> Any:
        return decoded_for_schema[index] if len(decoded_for_schema) > index else None

    action = error_code = error_description = None
    if message_type in (CALL, SEND):
        action, payload, payload_for_schema = element(2), element(3), element_for_schema(3)
        if not isinstance(action, str):
            problems.append(f"Action must be a string, got {action!r}")
            action = None
    elif message_type == CALLRESULT:
        payload, payload_for_schema = element(2), element_for_schema(2)
    else:
        error_code, error_description = element(2), element(3)
        payload, payload_for_schema = element(4), element_for_schema(4)
        if not isinstance(error_code, str):
            problems.append(f"ErrorCode must be a string, got {error_code!r}")
            error_code = None
        elif error_code not in version.error_codes:
            problems.append(
                f"ErrorCode {error_code!r} is not an OCPP-J {version.label} code "
                f"({version.error_codes_section}: {', '.join(sorted(version.error_codes))})"
            )
        if not isinstance(error_description, str):
            problems.append(f"ErrorDescription must be a string, got {error_description!r}")
            error_description = None
        elif version.error_description_max_chars is not None and (
            len(error_description) > version.error_description_max_chars
        ):
            problems.append(f"ErrorDescription longer than {version.error_description_max_chars} characters")
    if not isinstance(payload, dict) and len(decoded) == expected_length:
        part = "ErrorDetails" if message_type in (CALLERROR, CALLRESULTERROR) else "Payload"
        problems.append(f"{part} must be a JSON object, got {payload!r}")
    return ParsedFrame(
        message_type,
        unique_id,
        action,
        payload,
        payload_for_schema,
        error_code,
        error_description,
        tuple(problems),
    )
