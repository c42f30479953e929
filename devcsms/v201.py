"""OCPP-J 2.0.1 for the development CSMS: the version's checks and the CALLERROR an invalid request earns.

The `ocpp` library (2.1.0) only logs a frame that is not JSON, not an array or has an unknown
MessageTypeId, and swaps NotImplemented/NotSupported against OCPP-J 2.0.1 §4.3. A CSMS that charge-point
developers test against must answer the way the specification says, so `refusal()` decides the CALLERROR
itself ([J201] = OCPP 2.0.1 ed.3 Part 4, see /work/shared/reference/ocpp201-rules.md §0):

- MessageId unreadable (not JSON, not an array, no string id ≤ 36): RpcFrameworkError with MessageId "-1";
- an unknown MessageTypeId: MessageTypeNotSupported (§4.4);
- a CALL that is not a valid RPC request (wrong element count, Action not a string): RpcFrameworkError;
- an Action 2.0.1 does not know: NotImplemented; one it knows but a CSMS does not serve: NotSupported;
- a payload breaking its schema: OccurrenceConstraintViolation (a required field missing),
  TypeConstraintViolation (wrong JSON type), PropertyConstraintViolation (a value out of its enum or
  bounds), FormatViolation (anything else: unknown fields, a date-time without zone, not an object).

A CALLRESULT or CALLERROR is never answered, however broken. Pure: no I/O.
"""

from __future__ import annotations

import decimal
import json
from collections.abc import Container
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import ocpp.v201
from ocpp.v201.enums import Action

from devcsms.validation import (
    CALL,
    CALLERROR,
    UNIQUE_ID_MAX_CHARS,
    OcppVersion,
    reject_non_json_constant,
    schema_errors,
)

SUBPROTOCOL = "ocpp2.0.1"

# [J201] §4.3 (OccurrenceConstraintViolation with two r's, unlike 1.6).
ERROR_CODES = frozenset(
    {
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
    }
)

# Requests a charging station sends to a CSMS (2.0.1 messages whose sender is the station).
CHARGING_STATION_ACTIONS = frozenset(
    {
        "Authorize",
        "BootNotification",
        "ClearedChargingLimit",
        "DataTransfer",
        "FirmwareStatusNotification",
        "Get15118EVCertificate",
        "GetCertificateStatus",
        "Heartbeat",
        "LogStatusNotification",
        "MeterValues",
        "NotifyChargingLimit",
        "NotifyCustomerInformation",
        "NotifyDisplayMessages",
        "NotifyEVChargingNeeds",
        "NotifyEVChargingSchedule",
        "NotifyEvent",
        "NotifyMonitoringReport",
        "NotifyReport",
        "PublishFirmwareStatusNotification",
        "ReportChargingProfiles",
        "ReservationStatusUpdate",
        "SecurityEventNotification",
        "SignCertificate",
        "StatusNotification",
        "TransactionEvent",
    }
)

KNOWN_ACTIONS = frozenset(action.value for action in Action)

ERROR_DESCRIPTION_MAX_CHARS = 255  # [J201] §4.2.3

OCPP201 = OcppVersion(
    subprotocol=SUBPROTOCOL,
    label="2.0.1",
    schema_dir=Path(ocpp.v201.__file__).parent / "schemas",
    request_suffix="Request",
    validator_class=jsonschema.Draft6Validator,  # the files declare draft-06
    error_codes=ERROR_CODES,
    error_codes_section="§4.3",
    charge_point_actions=CHARGING_STATION_ACTIONS,
    error_description_max_chars=ERROR_DESCRIPTION_MAX_CHARS,
    forbids_empty_fields=True,
)

# jsonschema keyword that failed → the [J201] §4.3 code that names that kind of problem.
_CODE_BY_SCHEMA_KEYWORD = {
    "required": "OccurrenceConstraintViolation",
    "minItems": "OccurrenceConstraintViolation",
    "maxItems": "OccurrenceConstraintViolation",
    "type": "TypeConstraintViolation",
    "enum": "PropertyConstraintViolation",
    "maxLength": "PropertyConstraintViolation",
    "minLength": "PropertyConstraintViolation",
    "minimum": "PropertyConstraintViolation",
    "maximum": "PropertyConstraintViolation",
}


