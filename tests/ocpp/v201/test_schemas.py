"""Payload validation against the official 2.0.1 schemas of the ocpp package ([S201]),
and the 2.0.1 error code each failure maps to ([J201] §4.3; firmware/ocpp/v201/schemas.py
says why each keyword gets its code)."""

import json
from importlib import resources
from pathlib import Path

import pytest
from jsonschema import Draft6Validator

from firmware.ocpp.v201 import schemas
from firmware.ocpp.v201.errors import ERROR_CODES, InvalidOutgoingMessage

from .samples import CSMS_SENDS, NOW, STATION_SENDS, VALID

REPO = Path(__file__).resolve().parents[3]


def code(action, kind, payload):
    problem = schemas.payload_problem(action, kind, payload)
    return None if problem is None else problem.code


# ------------------------------------------------------------------ the schemas themselves

def test_schemas_come_from_the_installed_ocpp_package_not_from_the_repository():
    shipped = resources.files("ocpp").joinpath("v201", "schemas")
    assert len([e for e in shipped.iterdir() if e.name.endswith(".json")]) == 128
    assert not list((REPO / "firmware").rglob("*Request.json"))


def test_every_2_0_1_schema_declares_draft_6_and_gets_the_draft_6_validator():
    for action in sorted(schemas.known_actions()):
        for kind in ("Request", "Response"):
            text = resources.files("ocpp").joinpath(
                "v201", "schemas", f"{action}{kind}.json").read_text("utf-8-sig")
            assert json.loads(text)["$schema"] == schemas.SCHEMA_DRAFT
            assert isinstance(schemas._validator(action, kind, False), Draft6Validator)


def test_known_actions_are_the_64_messages_of_2_0_1():
    actions = schemas.known_actions()
    assert len(actions) == 64
    assert {"BootNotification", "TransactionEvent", "GetVariables", "Reset"} <= actions
    assert "StartTransaction" not in actions and "NotifySettlement" not in actions


def test_a_validator_is_compiled_once_per_action_direction_and_strictness():
    first = schemas._validator("Reset", "Request", False)
    assert schemas._validator("Reset", "Request", False) is first
    assert schemas._validator("Reset", "Response", False) is not first
    assert schemas._validator("Reset", "Request", True) is not first


# ------------------------------------------------------------------ valid payloads

@pytest.mark.parametrize("action", sorted(VALID))
def test_sample_request_and_response_validate(action):
    request, response = VALID[action]
    assert schemas.payload_problem(action, "Request", request) is None
    assert schemas.payload_problem(action, "Response", response) is None
    schemas.require_valid(action, "Request", request)
    schemas.require_valid(action, "Response", response)


@pytest.mark.parametrize("action", sorted(STATION_SENDS | CSMS_SENDS))
async def test_what_we_send_also_passes_the_ocpp_librarys_own_validation(action):
    # The independent checker CSMS of issue #9 validates with ocpp.messages.
    from ocpp.messages import Call, CallResult, validate_payload

    request, response = VALID[action]
    await validate_payload(Call("1", action, request), "2.0.1")
    await validate_payload(CallResult("1", response, action), "2.0.1")


# ------------------------------------------------------------------ error codes

BOOT = VALID["BootNotification"][0]
STATUS = VALID["StatusNotification"][0]


def with_(payload, **changes):
    return {**payload, **changes}


def without(payload, key):
    return {k: v for k, v in payload.items() if k != key}


