"""Seeded, shrinking fuzz of the 2.0.1 frame reader: every input is either a usable frame
or one CALLERROR with a 2.0.1 code (or, for a broken response, a declared silence), and
never an exception. Bugs it finds are kept as plain tests in test_frames.py."""

import json

import pytest

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware.ocpp.v201 import frames, rpc, schemas
from firmware.ocpp.v201.errors import ERROR_CODES, InvalidOutgoingMessage

from .samples import VALID

FUZZ = settings(derandomize=True, database=None, max_examples=400, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

ACTIONS = sorted(schemas.known_actions())


def check(text):
    """The property: parse and rpc.read never raise; what they return can be acted on."""
    read = rpc.read(text)
    check_frame(read)
    assert not isinstance(read, frames.CallFrame) or schemas.payload_problem(
        read.action, "Request", read.payload) is None
    return check_frame(frames.parse(text))


def check_frame(frame):
    if isinstance(frame, frames.BadFrame):
        assert frame.error.code in ERROR_CODES
        assert len(frame.error.description) <= 255
        answer = frame.reply()
        if answer is None:
            assert frame.message_type in (frames.CALLRESULT, frames.CALLERROR)
        else:
            message = json.loads(answer)  # one CALLERROR, valid JSON, UTF-8 text
            answer.encode("utf-8")
            assert len(message) == 5 and message[0] == 4
            assert message[1] == (frame.message_id or "-1")
            assert message[2] in ERROR_CODES and message[4] == {}
    elif isinstance(frame, frames.CallFrame):
        # A clean payload: the schema check never raises either, and the frame
        # can be answered with a CALLRESULT or CALLERROR of ours.
        problem = schemas.payload_problem(frame.action, "Request", frame.payload)
        assert problem is None or problem.code in ERROR_CODES
        json.dumps(frame.payload, allow_nan=False).encode("utf-8")
        if problem is not None:
            frames.encode_error(frame.message_id, problem)
    elif isinstance(frame, frames.ResultFrame):
        for action in ("BootNotification", "Heartbeat", "TransactionEvent"):
            problem = schemas.payload_problem(action, "Response", frame.payload)
            assert problem is None or problem.code in ERROR_CODES
    else:
        assert isinstance(frame, frames.ErrorFrame)
        frame.code.encode("utf-8")
        frame.description.encode("utf-8")
        assert isinstance(frame.details, dict)
    return frame


json_scalars = (st.none() | st.booleans() | st.integers() | st.floats()
                | st.text(max_size=40) | st.sampled_from(["NaN", "1e400", "-0", "\udc80"]))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=25)


def dumps(value):
    # allow_nan: Python writes NaN / Infinity, which a broken peer could send too.
    return json.dumps(value, allow_nan=True)


@FUZZ
@given(st.text(max_size=200))
def test_any_text(text):
    check(text)


@FUZZ
@given(st.binary(max_size=200))
def test_any_bytes(data):
    check(data)


@FUZZ
@given(json_values)
def test_any_json_value(value):
    check(dumps(value))


@FUZZ
@given(st.lists(json_values, max_size=6))
def test_any_json_array(items):
    check(dumps(items))


@FUZZ
@given(kind=st.sampled_from([2, 3, 4]) | json_scalars,
       message_id=st.text(max_size=40) | json_scalars,
       action=st.sampled_from(ACTIONS) | st.text(max_size=20),
       payload=json_values, extra=st.lists(json_values, max_size=2))
def test_frame_shaped_arrays(kind, message_id, action, payload, extra):
    check(dumps([kind, message_id, action, payload, *extra]))
    check(dumps([kind, message_id, payload, *extra]))


@FUZZ
@given(action=st.sampled_from(sorted(VALID)), data=st.data())
def test_valid_payloads_with_one_field_replaced(action, data):
    request, response = VALID[action]
    for message in ([2, "m-1", action, dict(request)], [3, "m-1", dict(response)]):
        payload = message[-1]
        if payload:
            key = data.draw(st.sampled_from(sorted(payload)))
            payload[key] = data.draw(json_values)
        else:
            payload[data.draw(st.text(max_size=10))] = data.draw(json_values)
        check(dumps(message))


@FUZZ
@given(action=st.sampled_from(sorted(VALID)), cut=st.integers(min_value=0),
       insert=st.text(max_size=4))
def test_valid_frames_cut_or_spliced(action, cut, insert):
    text = json.dumps([2, "m-1", action, VALID[action][0]])
    at = cut % (len(text) + 1)
    check(text[:at])
    check(text[:at] + insert + text[at:])
    check(text[:at] + text[at + 1:])


@FUZZ
@given(digits=st.integers(min_value=19, max_value=6000), where=st.sampled_from(range(4)))
def test_long_numbers_anywhere(digits, where):
    number = "9" * digits
    parts = ["2", '"m-1"', '"Heartbeat"', '{"customData":{"vendorId":"v","n":0}}']
    parts[where] = number if where != 3 else parts[3].replace("0}", number + "}")
    frame = check("[" + ",".join(parts) + "]")
    assert isinstance(frame, frames.BadFrame)  # 19 nines already exceed 64 bits


def test_every_valid_sample_survives_the_property():
    for action, (request, response) in VALID.items():
        assert isinstance(check(json.dumps([2, "m-1", action, request])), frames.CallFrame)
        assert isinstance(check(json.dumps([3, "m-1", response])), frames.ResultFrame)


@FUZZ
@given(data=json_values, extra=st.dictionaries(st.text(max_size=12), json_values, max_size=3),
       message_id=st.text(max_size=40))
def test_what_we_encode_is_refused_or_reads_back_as_sent(data, extra, message_id):
    """encode_* raise only InvalidOutgoingMessage; what they return, parse reads back
    unchanged and schema-valid (nothing we send is refused by our own reader)."""
    for action, payload in (("DataTransfer", {"vendorId": "com.borne", "data": data}),
                            ("Heartbeat", {"customData": {"vendorId": "v", **extra}})):
        try:
            text = frames.encode_call(message_id, action, payload)
        except InvalidOutgoingMessage:
            continue
        assert frames.parse(text) == frames.CallFrame(message_id, action, payload)
        assert schemas.payload_problem(action, "Request", payload) is None


def test_a_payload_as_deep_as_parse_takes_is_sent_one_level_deeper_is_not():
    def nested(levels):  # the payload object is level 1, as parse counts
        value: list = []
        for _ in range(levels - 2):
            value = [value]
        return {"vendorId": "v", "data": value}

    text = frames.encode_call("1", "DataTransfer", nested(frames.MAX_DEPTH))
    assert isinstance(frames.parse(text), frames.CallFrame)
    with pytest.raises(InvalidOutgoingMessage):
        frames.encode_call("1", "DataTransfer", nested(frames.MAX_DEPTH + 1))
    deeper = json.dumps([2, "1", "DataTransfer", nested(frames.MAX_DEPTH + 1)])
    assert frames.parse(deeper).error.code == "FormatViolation"
