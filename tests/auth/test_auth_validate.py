"""SendLocalList.req validation: the official schema's rules, the OCPP-J 1.6 CALLERROR
codes (ocpp16-rules.md §2.3), and agreement with the library's jsonschema pass."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

import ocpp
from firmware.auth.validate import (
    FORMATION_VIOLATION as FORMATION,
    OCCURENCE_CONSTRAINT_VIOLATION as OCCURENCE,
    PROPERTY_CONSTRAINT_VIOLATION as PROPERTY,
    TYPE_CONSTRAINT_VIOLATION as TYPE,
    SendLocalListFormatError,
    validate_send_local_list,
)

SCHEMA = json.loads((Path(ocpp.__file__).parent / "v16/schemas/SendLocalList.json").read_text())


def ok_payload() -> dict:
    return {"listVersion": 7, "updateType": "Full", "localAuthorizationList": [
        {"idTag": "04a1b2c3", "idTagInfo": {"status": "Accepted",
                                            "expiryDate": "2030-01-01T00:00:00Z",
                                            "parentIdTag": "fleet-1"}},
        {"idTag": "DEADBEEF", "idTagInfo": {"status": "Blocked"}}]}


def with_change(path: tuple, value: object = ..., delete: bool = False) -> dict:
    payload = ok_payload()
    target = payload
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return payload


LIST = "localAuthorizationList"
BAD = [
    # (id, payload, CALLERROR code)
    ("payload is an array", [1, 2], FORMATION),
    ("payload is a string", "SendLocalList", FORMATION),
    ("unknown top-level property", with_change(("extra",), 1), FORMATION),
    ("unknown entry property", with_change((LIST, 0, "note"), "x"), FORMATION),
    ("unknown idTagInfo property", with_change((LIST, 0, "idTagInfo", "name"), "x"), FORMATION),
    ("listVersion missing", with_change(("listVersion",), delete=True), OCCURENCE),
    ("updateType missing", with_change(("updateType",), delete=True), OCCURENCE),
    ("idTag missing", with_change((LIST, 1, "idTag"), delete=True), OCCURENCE),
    ("status missing", with_change((LIST, 1, "idTagInfo", "status"), delete=True), OCCURENCE),
    ("idTagInfo missing in a Full update", with_change((LIST, 1, "idTagInfo"), delete=True),
     OCCURENCE),
    ("listVersion is a string", with_change(("listVersion",), "7"), TYPE),
    ("listVersion is a float 7.0 (not a Draft-4 integer)", with_change(("listVersion",), 7.0),
     TYPE),
    ("listVersion is a boolean", with_change(("listVersion",), True), TYPE),
    ("listVersion is null", with_change(("listVersion",), None), TYPE),
    ("updateType is a number", with_change(("updateType",), 1), TYPE),
    ("localAuthorizationList is an object", with_change((LIST,), {}), TYPE),
    ("entry is a string", with_change((LIST, 0), "04A1B2C3"), TYPE),
    ("idTag is a number", with_change((LIST, 0, "idTag"), 1234), TYPE),
    ("idTag is null", with_change((LIST, 0, "idTag"), None), TYPE),
    ("idTag of 21 characters (CiString20)", with_change((LIST, 0, "idTag"), "A" * 21), TYPE),
    ("idTagInfo is a string", with_change((LIST, 0, "idTagInfo"), "Accepted"), TYPE),
    ("idTagInfo is null", with_change((LIST, 0, "idTagInfo"), None), TYPE),
    ("status is a number", with_change((LIST, 0, "idTagInfo", "status"), 0), TYPE),
    ("expiryDate is a number", with_change((LIST, 0, "idTagInfo", "expiryDate"), 1893456000),
     TYPE),
    ("expiryDate is not a date-time", with_change((LIST, 0, "idTagInfo", "expiryDate"),
                                                  "next tuesday"), TYPE),
    ("expiryDate is a date only", with_change((LIST, 0, "idTagInfo", "expiryDate"),
                                              "2030-01-01"), TYPE),
    ("expiryDate month 13", with_change((LIST, 0, "idTagInfo", "expiryDate"),
                                        "2030-13-01T00:00:00Z"), TYPE),
    ("parentIdTag of 21 characters", with_change((LIST, 0, "idTagInfo", "parentIdTag"),
                                                 "P" * 21), TYPE),
    ("parentIdTag is a number", with_change((LIST, 0, "idTagInfo", "parentIdTag"), 5), TYPE),
    ("updateType not in enum", with_change(("updateType",), "Partial"), PROPERTY),
    ("updateType wrong case", with_change(("updateType",), "full"), PROPERTY),
    ("status not in enum", with_change((LIST, 0, "idTagInfo", "status"), "Valid"), PROPERTY),
]


@pytest.mark.parametrize("payload,code", [pytest.param(p, c, id=i) for i, p, c in BAD])
def test_malformed_payload_gets_the_1_6_callerror(payload, code):
    with pytest.raises(SendLocalListFormatError) as err:
        validate_send_local_list(payload)
    assert err.value.code == code
    assert err.value.description  # says where and what


@pytest.mark.parametrize("payload,code", [
    pytest.param(p, c, id=i) for i, p, c in BAD
    if "date" not in i.lower() and "idTagInfo missing" not in i])
def test_everything_we_refuse_the_official_schema_refuses_too(payload, code):
    assert not jsonschema.Draft4Validator(SCHEMA).is_valid(payload)


def test_error_names_the_offending_entry():
    payload = ok_payload()
    payload[LIST][1]["idTag"] = "X" * 25
    with pytest.raises(SendLocalListFormatError) as err:
        validate_send_local_list(payload)
    assert "localAuthorizationList[1].idTag" in err.value.description
    assert "25 characters" in err.value.description


def test_duplicate_id_tags_case_insensitive_make_the_update_fail_not_a_callerror():
    payload = ok_payload()
    payload[LIST].append({"idTag": "deadbeef", "idTagInfo": {"status": "Accepted"}})
    assert jsonschema.Draft4Validator(SCHEMA).is_valid(payload)  # the schema allows it
    parsed = validate_send_local_list(payload)
    assert parsed.duplicate == "DEADBEEF"


def test_valid_full_is_normalised():
    parsed = validate_send_local_list(ok_payload())
    assert parsed.full and parsed.list_version == 7 and parsed.duplicate is None
    assert parsed.entries == [("04A1B2C3", 0, 1893456000.0, "FLEET-1"),
                              ("DEADBEEF", 1, None, None)]


def test_differential_entry_without_id_tag_info_means_remove():
    parsed = validate_send_local_list({"listVersion": 2, "updateType": "Differential",
                                       LIST: [{"idTag": "aa"}]})
    assert parsed.entries == [("AA", None, None, None)]


def test_list_may_be_absent_or_empty_and_20_characters_fit():
    assert validate_send_local_list({"listVersion": 0, "updateType": "Full"}).entries == []
    parsed = validate_send_local_list({"listVersion": 1, "updateType": "Full", LIST: [
        {"idTag": "A" * 20, "idTagInfo": {"status": "ConcurrentTx", "parentIdTag": "p" * 20}}]})
    assert parsed.entries == [("A" * 20, 4, None, "P" * 20)]


def test_max_length_counts_characters_not_bytes():
    # maxLength is in characters (JSON Schema); 20 non-ASCII characters still fit.
    parsed = validate_send_local_list({"listVersion": 1, "updateType": "Full", LIST: [
        {"idTag": "é" * 20, "idTagInfo": {"status": "Accepted"}}]})
    assert parsed.entries[0][0] == "é" * 20  # only ASCII letters are case-folded


def test_random_mutations_agree_with_the_official_schema():
    """Our verdict (valid / CALLERROR) equals jsonschema's on many structural
    mutations of a valid payload. The library checks no date-time format, so the base
    payload has no expiryDate; a Differential, so a missing idTagInfo is legal."""
    import random
    rng = random.Random(1234)
    values = [None, True, 0, 1.5, -3, "", "Accepted", "Full", "x" * 21, [], {},
              {"status": "Blocked"}]
    validator = jsonschema.Draft4Validator(SCHEMA)
    for _ in range(600):
        payload = ok_payload()
        payload["updateType"] = "Differential"
        del payload[LIST][0]["idTagInfo"]["expiryDate"]
        for _ in range(rng.randint(1, 2)):
            paths = [(), (LIST,), (LIST, 0), (LIST, 1), (LIST, 0, "idTagInfo")]
            path = rng.choice(paths)
            target = payload
            for key in path:
                target = target[key] if isinstance(target, (dict, list)) and (
                    isinstance(target, dict) and key in target or isinstance(target, list)
                    and isinstance(key, int) and key < len(target)) else None
            if not isinstance(target, dict) or not target:
                continue
            key = rng.choice(sorted(target) + ["bogus"])
            if rng.random() < 0.3 and key in target:
                del target[key]
            else:
                target[key] = copy.deepcopy(rng.choice(values))
        expected_valid = validator.is_valid(payload)
        try:
            validate_send_local_list(payload)
            ours = True
        except SendLocalListFormatError:
            ours = False
        assert ours == expected_valid, payload
