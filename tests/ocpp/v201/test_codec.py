"""``V201Codec``: the FrameCodec the session uses for 2.0.1, driven with wire bytes.

Rules: [J201] §4.1.7 (invalid message ⇒ CALLERROR), §4.2.3 (MessageId "-1" when it
cannot be read; never echo invalid JSON), §4.3 codes, §4.4 (unknown MessageTypeId ⇒
MessageTypeNotSupported) — ocpp201-rules.md §0.
"""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware.errors import OcppError
from firmware.ocpp.adapter import FrameCodec
from firmware.ocpp.frames import CallErrorReply
from firmware.ocpp.v201 import frames
from firmware.ocpp.v201.codec import CheckedCall, V201Codec
from firmware.ocpp.v201.errors import ERROR_CODES, CallError, InvalidOutgoingMessage

from .samples import NOW, VALID

codec = V201Codec()


def _reply(received):
    assert received.kind == "bad", received
    assert received.reply is not None
    return json.loads(received.reply)


def test_it_is_a_frame_codec():
    typed: FrameCodec = codec
    assert typed is codec


def test_a_valid_call_is_ready_for_the_dispatcher():
    received = codec.read(json.dumps([2, "m-1", "Reset", {"type": "Immediate", "evseId": 1.0}]))
    assert received.kind == "call" and received.action == "Reset"
    assert received.message_id == "m-1"
    assert isinstance(received.call, CheckedCall)  # the dispatcher trusts its check
    assert isinstance(received.call, frames.CallFrame)
    assert received.call.payload == {"type": "Immediate", "evseId": 1}
    assert type(received.call.payload["evseId"]) is int  # draft 6 1.0 → int 1


def test_bytes_that_are_utf8_read_like_text():
    received = codec.read(b'[2,"m-1","ClearCache",{}]')
    assert received.kind == "call" and received.action == "ClearCache"


@pytest.mark.parametrize("data", [b"\xff\xfe[2]", b'[2,"m-1","Reset",{"type":"\xc3"}]',
                                  "[2,\"m-1\",\"Reset\",{}]".encode("utf-16")])
def test_wrong_encoding_is_rpcframeworkerror_with_minus_one(data):
    assert _reply(codec.read(data))[:3] == [4, "-1", "RpcFrameworkError"]


@pytest.mark.parametrize("text", ["", "not json", "{}", "[]", '"2"', "[2, 'm', 'Reset', {}]",
                                  "\x00", "[" * 100_000])
def test_unreadable_is_rpcframeworkerror_with_minus_one(text):
    reply = _reply(codec.read(text))
    assert reply[:3] == [4, "-1", "RpcFrameworkError"]
    assert text[:20] not in reply[3] or not text  # never echoed


def test_invalid_json_after_a_readable_start_keeps_the_message_id():
    reply = _reply(codec.read('[2,"m-7","Reset",{"type":'))
    assert reply[:3] == [4, "m-7", "RpcFrameworkError"]


@pytest.mark.parametrize("kind", [0, 1, 5, 99, -2])
def test_unknown_message_type_is_messagetypenotsupported(kind):
    assert _reply(codec.read(f'[{kind},"m-1","Reset",{{}}]'))[:3] == [
        4, "m-1", "MessageTypeNotSupported"]


@pytest.mark.parametrize("kind", ["2.0", '"2"', "true", "null", str(2**70)])
def test_a_message_type_that_is_not_an_integer_is_rpcframeworkerror(kind):
    # 2**70 fits no wire integer: read as unfit, so not a MessageTypeId either.
    assert _reply(codec.read(f'[{kind},"m-1","Reset",{{}}]'))[2] == "RpcFrameworkError"


@pytest.mark.parametrize("message_id", ['""', "7", "null", '"' + "x" * 37 + '"', '"\\ud800"'])
def test_an_unreadable_message_id_gets_minus_one(message_id):
    assert _reply(codec.read(f'[2,{message_id},"Reset",{{"type":"OnIdle"}}]'))[:3] == [
        4, "-1", "RpcFrameworkError"]


def test_a_36_character_message_id_is_echoed():
    mid = "x" * 36
    assert codec.read(f'[2,"{mid}","ClearCache",{{}}]').message_id == mid


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_formatviolation(number):
    reply = _reply(codec.read(f'[2,"m-1","Reset",{{"type":"OnIdle","evseId":{number}}}]'))
    assert reply[:3] == [4, "m-1", "FormatViolation"]


@pytest.mark.parametrize("number", ["1" * 5000, "9223372036854775808", "1e400", "-1e400"])
def test_over_long_numbers_are_typeconstraintviolation(number):
    reply = _reply(codec.read(f'[2,"m-1","Reset",{{"type":"OnIdle","evseId":{number}}}]'))
    assert reply[:3] == [4, "m-1", "TypeConstraintViolation"]
    assert len(reply[3]) <= 255  # a short prefix at most, never the whole number


def test_an_integral_float_beyond_64_bits_is_typeconstraintviolation():
    reply = _reply(codec.read('[2,"m-1","Reset",{"type":"OnIdle","evseId":1e300}]'))
    assert reply[:3] == [4, "m-1", "TypeConstraintViolation"]


def test_a_huge_frame_is_formatviolation_without_parsing_it():
    text = '[2,"m-1","DataTransfer",{"vendorId":"v","data":"' + "x" * (5 * 1024 * 1024) + '"}]'
    assert _reply(codec.read(text))[:3] == [4, "m-1", "FormatViolation"]