@pytest.mark.parametrize("action, payload, expected", [
    # required → OccurrenceConstraintViolation ("violates occurrence constraints")
    ("BootNotification", without(BOOT, "reason"), "OccurrenceConstraintViolation"),
    ("BootNotification", with_(BOOT, chargingStation={"model": "m"}),
     "OccurrenceConstraintViolation"),
    ("Reset", {}, "OccurrenceConstraintViolation"),
    ("GetVariables", {"getVariableData": []}, "OccurrenceConstraintViolation"),  # minItems
    # type → TypeConstraintViolation ("e.g. "somestring": 12")
    ("StatusNotification", with_(STATUS, evseId="1"), "TypeConstraintViolation"),
    ("StatusNotification", with_(STATUS, evseId=1.5), "TypeConstraintViolation"),
    ("StatusNotification", with_(STATUS, evseId=True), "TypeConstraintViolation"),
    ("StatusNotification", with_(STATUS, evseId=None), "TypeConstraintViolation"),
    ("BootNotification", with_(BOOT, chargingStation=["m", "v"]), "TypeConstraintViolation"),
    ("Authorize", {"idToken": "04A2B3C4"}, "TypeConstraintViolation"),  # 1.6 idTag habit
    # enum / maxLength / minimum → PropertyConstraintViolation ("an invalid value")
    ("Reset", {"type": "Hard"}, "PropertyConstraintViolation"),  # the 1.6 value
    ("StatusNotification", with_(STATUS, connectorStatus="Charging"),
     "PropertyConstraintViolation"),  # a 1.6 status: moved to chargingState (rules §5)
    ("BootNotification", with_(BOOT, chargingStation={"model": "m" * 21, "vendorName": "v"}),
     "PropertyConstraintViolation"),
    ("Authorize", {"idToken": {"idToken": "x" * 37, "type": "ISO14443"}},
     "PropertyConstraintViolation"),
    ("RequestStartTransaction", with_(VALID["RequestStartTransaction"][0], chargingProfile={
        "id": 1, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative", "chargingSchedule": [{
            "id": 1, "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
            "salesTariff": {"id": 1, "salesTariffEntry": [
                {"relativeTimeInterval": {"start": 0}, "ePriceLevel": -1}]}}]}),
     "PropertyConstraintViolation"),  # ePriceLevel minimum 0
    # additionalProperties / format → FormatViolation ("syntactically incorrect")
    ("Heartbeat", {"unknown": 1}, "FormatViolation"),
    ("BootNotification", with_(BOOT, chargePointVendor="v"), "FormatViolation"),  # 1.6 field
    ("StatusNotification", with_(STATUS, timestamp="yesterday"), "FormatViolation"),
    ("StatusNotification", with_(STATUS, timestamp="2026-02-30T10:00:00Z"), "FormatViolation"),
    ("StatusNotification", with_(STATUS, timestamp="2026-12-03 10:00:00Z"), "FormatViolation"),
])
def test_each_schema_failure_maps_to_its_2_0_1_code(action, payload, expected):
    assert code(action, "Request", payload) == expected


def test_custom_data_may_carry_extra_properties_but_needs_a_vendor_id():
    # [J201] §9: CustomData on every message, open for extension.
    ok = {"customData": {"vendorId": "com.borne", "anything": {"deep": [1, 2]}}}
    assert code("Heartbeat", "Request", ok) is None
    assert code("Heartbeat", "Request", {"customData": {"x": 1}}) == (
        "OccurrenceConstraintViolation")


def test_the_description_names_the_field_and_the_rule_but_never_the_value():
    secret = "hunter2-" * 200
    problem = schemas.payload_problem("SetVariables", "Request", {"setVariableData": [{
        "attributeValue": secret, "component": {"name": "SecurityCtrlr"},
        "variable": {"name": "BasicAuthPassword"}}]})
    assert problem.code == "PropertyConstraintViolation"
    assert problem.description == "setVariableData/0/attributeValue: longer than 1000 characters"
    assert "hunter2" not in problem.description


def test_description_of_a_missing_field_and_of_an_extra_one():
    assert schemas.payload_problem("BootNotification", "Request", {}).description == (
        "(payload): missing required property reason, chargingStation")
    assert schemas.payload_problem("Heartbeat", "Request", {"x" * 300: 1}).description == (
        f"(payload): property {repr('x' * 300)[:40]} is not defined by the message")


def test_an_integral_float_is_an_integer_in_draft_6():
    # Draft 6 changed "integer" to any number with a zero fractional part; the handler
    # that needs an int must convert (evseId 1.0 is schema-valid).
    assert code("StatusNotification", "Request", with_(STATUS, evseId=1.0)) is None


