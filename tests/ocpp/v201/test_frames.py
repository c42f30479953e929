"""OCPP-J 2.0.1 frames from text ([J201] §4, ocpp201-rules.md §0): what parses, what is
answered with which CALLERROR, what is never answered."""

import json

import pytest

from firmware.ocpp.frames import CallErrorReply
from firmware.ocpp.v201 import frames
from firmware.ocpp.v201.errors import ERROR_CODES, CallError, InvalidOutgoingMessage

from .samples import CSMS_SENDS, VALID


def reply(frame):
    assert isinstance(frame, frames.BadFrame), frame
    text = frame.reply()
    return None if text is None else json.loads(text)


# ------------------------------------------------------------------ valid frames

@pytest.mark.parametrize("action", sorted(VALID))
def test_a_valid_call_of_each_action_parses(action):
    request, _ = VALID[action]
    text = json.dumps([2, "19223201", action, request])
    assert frames.parse(text) == frames.CallFrame("19223201", action, request)
    assert frames.parse(text.encode()) == frames.CallFrame("19223201", action, request)


@pytest.mark.parametrize("action", sorted(VALID))
def test_a_valid_callresult_of_each_action_parses(action):
    _, response = VALID[action]
    text = json.dumps([3, "19223201", response], indent=2)  # whitespace is fine
    assert frames.parse(text) == frames.ResultFrame("19223201", response)


def test_the_specification_example_call_parses():
    # [J201] §4.2.1 shape: [<MessageTypeId>, "<MessageId>", "<Action>", {<Payload>}]
    text = ('[2,"19223201","BootNotification",{"reason":"PowerUp","chargingStation":'
            '{"model":"SingleSocketCharger","vendorName":"VendorX"}}]')
    frame = frames.parse(text)
    assert isinstance(frame, frames.CallFrame)
    assert frame.payload["chargingStation"]["vendorName"] == "VendorX"


def test_a_callerror_parses_with_its_five_elements():
    text = '[4,"162376037","NotSupported","SetDisplayMessageRequest not implemented",{}]'
    assert frames.parse(text) == frames.ErrorFrame(
        "162376037", "NotSupported", "SetDisplayMessageRequest not implemented", {})


def test_a_message_id_of_36_characters_is_fine():
    message_id = "0f7c1a52-3d7e-4b8e-9a51-2f0d1c9e8b77"
    assert len(message_id) == 36
    assert frames.parse(f'[2,"{message_id}","Heartbeat",{{}}]').message_id == message_id


def test_text_escapes_and_non_ascii_are_kept():
    frame = frames.parse(r'[2,"a\u00e9","DataTransfer",{"vendorId":"Bórne \ud83d\ude00"}]')
    assert frame == frames.CallFrame("aé", "DataTransfer", {"vendorId": "Bórne 😀"})


# ------------------------------------------------------------------ unreadable: "-1"

@pytest.mark.parametrize("text", [
    "", "   ", "hello", "[2,", "{", "null", "2", '"[2,\\"a\\"]"', "{}", '{"0":2}', "[]",
    "[2,]", "[2 \"a\" \"Heartbeat\" {}]", "\x00", "[2,'a','Heartbeat',{}]",
    "[" * 100_000 + "]" * 100_000,      # deeper than the C decoder's stack
])
def test_unreadable_message_gets_rpcframeworkerror_with_message_id_minus_one(text):
    # [J201] §4.2.3: "When also the MessageId cannot be read, the CALLERROR SHALL
    # contain "-1" as MessageId"; RpcFrameworkError: "MessageId could not be read" (§4.3).
    assert reply(frames.parse(text)) == [4, "-1", "RpcFrameworkError", frames.parse(
        text).error.description, {}]


@pytest.mark.parametrize("data", [b"\xff\xfe[2]", b"[2,\"a\",\"Heartbeat\",{\"x\":\"\xc3\"}]"])
def test_bytes_that_are_not_utf8_get_rpcframeworkerror_minus_one(data):
    answer = reply(frames.parse(data))
    assert answer[:3] == [4, "-1", "RpcFrameworkError"]


@pytest.mark.parametrize("text", [
    '[2]', '[2,null,"Heartbeat",{}]', '[2,17,"Heartbeat",{}]', '[2,"","Heartbeat",{}]',
    '[2,"' + "x" * 37 + '","Heartbeat",{}]',
    '[2,"\\udc80","Heartbeat",{}]',      # a lone surrogate is not text to echo
    '[2,["a"],"Heartbeat",{}]',
    '[2,' + "9" * 5000 + ',"Heartbeat",{}]',
])
def test_call_whose_message_id_cannot_be_used_is_answered_with_minus_one(text):
    # [J201] §4.1.1 MessageId ≤ 36; echoing a longer one would break the limit ourselves.
    assert reply(frames.parse(text))[:3] == [4, "-1", "RpcFrameworkError"]


