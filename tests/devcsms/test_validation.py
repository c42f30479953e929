"""The frame checks alone: OCPP-J framing, RFC 3339 timestamps, schemas with CiString lengths."""

import pytest

from devcsms.validation import CALL, CALLERROR, CALLRESULT, is_rfc3339_date_time, parse_frame, payload_problems


@pytest.mark.parametrize(
    "text",
    [
        "2025-03-01T12:00:00Z",
        "2025-03-01T12:00:00.123Z",
        "2025-03-01T12:00:00+00:00",
        "2025-03-01T13:00:00.5+01:00",
        "2024-02-29T00:00:00z",
        "2016-12-31T23:59:60Z",
    ],
)
def test_rfc3339_date_times_with_a_zone_are_accepted(text):
    assert is_rfc3339_date_time(text)


@pytest.mark.parametrize(
    "text",
    [
        "2025-03-01T12:00:00",  # no zone: the classic charge-point bug
        "2025-03-01 12:00:00Z",  # space separator
        "2025-03-01T12:00Z",  # no seconds
        "2025-02-29T00:00:00Z",  # not a leap year
        "2025-13-01T00:00:00Z",
        "2025-03-01T24:00:00Z",
        "2025-03-01T12:00:00+0100",  # offset without colon
        "1709294400",
    ],
)
def test_date_times_without_zone_or_malformed_are_refused(text):
    assert not is_rfc3339_date_time(text)


def test_schema_check_enforces_date_time_and_cistring_lengths():
    payload = {"connectorId": 1, "idTag": "X" * 21, "meterStart": 0, "timestamp": "2025-03-01T12:00:00"}
    problems = payload_problems(CALL, "StartTransaction", payload)
    assert problems == [
        "idTag: 'XXXXXXXXXXXXXXXXXXXXX' is too long",
        "timestamp: '2025-03-01T12:00:00' is not a 'date-time'",
    ]


def test_schema_check_of_results_uses_the_response_schema():
    assert payload_problems(CALLRESULT, "RemoteStartTransaction", {"status": "Accepted"}) == []
    assert payload_problems(CALLRESULT, "RemoteStartTransaction", {"status": "OK"}) != []
    assert payload_problems(CALL, "NoSuchAction", {}) == ["no OCPP 1.6 schema for NoSuchAction"]


def test_well_formed_frames_parse_without_problems():
    call = parse_frame('[2,"a1","Heartbeat",{}]')
    assert (call.message_type, call.unique_id, call.action, call.payload, call.problems) == (
        CALL,
        "a1",
        "Heartbeat",
        {},
        (),
    )
    error = parse_frame('[4,"a1","GenericError","boom",{"x":1}]')
    assert (error.message_type, error.error_code, error.error_description, error.payload) == (
        CALLERROR,
        "GenericError",
        "boom",
        {"x": 1},
    )


@pytest.mark.parametrize(
    ("text", "expected_problem"),
    [
        ("hello", "not JSON"),
        ('{"a":1}', "not a non-empty JSON array"),
        ("[9,\"a\"]", "unknown MessageTypeId 9"),
        ('[2,"a","Heartbeat"]', "CALL must have 4 elements, got 3"),
        ('[2,1,"Heartbeat",{}]', "UniqueId must be a string"),
        ('[2,"' + "u" * 37 + '","Heartbeat",{}]', "UniqueId longer than 36"),
        ('[3,"a",[]]', "Payload must be a JSON object"),
        ('[4,"a","FormatViolation","",{}]', "is not an OCPP-J 1.6 code"),
    ],
)
def test_framing_problems_are_named(text, expected_problem):
    problems = parse_frame(text).problems
    assert any(expected_problem in problem for problem in problems), problems


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json_rfc8259_6(constant):
    problems = parse_frame(f'[2,"a","MeterValues",{{"connectorId":1,"meterValue":[{{"value":{constant}}}]}}]').problems
    assert len(problems) == 1 and problems[0].startswith("not JSON") and constant.lstrip("-") in problems[0]


@pytest.mark.parametrize("text", ["[[]]", "[{}]", '[2.0,"a","Heartbeat",{}]', '[true,"a","Heartbeat",{}]'])
def test_a_message_type_that_is_no_integer_is_unknown_not_a_crash(text):
    # found by the 2.0.1 fuzz test: [[]] raised TypeError (an unhashable list) out of parse_frame
    parsed = parse_frame(text)
    assert parsed.message_type is None and parsed.problems[0].startswith("unknown MessageTypeId")