def test_unknown_action_is_notimplemented():
    assert code("StartTransaction", "Request", {}) == "NotImplemented"


@pytest.mark.parametrize("value", ["2026-12-03T09:30:00Z", "2026-12-03t09:30:00z",
                                   "2026-12-03T09:30:00.123456789+01:00",
                                   "2016-12-31T23:59:60Z", "2024-02-29T00:00:00-12:30"])
def test_rfc3339_date_times_pass_both_ways(value):
    assert schemas.is_date_time(value, strict=True)
    assert schemas.is_date_time(value, strict=False)


@pytest.mark.parametrize("value", ["2026-12-03T09:30:00", "2026-12-03T09:30:00.5"])
def test_a_date_time_without_offset_is_read_but_never_sent(value):
    assert schemas.is_date_time(value, strict=False)
    assert not schemas.is_date_time(value, strict=True)
    response = {"currentTime": value, "interval": 300, "status": "Accepted"}
    assert code("BootNotification", "Response", response) is None
    with pytest.raises(InvalidOutgoingMessage):
        schemas.require_valid("BootNotification", "Response", response)


@pytest.mark.parametrize("value", ["", "2026-12-03", "2026-13-03T09:30:00Z",
                                   "2026-12-03T24:00:00Z", "2026-12-03T09:60:00Z",
                                   "2026-12-03T09:30:61Z", "2026-12-03T09:30:00+24:00",
                                   "2026-12-03T09:30:00+0100", "2026-12-03T09:30Z",
                                   "２０２６-12-03T09:30:00Z", "2026-12-03T09:30:00Z\n"])
def test_not_a_date_time(value):
    assert not schemas.is_date_time(value, strict=False)


# ------------------------------------------------------------------ outgoing

def test_a_payload_of_ours_that_breaks_the_schema_raises_with_the_field_and_code():
    with pytest.raises(InvalidOutgoingMessage, match=r"TransactionEventRequest "
                       r"PropertyConstraintViolation: triggerReason: must be one of"):
        schemas.require_valid("TransactionEvent", "Request", with_(
            VALID["TransactionEvent"][0], triggerReason="Started"))


def test_an_unknown_action_of_ours_raises():
    with pytest.raises(InvalidOutgoingMessage):
        schemas.require_valid("StartTransaction", "Request", {})


def test_invalid_outgoing_message_is_an_ocpp_error_of_ours():
    from firmware.errors import BorneError, OcppError

    assert issubclass(InvalidOutgoingMessage, OcppError)
    assert issubclass(InvalidOutgoingMessage, BorneError)


def test_timestamps_we_send_carry_an_offset():
    assert schemas.is_date_time(NOW, strict=True)


def test_every_code_used_by_the_mapping_is_a_2_0_1_code():
    assert set(schemas._CODE_BY_KEYWORD.values()) <= ERROR_CODES


def test_inlined_definitions_leave_no_reference_in_any_2_0_1_schema():
    def refs(node):
        if isinstance(node, dict):
            return ("$ref" in node) + sum(refs(v) for k, v in node.items() if k != "definitions")
        if isinstance(node, list):
            return sum(refs(v) for v in node)
        return 0

    for action in sorted(schemas.known_actions()):
        for kind in ("Request", "Response"):
            text = resources.files("ocpp").joinpath(
                "v201", "schemas", f"{action}{kind}.json").read_text("utf-8-sig")
            assert refs(schemas.inline_definitions(json.loads(text))) == 0, action + kind


def test_a_self_referring_definition_keeps_its_reference_and_still_validates():
    schema = {"$schema": schemas.SCHEMA_DRAFT, "definitions": {"Node": {
        "type": "object", "properties": {"next": {"$ref": "#/definitions/Node"}},
        "additionalProperties": False}}, "$ref": "#/definitions/Node"}
    inlined = schemas.inline_definitions(schema)
    validator = Draft6Validator(inlined)
    assert validator.is_valid({"next": {"next": {}}})
    assert not validator.is_valid({"next": {"next": {"x": 1}}})