def test_deep_nesting_is_formatviolation():
    data = "[" * 40 + "]" * 40
    reply = _reply(codec.read(f'[2,"m-1","DataTransfer",{{"vendorId":"v","data":{data}}}]'))
    assert reply[:3] == [4, "m-1", "FormatViolation"]


def test_an_unknown_action_is_notimplemented():
    assert _reply(codec.read('[2,"m-1","RemoteStartTransaction",{}]'))[:3] == [
        4, "m-1", "NotImplemented"]


def test_a_known_action_we_do_not_answer_is_notsupported():
    assert _reply(codec.read('[2,"m-1","SetDisplayMessage",{}]'))[:3] == [4, "m-1", "NotSupported"]


def test_supported_can_be_narrowed():
    narrow = V201Codec(frozenset({"Reset"}))
    assert _reply(narrow.read('[2,"m-1","ClearCache",{}]'))[2] == "NotSupported"


@pytest.mark.parametrize("payload, code", [
    ({"type": 1}, "TypeConstraintViolation"),
    ({}, "OccurrenceConstraintViolation"),
    ({"type": "Hard"}, "PropertyConstraintViolation"),
    ({"type": "OnIdle", "extra": 1}, "FormatViolation"),
    ({"type": "OnIdle", "evseId": "1"}, "TypeConstraintViolation"),
])
def test_schema_violations_get_their_2_0_1_code(payload, code):
    assert _reply(codec.read(json.dumps([2, "m-1", "Reset", payload])))[:3] == [4, "m-1", code]


def test_payload_not_an_object_is_formatviolation():
    assert _reply(codec.read('[2,"m-1","Reset",[]]'))[2] == "FormatViolation"


def test_a_call_with_five_elements_is_rpcframeworkerror():
    assert _reply(codec.read('[2,"m-1","Reset",{},{}]'))[2] == "RpcFrameworkError"


def test_a_result_and_an_error_are_read():
    result = codec.read(json.dumps([3, "m-2", {"currentTime": NOW}]))
    assert (result.kind, result.message_id, result.payload) == ("result", "m-2",
                                                                {"currentTime": NOW})
    error = codec.read('[4,"m-3","NotSupported","no",{}]')
    assert (error.kind, error.code, error.description) == ("error", "NotSupported", "no")


@pytest.mark.parametrize("text", ['[3,"m-4",{"interval":' + "9" * 400 + "}]",
                                  '[3,"m-4",[]]', '[4,"m-4","X"]', '[3,"m-4"]'])
def test_a_broken_response_fails_its_call_and_is_not_answered(text):
    received = codec.read(text)
    assert received.kind == "error" and received.message_id == "m-4"
    assert received.reply is None


def test_a_broken_response_without_message_id_is_dropped_unanswered():
    received = codec.read('[3,7,{}]')
    assert received.kind == "bad" and received.reply is None


def test_encode_call_and_result_validate_our_payload():
    request, response = VALID["BootNotification"]
    assert json.loads(codec.encode_call("c-1", "BootNotification", request)) == [
        2, "c-1", "BootNotification", request]
    assert json.loads(codec.encode_result("c-2", "Reset", {"status": "Accepted"})) == [
        3, "c-2", {"status": "Accepted"}]
    with pytest.raises(InvalidOutgoingMessage):
        codec.encode_call("c-1", "BootNotification", {"reason": "PowerUp"})
    with pytest.raises(InvalidOutgoingMessage):
        codec.encode_result("c-2", "Reset", {"status": "Maybe"})
    with pytest.raises(OcppError):
        codec.encode_result("c-2", "Reset", {"status": "Accepted", "x": float("nan")})


def test_encode_error_renames_1_6_codes():
    assert json.loads(codec.encode_error("m-1", CallErrorReply("FormationViolation", "bad"))) == [
        4, "m-1", "FormatViolation", "bad", {}]
    assert json.loads(codec.encode_error("-1", CallError("RpcFrameworkError"))) == [
        4, "-1", "RpcFrameworkError", "", {}]
    with pytest.raises(InvalidOutgoingMessage):
        codec.encode_error("m-1", ValueError("x"))


def test_response_problem_checks_the_answer_to_our_call():
    payload, problem = codec.response_problem("BootNotification", {
        "currentTime": NOW, "interval": 300.0, "status": "Accepted"})
    assert problem is None and type(payload["interval"]) is int
    _, problem = codec.response_problem("BootNotification", {"status": "Accepted"})
    assert problem is not None and problem[0] == "OccurrenceConstraintViolation"
    _, problem = codec.response_problem("Heartbeat", {"currentTime": "yesterday"})
    assert problem is not None and problem[0] == "FormatViolation"


@settings(derandomize=True, database=None, max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode)
       | st.sampled_from([b'[2,"m",', b'[3,"m",{', b'[4,"m","', b'[2,"m","Reset",{"type":'])
       .flatmap(lambda head: st.binary(max_size=40).map(lambda tail: head + tail)))
def test_read_never_raises_and_a_bad_frame_has_one_2_0_1_callerror(data):
    received = codec.read(data)
    assert received.kind in ("call", "result", "error", "bad")
    if received.kind == "bad" and received.reply is not None:
        reply = json.loads(received.reply)
        assert reply[0] == 4 and reply[2] in ERROR_CODES and len(reply) == 5
