"""``frames.parse`` never raises, whatever the numbers and strings (OCPP-J 1.6 §4.2.3,
RFC 8259 §6/§8.2); ``value_problem`` names the field that does not fit."""

import json
import logging

import pytest

from firmware import logs
from firmware.ocpp import frames


@pytest.mark.parametrize("text", [
    '[2,"a","Reset",{"type":' + "1" * 5000 + '}]',
    '[2,"a","Reset",{"type":-' + "1" * 100_000 + '}]',
    '[2,"a","Reset",{"type":1e400}]',
    '[2,"a","Reset",{"type":-1e400}]',
    '[2,"a","Reset",{"type":NaN}]',
    '[2,"a","Reset",{"type":Infinity}]',
    '[' + "9" * 5000 + ',"a","Reset",{}]',
    '[2,' + "9" * 5000 + ',"Reset",{}]',
    '[2,"a",' + "9" * 5000 + ',{}]',
    '[3,"a",{"transactionId":' + "9" * 5000 + '}]',
    '[4,"a",' + "9" * 5000 + ',"\\udc80",{"x":1e999}]',
    '[2.0,"a","Reset",{"type":"Soft"}]',
    '[true,"a","Reset",{"type":"Soft"}]',
    '[2,"\\udc80","Reset",{"type":"Soft"}]',
    "[" * 100_000 + "]" * 100_000,
])
def test_parse_never_raises(text):
    frame = frames.parse(text)
    if isinstance(frame, (frames.CallFrame, frames.ResultFrame)) and frame.suspect:
        frames.value_problem(frame.payload)  # nor does the value check
    if isinstance(frame, frames.BadFrame) and frame.unique_id is not None:
        json.loads(frames.error_frame(frame.unique_id, frame.error))


@pytest.mark.parametrize("text, code, where", [
    ('[2,"a","X",{"a":{"b":[1,' + "1" * 5000 + ']}}]', "TypeConstraintViolation", "a/b/1"),
    ('[2,"a","X",{"a":9223372036854775808}]', "TypeConstraintViolation", "a"),
    ('[2,"a","X",{"a":-9223372036854775809}]', "TypeConstraintViolation", "a"),
    ('[2,"a","X",{"a":1e309}]', "TypeConstraintViolation", "a"),
    ('[2,"a","X",{"a":["ok","\\ud800"]}]', "TypeConstraintViolation", "a/1"),
    ('[2,"a","X",{"\\udfffk":1}]', "TypeConstraintViolation", "(payload)"),
])
def test_value_problem_names_the_field(text, code, where):
    frame = frames.parse(text)
    assert isinstance(frame, frames.CallFrame) and frame.suspect
    problem = frames.value_problem(frame.payload)
    assert problem is not None and problem.code == code
    assert problem.description.startswith(where + ":")


@pytest.mark.parametrize("text", [
    '[2,"a","X",{"a":9223372036854775807,"b":-9223372036854775808,"c":1.7e308}]',
    '[2,"a","X",{"a":"\\ud83d\\ude00 is one character","b":"\\\\ud800 is six"}]',
])
def test_values_that_fit_pass(text):
    frame = frames.parse(text)
    assert isinstance(frame, frames.CallFrame)
    assert frames.value_problem(frame.payload) is None


def test_nan_and_infinity_are_not_json_and_the_id_is_kept_for_the_callerror():
    frame = frames.parse('[2,"m-1","RemoteStartTransaction",{"idTag":"A","x":NaN}]')
    assert isinstance(frame, frames.BadFrame)
    assert frame.unique_id == "m-1" and frame.error.code == "FormationViolation"


def test_a_frame_without_odd_values_is_not_suspect():
    frame = frames.parse('[2,"a","Reset",{"type":"Soft","n":12,"f":1.5,"s":"\\u00e9"}]')
    assert isinstance(frame, frames.CallFrame) and not frame.suspect


def test_a_log_line_with_a_lone_surrogate_is_written_escaped(tmp_path):
    path = tmp_path / "log.txt"
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    with open(path, "w", encoding="utf-8") as stream:
        logs.configure("INFO", stream)
        try:
            logging.getLogger("test").warning("CSMS said %s", "bad\udc80text")
        finally:
            for handler in list(root.handlers):
                root.removeHandler(handler)
            for handler in handlers:
                root.addHandler(handler)
            root.setLevel(level)
    assert "bad\\udc80text" in path.read_text("utf-8")
