"""The device model's fact variables (issue 9 item 3, ocpp201-rules.md §1 [DM201]):
station, EVSE and connector availability, phases, power, the clock and the limits,
through GetVariables/SetVariables of the real dispatcher and in NotifyReport."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema

from firmware.core import effects as fx
from firmware.ocpp.mapping import StationInfo
from firmware.ocpp.v201 import device_facts
from firmware.ocpp.v201.adapter import V201Adapter
from firmware.store import db


def get(component: dict, name: str, instance: str | None = None) -> dict:
    variable = {"name": name} if instance is None else {"name": name, "instance": instance}
    return {"component": component, "variable": variable}


async def values(rig, *items) -> list[tuple[str, str | None]]:
    result = await rig.result("GetVariables", {"getVariableData": list(items)})
    return [(r["attributeStatus"], r.get("attributeValue")) for r in result["getVariableResult"]]


async def test_evse_and_connector_availability_follow_the_connector(rig):
    rig.boot()
    evse1, connector2 = {"name": "EVSE", "evse": {"id": 1}}, {
        "name": "Connector", "evse": {"id": 2, "connectorId": 1}}
    assert await values(rig, get(evse1, "AvailabilityState"),
                        get(connector2, "AvailabilityState")) == [
        ("Accepted", "Available"), ("Accepted", "Available")]
    rig.start_session(1)
    assert await values(rig, get(evse1, "AvailabilityState")) == [("Accepted", "Occupied")]
    assert await values(rig, get(evse1, "SupplyPhases"), get(evse1, "Power")) == [
        ("Accepted", "3"), ("Accepted", "7000")]


async def test_an_evse_the_station_lacks_or_an_evse_variable_without_its_evse_is_unknown(rig):
    rig.boot()
    assert await values(rig, get({"name": "EVSE", "evse": {"id": 9}}, "Available"),
                        get({"name": "EVSE"}, "Available"),
                        get({"name": "Connector", "evse": {"id": 1, "connectorId": 2}},
                            "Available"),
                        get({"name": "AuthCtrlr"}, "NoSuchVariable"),
                        get({"name": "NoSuchCtrlr"}, "Enabled")) == [
        ("UnknownComponent", None), ("UnknownComponent", None), ("UnknownComponent", None),
        ("UnknownVariable", None), ("UnknownComponent", None)]


async def test_station_facts_have_values(rig):
    rig.boot()
    got = await values(rig, get({"name": "ClockCtrlr"}, "DateTime"),
                       get({"name": "DeviceDataCtrlr"}, "ItemsPerMessage", "GetVariables"),
                       get({"name": "OCPPCommCtrlr"}, "MessageTimeout", "Default"),
                       get({"name": "TxCtrlr"}, "TxStartPoint"),
                       get({"name": "ChargingStation"}, "AvailabilityState"))
    assert got[0][0] == "Accepted" and got[0][1].startswith("2026-01-01T")
    assert got[1:] == [("Accepted", "100"), ("Accepted", "25"),
                       ("Accepted", "PowerPathClosed"), ("Accepted", "Available")]


async def test_a_fact_cannot_be_set_and_nothing_changes(rig):
    rig.boot()
    result = await rig.result("SetVariables", {"setVariableData": [
        {"component": {"name": "EVSE", "evse": {"id": 1}},
         "variable": {"name": "AvailabilityState"}, "attributeValue": "Unavailable"}]})
    [item] = result["setVariableResult"]
    assert item["attributeStatus"] == "Rejected"
    assert item["attributeStatusInfo"]["reasonCode"] == "ReadOnly"
    assert rig.untouched()


def test_notify_report_carries_every_fact_per_evse_and_validates(tmp_path, rig):
    conn = db.open_database(tmp_path / "state")
    try:
        view = device_facts.CoreStationView(rig.station, lambda: 1_767_225_600.0, 30.0)
        adapter = V201Adapter(StationInfo("Borne", "AC"), conn, facts=view)
        action, payload = adapter.message(fx.SendConfigurationReport(5, 1_767_225_600.0, ()))
        text = resources.files("ocpp.v201").joinpath(
            "schemas", "NotifyReportRequest.json").read_text(encoding="utf-8-sig")
        jsonschema.Draft6Validator(json.loads(text)).validate(payload)
        reported = {(d["component"]["name"], d["component"].get("evse", {}).get("id"),
                     d["variable"]["name"]) for d in payload["reportData"]}
        for evse_id in (1, 2):
            assert ("EVSE", evse_id, "AvailabilityState") in reported
            assert ("Connector", evse_id, "ConnectorType") in reported
        assert ("ChargingStation", None, "SupplyPhases") in reported
    finally:
        conn.close()