def test_broken_json_with_a_plain_call_prefix_is_answered_to_that_message_id():
    # The MessageId can be read, so "-1" is not due; the JSON itself is not echoed.
    text = '[2,"abc-1","Heartbeat",{"oops":}]'
    answer = reply(frames.parse(text))
    assert answer[:3] == [4, "abc-1", "RpcFrameworkError"]
    assert "oops" not in answer[3]


# ------------------------------------------------------------------ MessageTypeId

@pytest.mark.parametrize("kind", ["0", "1", "5", "6", "-2", "99", "9223372036854775807"])
def test_unknown_message_type_id_gets_messagetypenotsupported(kind):
    # [J201] §4.4 (rules §0). 5 and 6 are OCPP 2.1 additions, unknown to 2.0.1.
    answer = reply(frames.parse(f'[{kind},"m-1","Heartbeat",{{}}]'))
    assert answer[:3] == [4, "m-1", "MessageTypeNotSupported"]


def test_unknown_message_type_id_without_message_id_gets_minus_one():
    assert reply(frames.parse("[7]"))[:3] == [4, "-1", "MessageTypeNotSupported"]


@pytest.mark.parametrize("kind", ['"2"', "2.0", "2.5", "true", "null", "[2]", "{}",
                                  "1" * 5000, "1e400"])
def test_message_type_id_that_is_not_an_integer_gets_rpcframeworkerror(kind):
    assert reply(frames.parse(f'[{kind},"m-1","Heartbeat",{{}}]'))[:3] == [
        4, "m-1", "RpcFrameworkError"]


@pytest.mark.parametrize("text", ['[3.0,"m-1",{}]', '[4.0,"m-1","GenericError","",{}]'])
def test_a_float_response_type_is_not_answered(text):
    frame = frames.parse(text)
    assert frame.error.code == "RpcFrameworkError" and frame.message_id == "m-1"
    assert reply(frame) is None


# ------------------------------------------------------------------ CALL shape

@pytest.mark.parametrize("text, code", [
    ('[2,"m-1"]', "RpcFrameworkError"),
    ('[2,"m-1","Heartbeat"]', "RpcFrameworkError"),
    ('[2,"m-1","Heartbeat",{},{}]', "RpcFrameworkError"),
    ('[2,"m-1",17,{}]', "RpcFrameworkError"),
    ('[2,"m-1",null,{}]', "RpcFrameworkError"),
    ('[2,"m-1","\\ud800",{}]', "RpcFrameworkError"),
    ('[2,"m-1","Heartbeat",[]]', "FormatViolation"),
    ('[2,"m-1","Heartbeat","{}"]', "FormatViolation"),
    ('[2,"m-1","Heartbeat",null]', "FormatViolation"),
    ('[2,"m-1","Heartbeat",1]', "FormatViolation"),
])
def test_malformed_call_is_answered_to_its_message_id(text, code):
    assert reply(frames.parse(text))[:3] == [4, "m-1", code]


@pytest.mark.parametrize("action", [
    "FooBar", "", "heartbeat", "HeartbeatRequest", "StartTransaction",   # 1.6 only
    "NotifySettlement",                                                    # 2.1 only
    "x" * 10_000,
])
def test_unknown_action_gets_notimplemented(action):
    # [J201] §4.3 NotImplemented: "Requested Action is not known" (the ocpp library
    # has this the other way round, rules §10).
    answer = reply(frames.parse(json.dumps([2, "m-1", action, {}])))
    assert answer[:3] == [4, "m-1", "NotImplemented"]
    assert len(answer[3]) <= 255


# ------------------------------------------------------------------ values that do not fit

@pytest.mark.parametrize("text, where", [
    ('[2,"m-1","Heartbeat",{"customData":{"vendorId":"v","n":' + "1" * 5000 + '}}]',
     "customData/n"),
    ('[2,"m-1","Heartbeat",{"a":-' + "1" * 100_000 + '}]', "a"),
    ('[2,"m-1","Heartbeat",{"a":9223372036854775808}]', "a"),
    ('[2,"m-1","Heartbeat",{"a":1e400}]', "a"),
    ('[2,"m-1","Heartbeat",{"a":-1e400}]', "a"),
    ('[2,"m-1","Heartbeat",{"a":["ok","\\udc80"]}]', "a/1"),
    ('[2,"m-1","Heartbeat",{"\\ud800k":1}]', "(payload)"),
])
def test_value_that_fits_no_wire_type_is_a_typeconstraintviolation(text, where):
    answer = reply(frames.parse(text))
    assert answer[:3] == [4, "m-1", "TypeConstraintViolation"]
    assert answer[3].startswith(where + ":")
    assert len(answer[3]) <= 255


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_a_formatviolation_of_a_readable_call(constant):
    # RFC 8259 §6: not JSON numbers; the MessageId is readable, so it is answered.
    text = f'[2,"m-1","MeterValues",{{"evseId":1,"meterValue":[{{"value":{constant}}}]}}]'
    assert reply(frames.parse(text))[:3] == [4, "m-1", "FormatViolation"]


