"""``rpc.read``: a CallFrame out of it is ready for its handler; everything else carries
its one CALLERROR ([J201] §4.3: NotImplemented unknown, NotSupported recognised only)."""

import json

import pytest

from firmware.ocpp.v201 import frames, rpc

from .samples import CSMS_SENDS, STATION_SENDS, VALID


@pytest.mark.parametrize("action", sorted(CSMS_SENDS))
def test_a_valid_csms_call_is_ready_for_its_handler(action):
    text = json.dumps([2, "m-1", action, VALID[action][0]])
    assert rpc.read(text) == frames.CallFrame("m-1", action, VALID[action][0])


@pytest.mark.parametrize("action", sorted(STATION_SENDS))
def test_a_call_only_stations_send_is_notsupported_when_the_csms_sends_it(action):
    answer = json.loads(rpc.read(json.dumps([2, "m-1", action, VALID[action][0]])).reply())
    assert answer[:3] == [4, "m-1", "NotSupported"]


@pytest.mark.parametrize("action, payload", [
    ("SetDisplayMessage", {}),           # block O: not built
    ("GetDisplayMessages", {}),          # block O
    ("PublishFirmware", {}),             # block L: local controller, not built
])
def test_a_known_action_we_do_not_support_yet_is_notsupported_before_its_schema(
        action, payload):
    assert rpc.read(json.dumps([2, "m-1", action, payload])).error.code == "NotSupported"


def test_unknown_action_stays_notimplemented():
    assert rpc.read('[2,"m-1","StartTransaction",{}]').error.code == "NotImplemented"


def test_supported_set_can_be_narrowed():
    text = json.dumps([2, "m-1", "Reset", {"type": "OnIdle"}])
    assert rpc.read(text, supported=frozenset({"GetVariables"})).error.code == "NotSupported"


@pytest.mark.parametrize("payload, code", [
    ({}, "OccurrenceConstraintViolation"),
    ({"type": "Hard"}, "PropertyConstraintViolation"),
    ({"type": "OnIdle", "evseId": "1"}, "TypeConstraintViolation"),
    ({"type": "OnIdle", "connectorId": 1}, "FormatViolation"),
])
def test_an_invalid_payload_is_answered_with_its_schema_code(payload, code):
    assert json.loads(rpc.read(json.dumps([2, "m-1", "Reset", payload])).reply())[:3] == [
        4, "m-1", code]


def test_other_frames_pass_through():
    assert isinstance(rpc.read('[3,"m-1",{}]'), frames.ResultFrame)
    assert isinstance(rpc.read('[4,"m-1","GenericError","",{}]'), frames.ErrorFrame)
    assert json.loads(rpc.read("nope").reply())[:3] == [4, "-1", "RpcFrameworkError"]


def test_check_result_against_the_response_schema_of_our_call():
    good = frames.parse(json.dumps([3, "m-1", VALID["BootNotification"][1]]))
    assert rpc.check_result("BootNotification", good) == good
    bad = frames.parse('[3,"m-1",{"status":"Accepted","interval":300}]')
    assert rpc.check_result("BootNotification", bad).code == "OccurrenceConstraintViolation"
    # A 1.6-shaped answer to a 2.0.1 Heartbeat
    assert rpc.check_result("Heartbeat", frames.parse(
        '[3,"m-1",{"currentTime":"2026-12-03T09:30:00Z","x":1}]')).code == "FormatViolation"


def test_message_ids_are_36_characters_and_distinct():
    ids = {rpc.new_message_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(frames.is_message_id(i) and len(i) == 36 for i in ids)


def test_an_integral_float_in_an_integer_field_reaches_the_handler_as_an_int():
    # Draft 6: 1.0 is an integer, so it is valid; the handler must still get an int.
    frame = rpc.read('[2,"m-1","Reset",{"type":"Immediate","evseId":1.0}]')
    assert frame.payload == {"type": "Immediate", "evseId": 1}
    assert type(frame.payload["evseId"]) is int
    frame = rpc.read('[2,"m-1","RequestStartTransaction",{"idToken":{"idToken":"T",'
                     '"type":"Central"},"remoteStartId":7e0,"evseId":1.0}]')
    assert [type(frame.payload[k]) for k in ("remoteStartId", "evseId")] == [int, int]


def test_a_decimal_field_keeps_its_float_and_nested_integers_are_converted():
    payload = {"evseId": 0, "meterValue": [{"timestamp": "2026-12-03T09:30:00Z",
                                            "sampledValue": [{"value": 2.0}]}]}
    result = frames.parse(json.dumps([3, "m-1", {}]))
    assert rpc.check_result("MeterValues", result) == result
    from firmware.ocpp.v201 import schemas
    converted = schemas.with_integers("MeterValues", "Request", payload)
    assert type(converted["meterValue"][0]["sampledValue"][0]["value"]) is float
    converted = schemas.with_integers("SetVariables", "Response", {"setVariableResult": [
        {"attributeStatus": "Accepted", "component": {"name": "EVSE", "evse": {"id": 2.0}},
         "variable": {"name": "Power"}}]})
    assert type(converted["setVariableResult"][0]["component"]["evse"]["id"]) is int


def test_an_integral_float_beyond_64_bits_is_a_typeconstraintviolation():
    frame = rpc.read('[2,"m-1","Reset",{"type":"Immediate","evseId":1e300}]')
    assert frame.error.code == "TypeConstraintViolation"
    assert frame.error.description.startswith("evseId:")
    result = frames.parse('[3,"m-1",{"currentTime":"2026-12-03T09:30:00Z","interval":1e19,'
                          '"status":"Accepted"}]')
    assert rpc.check_result("BootNotification", result).code == "TypeConstraintViolation"


def test_an_integral_float_in_a_callresult_becomes_an_int():
    result = frames.parse('[3,"m-1",{"currentTime":"2026-12-03T09:30:00Z","interval":300.0,'
                          '"status":"Accepted"}]')
    checked = rpc.check_result("BootNotification", result)
    assert checked.payload["interval"] == 300 and type(checked.payload["interval"]) is int
