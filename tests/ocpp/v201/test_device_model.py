"""The 2.0.1 device model over the core's configuration keys (block B; rules in
ocpp201-rules.md §1, §8), results checked against the official 2.0.1 schemas."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest

from firmware.core.configuration import BY_NAME, Configuration
from firmware.ocpp.v201 import device_model as dm


def schema_valid(name: str, payload: dict) -> None:
    text = resources.files("ocpp.v201").joinpath("schemas", f"{name}.json").read_text(
        encoding="utf-8-sig")
    jsonschema.Draft6Validator(json.loads(text)).validate(payload)


def item(component, variable, instance=None, **extra):
    var = {"name": variable} if instance is None else {"name": variable, "instance": instance}
    return {"component": {"name": component}, "variable": var, **extra}


def config():
    return Configuration.initial({}, {}, {"NumberOfConnectors": "1"})


def test_every_variable_names_a_core_key_and_is_unique():
    assert all(v.key in BY_NAME for v in dm.VARIABLES)
    names = [(v.component, v.variable, v.instance) for v in dm.VARIABLES]
    assert len(names) == len(set(names))


def test_get_variables_reads_the_core_values_tc_b_06():
    c = config()
    asked = [item("OCPPCommCtrlr", "HeartbeatInterval"),
             item("OCPPCommCtrlr", "MessageAttempts", "TransactionEvent"),
             item("TxCtrlr", "EVConnectionTimeOut", attributeType="Actual")]
    results = [dm.get_result(i, c.get) for i in asked]
    schema_valid("GetVariablesResponse", {"getVariableResult": results})
    assert [r["attributeStatus"] for r in results] == ["Accepted"] * 3
    assert results[0]["attributeValue"] == c.get("HeartbeatInterval")
    assert results[2]["attributeValue"] == c.get("ConnectionTimeOut")


@pytest.mark.parametrize("asked,status", [
    (item("NoSuchCtrlr", "HeartbeatInterval"), "UnknownComponent"),
    (item("OCPPCommCtrlr", "NoSuchVariable"), "UnknownVariable"),
    (item("OCPPCommCtrlr", "MessageAttempts"), "UnknownVariable"),  # needs its instance
    (item("OCPPCommCtrlr", "HeartbeatInterval", attributeType="Target"),
     "NotSupportedAttributeType"),
    (item("SecurityCtrlr", "BasicAuthPassword"), "Rejected"),  # WriteOnly: B07.FR.03
])
def test_get_variables_says_why_not_tc_b_32_34(asked, status):
    result = dm.get_result(asked, config().get)
    schema_valid("GetVariablesResponse", {"getVariableResult": [result]})
    assert result["attributeStatus"] == status and "attributeValue" not in result


def test_set_variables_goes_through_the_core_and_maps_its_verdict_tc_b_09_10():
    c = config()
    ok = item("OCPPCommCtrlr", "HeartbeatInterval", attributeValue="120")
    key, refused = dm.set_target(ok)
    assert (key, refused) == ("HeartbeatInterval", None)
    result = dm.set_result(ok, c.change(key, "120").status)
    assert result["attributeStatus"] == "Accepted" and c.get("HeartbeatInterval") == "120"
    bad = item("OCPPCommCtrlr", "HeartbeatInterval", attributeValue="9" * 400)
    result = dm.set_result(bad, c.change("HeartbeatInterval", "9" * 400).status)
    assert result["attributeStatus"] == "Rejected"
    assert result["attributeStatusInfo"]["reasonCode"] == "InvalidValue"
    assert c.get("HeartbeatInterval") == "120"  # a rejected change changes nothing
    schema_valid("SetVariablesResponse", {"setVariableResult": [result]})


def test_set_variables_refuses_read_only_and_unknown_without_asking_the_core_tc_b_11():
    for asked, status in [
            (item("SmartChargingCtrlr", "ProfileStackLevel", attributeValue="9"), "Rejected"),
            (item("Nope", "X", attributeValue="1"), "UnknownComponent"),
            (item("TxCtrlr", "X", attributeValue="1"), "UnknownVariable")]:
        key, result = dm.set_target(asked)
        assert key is None and result is not None and result["attributeStatus"] == status
        schema_valid("SetVariablesResponse", {"setVariableResult": [result]})