def test_values_that_fit_are_kept():
    text = ('[2,"m-1","DataTransfer",{"vendorId":"v","data":{"a":9223372036854775807,'
            '"b":-9223372036854775808,"c":1.7e308,"d":"\\\\ud800 is six characters"}}]')
    frame = frames.parse(text)
    assert isinstance(frame, frames.CallFrame)
    assert frame.payload["data"]["a"] == 2 ** 63 - 1


def test_nesting_deeper_than_the_limit_is_a_formatviolation():
    deep = "[" * 40 + "]" * 40
    answer = reply(frames.parse(f'[2,"m-1","DataTransfer",{{"vendorId":"v","data":{deep}}}]'))
    assert answer[:3] == [4, "m-1", "FormatViolation"]


def test_nesting_within_the_limit_and_many_brackets_in_strings_are_fine():
    ok = "[" * 20 + "]" * 20
    text = f'[2,"m-1","DataTransfer",{{"vendorId":"{"[" * 500}","data":{ok}}}]'
    assert isinstance(frames.parse(text), frames.CallFrame)


def test_frame_longer_than_the_limit_is_refused_before_parsing():
    text = '[2,"m-1","DataTransfer",{"vendorId":"v","data":"' + "x" * 2000 + '"}]'
    assert reply(frames.parse(text, max_frame_chars=1000))[:3] == [4, "m-1", "FormatViolation"]
    assert reply(frames.parse("x" * 1001, max_frame_chars=1000))[:2] == [4, "-1"]


def test_a_frame_of_the_default_limit_parses():
    payload = {"vendorId": "v", "data": "x" * (frames.MAX_FRAME_CHARS - 100)}
    frame = frames.parse(json.dumps([2, "m-1", "DataTransfer", payload]))
    assert isinstance(frame, frames.CallFrame)


# ------------------------------------------------------------------ responses: never answered

@pytest.mark.parametrize("text, code", [
    ('[3,"m-1"]', "RpcFrameworkError"),
    ('[3,"m-1",{},{}]', "RpcFrameworkError"),
    ('[3,"m-1",[]]', "FormatViolation"),
    ('[3,"m-1",{"currentTime":NaN}]', "FormatViolation"),
    ('[3,"m-1",{"interval":' + "9" * 5000 + "}]", "TypeConstraintViolation"),
    ('[3,"m-1",{"status":"\\udfff"}]', "TypeConstraintViolation"),
    ('[3,"m-1",{"status":"Accepted"', "RpcFrameworkError"),
    ('[4,"m-1","GenericError"]', "RpcFrameworkError"),
    ('[4,"m-1","GenericError","",{},1]', "RpcFrameworkError"),
])
def test_broken_response_is_not_answered_but_keeps_its_message_id(text, code):
    # A CALLERROR answers a CALL only; the caller fails the pending CALL with it.
    frame = frames.parse(text)
    assert isinstance(frame, frames.BadFrame)
    assert (frame.error.code, frame.message_id, frame.reply()) == (code, "m-1", None)


def test_response_with_unreadable_message_id_is_not_answered():
    for text in ('[3,"' + "x" * 37 + '",{}]', '[3,null,{}]', '[4]', '[3]'):
        frame = frames.parse(text)
        assert frame.message_id is None and frame.reply() is None, text


def test_callerror_from_the_peer_is_kept_as_printable_text():
    text = '[4,"m-1",' + "9" * 5000 + ',"\\udc80 bad",{"x":1e999}]'
    frame = frames.parse(text)
    assert isinstance(frame, frames.ErrorFrame)
    assert frame.code.startswith("<number 999") and frame.description == "\\udc80 bad"
    assert frame.details == {}
    frame.description.encode("utf-8")  # loggable


def test_callerror_with_details_that_are_not_an_object_keeps_empty_details():
    assert frames.parse('[4,"m-1","GenericError","x",[1]]').details == {}
    assert frames.parse('[4,"m-1","GenericError","x",{"k":[1]}]').details == {"k": [1]}


# ------------------------------------------------------------------ sending

