"""Randomized (seeded, shrinking) checks of the 2.1 frame handling: whatever a 2.1 station sends, the record
never raises, a frame that earns a CALLERROR earns a well-formed one, and a NotifySettlement the refusal
lets through is one the record finds valid (the refusal and the checks agree)."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devcsms.recording import Recorder
from devcsms.v21 import CHARGING_STATION_ACTIONS, OCPP21, refusal
from devcsms.v201 import ERROR_CODES, ERROR_DESCRIPTION_MAX_CHARS

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
FRAMES = st.one_of(
    st.text(max_size=200),
    JSON_VALUES.map(json.dumps),
    st.tuples(
        st.sampled_from([2, 3, 4, 5, 6, 7, "2", None]),
        st.one_of(st.text(max_size=40), st.integers()),
        st.one_of(st.sampled_from(sorted(CHARGING_STATION_ACTIONS)), st.text(max_size=20)),
        JSON_VALUES,
    ).map(lambda parts: json.dumps(list(parts))),
)
TIMES = st.sampled_from(["2025-03-01T12:00:00Z", "2025-03-01T12:00:00+01:00", "2025-03-01T12:00:00", "yesterday",
                         "2025-02-30T12:00:00Z"])
SETTLEMENTS = st.fixed_dictionaries(
    {},
    optional={
        "pspRef": st.one_of(st.text(max_size=3), st.just("P" * 256), st.integers()),
        "status": st.sampled_from(["Settled", "Canceled", "Rejected", "Failed", "Paid", "settled", 1]),
        "settlementAmount": st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(),
                                      st.text(max_size=3), st.booleans(), st.none()),
        "settlementTime": TIMES,
        "transactionId": st.one_of(st.text(max_size=3), st.just("t" * 37)),
        "receiptUrl": st.one_of(st.just("https://r.example/1"), st.just("h" * 2001)),
        "vatCompany": st.one_of(st.just({"name": "A", "address1": "B", "city": "C", "country": "DE"}),
                                st.just({"name": "A"}), st.just({})),
        "tip": st.integers(),
    },
)
SETTINGS = settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _well_formed(message: list) -> None:
    assert json.loads(json.dumps(message)) == message
    assert message[0] == 4 and isinstance(message[1], str) and len(message[1]) <= 36
    assert message[2] in ERROR_CODES and len(message[3]) <= ERROR_DESCRIPTION_MAX_CHARS
    assert isinstance(message[4], dict)


@SETTINGS
@given(FRAMES)
def test_any_frame_is_recorded_and_refused_with_a_well_formed_2_1_callerror(text):
    frame = Recorder().record("from_cp", "CS-1", text, OCPP21)
    assert frame.raw == text and frame.protocol == "ocpp2.1"
    answer = refusal(text, CHARGING_STATION_ACTIONS)
    if answer is None:
        return
    _well_formed(answer.frame())
    assert frame.violations or answer.code == "NotSupported"


@SETTINGS
@given(SETTLEMENTS)
def test_a_notify_settlement_is_refused_exactly_when_the_record_finds_it_invalid(payload):
    text = json.dumps([2, "s1", "NotifySettlement", payload])
    frame = Recorder().record("from_cp", "CS-1", text, OCPP21)
    answer = refusal(text, {"NotifySettlement"})
    empty_only = all("empty" in violation and "§4.1.5" in violation for violation in frame.violations)
    if answer is None:
        assert empty_only, frame.violations  # served: nothing wrong but (answered) empty optional fields
    else:
        _well_formed(answer.frame())
        assert frame.violations and not empty_only
