"""Seeded CALL fuzzing against the real agent over a real websocket (OCPP-J 1.6 §4.2.3).

Several hundred CALLs, each a valid payload of a 1.6 action with one to three odd
mutations: numbers that do not fit (5,000 digits, ±2^63, 1e400, NaN, Infinity), strings
that are not text (lone surrogates), too long, of the wrong type, missing or unknown
fields, configuration values just outside their ranges. The rules checked after every
frame, and over the run:

- no crash and no disconnect (one connection for the whole run, the agent task alive);
- every CALL with a usable UniqueId is answered exactly once, with a CALLRESULT the CSMS
  finds schema-valid (DevCsms ``violations``) or a CALLERROR with a 1.6 code, never
  InternalError (that would be a bug of ours answered, not an input refused);
- a refused input (CALLERROR, or a status such as Rejected / NotSupported / Failed)
  changes nothing: configuration (in memory and stored), local list version,
  availability.

Frames whose UniqueId cannot be used (not a string, too long, not JSON) get no answer and
do not drop the link either. Each frame is independent of the others (the state they
can change is checked frame by frame), so a failure names the one frame that broke the
rule: keep it as a plain test in test_bad_numbers.py or test_malformed_frames.py.
``BORNE_FUZZ_FRAMES`` sets the frames per seed (default 300), ``BORNE_FUZZ_SEEDS`` the
seeds (default "1,2") for a longer hunt.
"""

from __future__ import annotations

import copy
import json
import os
import random
from dataclasses import dataclass
from typing import Any

import pytest

from firmware.core.configuration import DEFINITIONS
from firmware.store import repositories as repo
from tests.integration.agent import running_agent, write_site

STATION = "CP-IT"
FRAMES = int(os.environ.get("BORNE_FUZZ_FRAMES", "300"))
SEEDS = [int(s) for s in os.environ.get("BORNE_FUZZ_SEEDS", "1,2").split(",")]

CODES_1_6 = {"NotImplemented", "NotSupported", "InternalError", "ProtocolError",
             "SecurityError", "FormationViolation", "PropertyConstraintViolation",
             "OccurenceConstraintViolation", "TypeConstraintViolation", "GenericError"}
REFUSED = {"Rejected", "NotSupported", "NotImplemented", "Failed", "VersionMismatch",
           "UnknownVendorId", "UnknownMessageId", "UnlockFailed"}


@dataclass(frozen=True)
class Raw:
    """JSON text written as is (what json.dumps cannot or will not write)."""

    text: str


ODD_VALUES: list[Any] = [
    Raw("7" * 5000), Raw("-" + "7" * 5000), 2 ** 63, -(2 ** 63) - 1, 2 ** 63 - 1, 2 ** 31, -1,
    0, Raw("1e400"), Raw("-1e400"), Raw("NaN"), Raw("Infinity"), Raw("-Infinity"), 1.5,
    -0.0, 0.1, "", "x" * 501, "A" * 21, "\udc80", "ok\ud800", "\ud83d\ude00", "\u00e9",
    "\u0000", "9" * 400, " 30 ", "1_000", "\uff13", True, False, None, [], {}, [[[[[[1]]]]]],
    {"a": {"b": {"c": "\udfff"}}}, ["\udc80"], "Soft", "Hard", "Accepted", "Inoperative",
    "2030-01-01T00:00:00Z", "not a date",
]

def odd(rng: random.Random) -> Any:
    return copy.deepcopy(rng.choice(ODD_VALUES))  # never share a mutable value


# Values of the field's own JSON type: they pass the schema and reach the core.
SAME_TYPE: dict[type, list[Any]] = {
    int: [0, -1, 1, 2, 3, 99, 2 ** 31 - 1, -(2 ** 31), 2 ** 63 - 1, -(2 ** 63)],
    float: [0.0, -1.0, 0.1, 1e300, -1e300, 5e-324, 100000.5],
    str: ["", " ", "A" * 20, "a", "\u00e9\u00e8", "0", "-1", "Accepted", "Blocked",
          "1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2030-02-30T00:00:00Z",
          "0000-01-01T00:00:00Z", "2030-01-01T00:00:00+14:00"],
}


def same_type_value(rng: random.Random, current: Any) -> Any:
    options = SAME_TYPE.get(type(current))
    return rng.choice(options) if options else odd(rng)


PROFILE = {"chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
           "chargingProfileKind": "Relative",
           "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [
               {"startPeriod": 0, "limit": 16.0}]}}

BASES: dict[str, dict[str, Any]] = {
    "ChangeConfiguration": {"key": "HeartbeatInterval", "value": "300"},
    "GetConfiguration": {"key": ["HeartbeatInterval", "WebSocketPingInterval"]},
    "ChangeAvailability": {"connectorId": 1, "type": "Operative"},
    "RemoteStartTransaction": {"idTag": "FUZZ0001", "connectorId": 1,
                               "chargingProfile": PROFILE},
    "RemoteStopTransaction": {"transactionId": 1},
    "Reset": {"type": "Soft"},
    "UnlockConnector": {"connectorId": 1},
    "TriggerMessage": {"requestedMessage": "StatusNotification", "connectorId": 1},
    "SendLocalList": {"listVersion": 5, "updateType": "Differential",
                      "localAuthorizationList": [
                          {"idTag": "FUZZ0002",
                           "idTagInfo": {"status": "Accepted",
                                         "expiryDate": "2030-01-01T00:00:00Z",
                                         "parentIdTag": "PARENT"}}]},
    "GetLocalListVersion": {},
    "ClearCache": {},
    "DataTransfer": {"vendorId": "acme", "messageId": "m", "data": "d"},
    "ReserveNow": {"connectorId": 1, "expiryDate": "2030-01-01T00:00:00Z",
                   "idTag": "FUZZ0003", "reservationId": 1},
    "SetChargingProfile": {"connectorId": 1, "csChargingProfiles": PROFILE},
    "FlyToTheMoon": {"x": 1},
}
KEYS = [d.name for d in DEFINITIONS]
# Valid values of these would change how the link itself runs (a 1 s ping under CPU load
# is a flaky disconnect, not a finding); they only ever get values that must be refused.
LINK_KEYS = {"WebSocketPingInterval", "SecurityProfile", "AuthorizationKey"}