def test_encoded_frames_are_compact_utf8_json():
    request, response = VALID["BootNotification"]
    assert frames.encode_call("1", "BootNotification", request) == json.dumps(
        [2, "1", "BootNotification", request], separators=(",", ":"))
    assert frames.encode_result("1", "BootNotification", response).startswith('[3,"1",{')
    assert frames.encode_call("é", "DataTransfer", {"vendorId": "Bórne"}) == (
        '[2,"é","DataTransfer",{"vendorId":"Bórne"}]')


def test_encoded_error_has_five_elements_and_may_use_minus_one():
    error = CallError("RpcFrameworkError", "x" * 1000, {"hint": "MessageId"})
    text = frames.encode_error("-1", error)
    answer = json.loads(text)
    assert answer[:3] == [4, "-1", "RpcFrameworkError"]
    assert len(answer[3]) == 255 and answer[4] == {"hint": "MessageId"}


@pytest.mark.parametrize("message_id", ["", "x" * 37, "\udc80", 17, None])
def test_our_message_id_must_be_1_to_36_characters_of_text(message_id):
    with pytest.raises(InvalidOutgoingMessage):
        frames.encode_call(message_id, "Heartbeat", {})
    with pytest.raises(InvalidOutgoingMessage):
        frames.encode_error(message_id, CallError("GenericError"))


@pytest.mark.parametrize("payload", [
    {"customData": {"vendorId": "v", "x": float("nan")}},
    {"customData": {"vendorId": "v", "x": float("inf")}},
    {"customData": {"vendorId": "v", "x": 2 ** 64}},
    {"customData": {"vendorId": "v", "x": "\ud800"}},
    {"customData": {"vendorId": "v", 1: "non-string key"}},
    {"customData": {"vendorId": "v", "x": object()}},
    {"customData": {"vendorId": "v", "x": b"bytes"}},
])
def test_a_payload_json_cannot_carry_never_reaches_the_wire(payload):
    with pytest.raises(InvalidOutgoingMessage):
        frames.encode_call("1", "Heartbeat", payload)


def test_a_deeply_nested_payload_of_ours_is_refused_not_a_recursionerror():
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(InvalidOutgoingMessage):
        frames.encode_call("1", "DataTransfer", {"vendorId": "v", "data": deep})


def test_callerror_codes_are_the_2_0_1_codes_only():
    assert "FormatViolation" in ERROR_CODES and "FormationViolation" not in ERROR_CODES
    assert "OccurrenceConstraintViolation" in ERROR_CODES
    assert "OccurenceConstraintViolation" not in ERROR_CODES  # the 1.6 spelling
    assert len(ERROR_CODES) == 12
    with pytest.raises(InvalidOutgoingMessage):
        CallError("FormationViolation")
    with pytest.raises(InvalidOutgoingMessage):
        frames.encode_error("1", CallErrorReply("FormationViolation"))


def test_callerror_is_the_shared_reply_so_a_session_catching_it_answers_it():
    assert issubclass(CallError, CallErrorReply)


def test_callerror_description_is_printable_even_with_a_lone_surrogate():
    text = frames.encode_error("1", CallError("GenericError", "bad \udc80 text"))
    text.encode("utf-8")


def test_a_bad_frame_is_answered_exactly_once():
    frame = frames.parse('[2,"m-1","Nope",{}]')
    assert frame.reply() == frame.reply()  # no state: the caller sends it once


@pytest.mark.parametrize("action", sorted(CSMS_SENDS))
def test_our_results_for_csms_calls_are_checked(action):
    _, response = VALID[action]
    assert json.loads(frames.encode_result("m-1", action, response)) == [3, "m-1", response]
    with pytest.raises(InvalidOutgoingMessage):
        frames.encode_result("m-1", action, {"unknownProperty": 1})


@pytest.mark.parametrize("v16, v201", [
    ("FormationViolation", "FormatViolation"),
    ("OccurenceConstraintViolation", "OccurrenceConstraintViolation"),
    ("TypeConstraintViolation", "TypeConstraintViolation"),
    ("PropertyConstraintViolation", "PropertyConstraintViolation"),
    ("NotSupported", "NotSupported"),
    ("SomethingElse", "GenericError"),
])
def test_a_reply_of_shared_code_in_1_6_spelling_gets_its_2_0_1_code(v16, v201):
    from firmware.ocpp.v201.errors import from_v16

    error = from_v16(CallErrorReply(v16, "localAuthorizationList/0: why", {"k": 1}))
    assert (error.code, error.description, error.details) == (
        v201, "localAuthorizationList/0: why", {"k": 1})
    json.loads(frames.encode_error("m-1", error))
