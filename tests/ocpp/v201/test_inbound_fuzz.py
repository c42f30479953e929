"""Seeded, shrinking fuzz of the 2.0.1 dispatcher on a real Station: valid CALLs of
every supported action with one field replaced, removed or added. Every answer is a
CALLRESULT (valid: the codec checked it) or one CALLERROR with a 2.0.1 code; a CALLERROR
other than InternalError leaves the core unasked and the configuration unchanged; no
input raises. Bugs it finds are kept as plain tests in test_inbound_*.py."""

import asyncio
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware.ocpp.v201.errors import ERROR_CODES

FUZZ = settings(derandomize=True, database=None, max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])

TOKEN = {"idToken": "AA01", "type": "ISO14443"}
HEARTBEAT = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
BASE = {
    "RequestStartTransaction": {"idToken": TOKEN, "remoteStartId": 1, "evseId": 1},
    "RequestStopTransaction": {"transactionId": "1-1767225600"},
    "Reset": {"type": "OnIdle", "evseId": 1},
    "ChangeAvailability": {"operationalStatus": "Inoperative", "evse": {"id": 1, "connectorId": 1}},
    "UnlockConnector": {"evseId": 1, "connectorId": 1},
    "TriggerMessage": {"requestedMessage": "StatusNotification", "evse": {"id": 1}},
    "GetVariables": {"getVariableData": [HEARTBEAT]},
    "SetVariables": {"setVariableData": [dict(HEARTBEAT, attributeValue="60")]},
    "ClearCache": {},
    "GetLocalListVersion": {},
    "SendLocalList": {"versionNumber": 1, "updateType": "Full", "localAuthorizationList": [
        {"idToken": TOKEN, "idTokenInfo": {"status": "Accepted"}}]},
    "DataTransfer": {"vendorId": "v", "messageId": "m"},
}

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=60)
    | st.sampled_from(["Accepted", "Immediate", "Full", "Heartbeat", "x" * 37, "", "0"]),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from(["id", "idToken", "type", "evseId", "name", "extra"]),
                      children, max_size=3),
    max_leaves=8)


def _paths(value, prefix=()):
    """Every (path) to a dict key or list index inside ``value``."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append(prefix + (key,))
            found.extend(_paths(item, prefix + (key,)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.append(prefix + (index,))
            found.extend(_paths(item, prefix + (index,)))
    return found


def _at(value, path):
    for step in path:
        value = value[step]
    return value


def _like(value):
    """Values of the same JSON type as ``value``: most reach the core."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.integers(min_value=-3, max_value=12) | st.integers()
    if isinstance(value, str):
        return st.sampled_from([value, value.lower(), value * 2, "Operative", "OnIdle",
                                "Immediate", "Heartbeat", "BootNotification", "MeterValues",
                                "Differential", "60", "-1", "x" * 20, "x" * 21]) | st.text()
    return JSON


def _mutate(payload, path, how, new):
    payload = json.loads(json.dumps(payload))
    if not path:
        if isinstance(payload, dict):
            payload["extra"] = new
        return payload
    parent = payload
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if how == "remove" and isinstance(parent, dict):
        del parent[last]
    elif how == "add" and isinstance(parent, dict):
        parent[f"{last}X"] = new
    else:
        parent[last] = new
    return payload


@FUZZ
@given(st.data())
def test_every_mutated_call_is_answered_and_a_refusal_changes_nothing(rig, data):
    action = data.draw(st.sampled_from(sorted(BASE)))
    base = BASE[action]
    path = data.draw(st.sampled_from(_paths(base) + [()]))
    how = data.draw(st.sampled_from(["replace"] * 4 + ["remove", "add"]))
    payload = _mutate(base, path, how, data.draw(_like(_at(base, path)) if path else JSON))
    before_requests = len(rig.runtime.requests)
    before_config = rig.station.config.as_dict()
    answer = asyncio.run(rig.call(action, payload))
    assert answer[0] in (3, 4), answer
    if answer[0] == 4:
        assert len(answer) == 5 and answer[2] in ERROR_CODES and answer[4] == {}
        assert len(answer[3]) <= 255
        if answer[2] != "InternalError":
            assert len(rig.runtime.requests) == before_requests, (action, payload, answer)
            assert rig.station.config.as_dict() == before_config