def dump(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dump(v) for v in value) + "]"
    return json.dumps(value)


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += paths(item, prefix + (index,))
    return out


def set_path(payload: Any, path: tuple, value: Any) -> None:
    for step in path[:-1]:
        payload = payload[step]
    payload[path[-1]] = value


def get_path(payload: Any, path: tuple) -> Any:
    for step in path:
        payload = payload[step]
    return payload


def delete_path(payload: Any, path: tuple) -> None:
    for step in path[:-1]:
        payload = payload[step]
    if isinstance(payload, dict):
        payload.pop(path[-1], None)


def config_value(rng: random.Random, key: str) -> Any:
    d = next((d for d in DEFINITIONS if d.name == key), None)
    if d is not None and d.kind == "int" and rng.random() < 0.5:
        edge = rng.choice([d.minimum - 1, d.minimum, d.maximum, d.maximum + 1, 10 ** 30])
        if key in LINK_KEYS and d.minimum <= edge <= d.maximum:
            edge = d.maximum + 1
        return str(edge)
    value = odd(rng)
    if key in LINK_KEYS and isinstance(value, str) and d is not None and not d.problem(value):
        value = "\udc80"
    return value


def mutate(rng: random.Random, action: str) -> dict[str, Any]:
    payload = copy.deepcopy(BASES[action])
    if action == "ChangeConfiguration" and rng.random() < 0.6:
        payload["key"] = rng.choice(KEYS + ["NoSuchKey", "heartbeatinterval", "\udc80"])
        payload["value"] = config_value(rng, payload["key"]) if isinstance(
            payload["key"], str) else "1"
        return payload
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        choices = paths(payload)
        roll = rng.random()
        if choices and roll < 0.4:
            path = rng.choice(choices)
            set_path(payload, path, same_type_value(rng, get_path(payload, path)))
        elif choices and roll < 0.75:
            set_path(payload, rng.choice(choices), odd(rng))
        elif choices and roll < 0.85:
            delete_path(payload, rng.choice(choices))
        else:
            payload[rng.choice(["zz", "idTag", "connectorId", "\udc80"])] = odd(rng)
    if action == "Reset" and payload.get("type") in ("Soft", "Hard", "soft", "hard"):
        payload["type"] = "Sideways"  # an accepted Reset restarts the agent: not this test
    if action == "ChangeConfiguration" and str(payload.get("key")) in LINK_KEYS:
        payload["value"] = "\udc80"
    return payload


def unusable_frames(rng: random.Random) -> list[str]:
    return ['[2,5,"Reset",{"type":"Soft"}]', '[2,"' + "x" * 37 + '","Reset",{}]',
            "not json", '{"a":1}', "[]", '[2,' + "9" * 5000 + ',"Reset",{}]',
            '[3,"never-sent",{"x":' + "9" * 5000 + '}]', '[4,"never-sent","\\udc80","",{}]',
            "[" * 5000 + "]" * 5000, '[2,null,"Reset",{}]']


def snapshot(cp) -> tuple:
    agent = cp.agent
    return (cp.station.config.as_dict(), repo.load_configuration(agent.conn),
            agent.auth.local_list_version(),
            {cid: c.operative for cid, c in cp.station.connectors.items()})


@pytest.mark.parametrize("seed", SEEDS)
async def test_seeded_call_fuzz_every_call_answered_once_and_refusals_change_nothing(
        csms, tmp_path, seed):
    rng = random.Random(seed)
    actions = sorted(BASES)
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await csms.wait_for("StatusNotification", timeout_s=10)
        sent: list[tuple[str, str]] = []
        for i in range(FRAMES):
            if rng.random() < 0.05:
                await csms.send_raw(STATION, rng.choice(unusable_frames(rng)))
                continue
            action = rng.choice(actions)
            unique_id = f"fz-{seed}-{i}"
            text = f'[2,"{unique_id}",{json.dumps(action)},{dump(mutate(rng, action))}]'
            before = snapshot(cp)
            await csms.send_raw(STATION, text)
            reply = await csms.wait_raw_reply(unique_id, timeout_s=10)
            sent.append((unique_id, text))
            where = f"seed {seed} frame {i}: {text[:400]} -> {reply.raw[:300]}"
            assert not cp.task.done(), where
            assert cp.agent.link.status.connects == 1, where
            if reply.message_type == 4:
                assert reply.error_code in CODES_1_6, where
                assert reply.error_code != "InternalError", where
                refused = True
            else:
                refused = reply.payload.get("status") in REFUSED
            if refused:
                assert snapshot(cp) == before, where
        # Exactly one answer per CALL, over the whole run.
        answers: dict[str, int] = {}
        for frame in csms.messages(station=STATION):
            if frame.message_type in (3, 4) and frame.unique_id:
                answers[frame.unique_id] = answers.get(frame.unique_id, 0) + 1
        for unique_id, text in sent:
            assert answers.get(unique_id) == 1, text[:400]
        assert len(sent) > FRAMES * 0.8
        assert len(csms.connections) == 1
        assert await csms.call(STATION, ("GetLocalListVersion", {})) is not None
