"""Randomized (seeded, shrinking) checks of the 2.0.1 frame handling: whatever a station sends, the
record never raises, and a frame that earns a CALLERROR earns a well-formed 2.0.1 one."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devcsms.conformance201 import TransactionSequenceRule
from devcsms.recording import Recorder
from devcsms.v201 import CHARGING_STATION_ACTIONS, ERROR_CODES, ERROR_DESCRIPTION_MAX_CHARS, OCPP201, refusal

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
FRAMES = st.one_of(
    st.text(max_size=200),
    JSON_VALUES.map(json.dumps),
    st.tuples(
        st.sampled_from([2, 3, 4, 5, "2", None]),
        st.one_of(st.text(max_size=40), st.integers()),
        st.one_of(st.sampled_from(sorted(CHARGING_STATION_ACTIONS)), st.text(max_size=20)),
        JSON_VALUES,
    ).map(lambda parts: json.dumps(list(parts))),
)
SETTINGS = settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(FRAMES)
def test_any_frame_is_recorded_and_refused_with_a_well_formed_2_0_1_callerror(text):
    frame = Recorder().record("from_cp", "CS-1", text, OCPP201)
    assert frame.raw == text and frame.protocol == "ocpp2.0.1"
    answer = refusal(text, CHARGING_STATION_ACTIONS)
    if answer is None:
        return
    message = answer.frame()
    assert json.loads(json.dumps(message)) == message
    assert message[0] == 4 and isinstance(message[1], str) and len(message[1]) <= 36
    assert message[2] in ERROR_CODES and len(message[3]) <= ERROR_DESCRIPTION_MAX_CHARS
    assert isinstance(message[4], dict)
    assert frame.violations or message[2] == "NotSupported"  # refused frames are violations, or unserved


class _Event:
    """The few Frame fields TransactionSequenceRule reads."""

    def __init__(self, seq_no: int, payload: dict) -> None:
        self.direction, self.message_type, self.action, self.station = "from_cp", 2, "TransactionEvent", "CS-1"
        self.payload = payload


@SETTINGS
@given(st.lists(st.integers(min_value=0, max_value=8), min_size=1, max_size=12))
def test_seq_no_violations_are_exactly_the_gaps_repeats_and_steps_back(seq_nos):
    rule = TransactionSequenceRule()
    reported = 0
    for index, seq_no in enumerate(seq_nos):
        payload = {"eventType": "Updated", "seqNo": seq_no, "transactionInfo": {"transactionId": "t"}, "n": index}
        reported += len(rule.observe(_Event(seq_no, payload)))
    expected, highest = 0, seq_nos[0]
    for seq_no in seq_nos[1:]:
        expected += seq_no != highest + 1
        highest = max(highest, seq_no)
    assert reported == expected