@dataclass(frozen=True)
class Refusal:
    """The CALLERROR to answer: `message_id` ("-1" when unreadable), `code`, `description` (≤ 255)."""

    message_id: str
    code: str
    description: str
    details: dict = field(default_factory=dict)

    def frame(self) -> list:
        """The OCPP-J CALLERROR array."""
        return [CALLERROR, self.message_id, self.code, self.description[:ERROR_DESCRIPTION_MAX_CHARS], self.details]


def refusal(
    text: str,
    handled_actions: Container[str],
    *,
    version: OcppVersion = OCPP201,
    known_actions: frozenset[str] = KNOWN_ACTIONS,
) -> Refusal | None:
    """The CALLERROR that `text`, sent by a charging station of `version` (default 2.0.1), must get; None
    when it must be served (a valid CALL of an action in `handled_actions`) or must not be answered (any
    other MessageTypeId of `version.message_types`: CALLRESULT, CALLERROR; 2.1 adds CALLRESULTERROR, SEND).

    `known_actions` are the actions `version` defines (any sender): one outside them is NotImplemented,
    one inside that a station may not send (`version.charge_point_actions`) or we do not handle is
    NotSupported. OCPP-J 2.1 keeps these rules (`devcsms.v21` passes its own version and actions)."""
    try:
        decoded = json.loads(text, parse_float=decimal.Decimal, parse_constant=reject_non_json_constant)
    except (ValueError, RecursionError):
        return Refusal("-1", "RpcFrameworkError", "message is not valid JSON")
    if not isinstance(decoded, list) or not decoded:
        return Refusal("-1", "RpcFrameworkError", "message is not a non-empty JSON array")
    message_id = decoded[1] if len(decoded) > 1 else None
    readable_id = message_id if isinstance(message_id, str) and len(message_id) <= UNIQUE_ID_MAX_CHARS else None
    reply_id = readable_id if readable_id is not None else "-1"
    message_type = decoded[0]
    if type(message_type) is int and message_type != CALL and message_type in version.message_types:
        return None
    if type(message_type) is not int or message_type != CALL:
        return Refusal(reply_id, "MessageTypeNotSupported", f"MessageTypeId {message_type!r} is not supported")
    if readable_id is None:
        return Refusal("-1", "RpcFrameworkError", "MessageId could not be read (a string of at most 36 characters)")
    if len(decoded) != 4:
        return Refusal(reply_id, "RpcFrameworkError", f"a CALL has 4 elements, this one {len(decoded)}")
    action, payload = decoded[2], decoded[3]
    if not isinstance(action, str):
        return Refusal(reply_id, "RpcFrameworkError", f"Action must be a string, got {action!r}")
    if action not in known_actions:
        return Refusal(reply_id, "NotImplemented", f"{action} is not an OCPP {version.label} action")
    if action not in version.charge_point_actions or action not in handled_actions:
        return Refusal(reply_id, "NotSupported", f"{action} is not served by this CSMS")
    if not isinstance(payload, dict):
        return Refusal(reply_id, "FormatViolation", "the payload must be a JSON object")
    return _schema_refusal(reply_id, action, payload, version)


def _schema_refusal(message_id: str, action: str, payload: Any, version: OcppVersion) -> Refusal | None:
    errors = schema_errors(CALL, action, payload, version)
    if not errors:
        return None
    first = errors[0]
    code = _CODE_BY_SCHEMA_KEYWORD.get(str(first.validator), "FormatViolation")
    location = "/".join(str(part) for part in first.absolute_path) or "(payload)"
    description = f"{action}Request {location}: {first.message}"
    return Refusal(message_id, code, description, {"errors": len(errors)})
