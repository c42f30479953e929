"""Block I through the real 2.0.1 dispatcher and a real Station (ocpp201-rules.md §7 "I"):
TariffCostCtrlr in GetVariables / SetVariables / NotifyReport, and CostUpdated, whose
response has no status ({}), for a running transaction only."""

from __future__ import annotations

import json
import logging
from importlib import resources

import jsonschema
import pytest

from firmware.core import effects as fx
from firmware.ocpp.mapping import StationInfo
from firmware.ocpp.v201.adapter import V201Adapter
from firmware.ocpp.v201.device_facts import CoreStationView
from firmware.store import db

CTRLR = {"name": "TariffCostCtrlr"}


def var(name: str, instance: str | None = None, value: str | None = None) -> dict:
    variable = {"name": name} if instance is None else {"name": name, "instance": instance}
    item: dict = {"component": CTRLR, "variable": variable}
    if value is not None:
        item["attributeValue"] = value
    return item


async def get(rig, *items) -> list[tuple[str, str | None]]:
    result = await rig.result("GetVariables", {"getVariableData": list(items)})
    return [(r["attributeStatus"], r.get("attributeValue")) for r in result["getVariableResult"]]


async def set_(rig, *items) -> list[dict]:
    return (await rig.result("SetVariables", {"setVariableData": list(items)}))[
        "setVariableResult"]


def shown(rig) -> list[tuple[int, str]]:
    return [(e.connector_id, e.text) for e in rig.runtime.effects
            if isinstance(e, fx.ShowPaymentMessage)]


async def test_tariff_cost_ctrlr_values_without_a_terminal(rig):
    rig.boot()
    assert await get(rig, var("Available", "Tariff"), var("Available", "Cost"),
                     var("Enabled", "Tariff"), var("Enabled", "Cost"), var("Currency"),
                     var("TariffFallbackMessage"), var("TotalCostFallbackMessage"),
                     var("Available"), var("NoSuch")) == [
        ("Accepted", "false"), ("Accepted", "true"), ("Accepted", "true"), ("Accepted", "true"),
        ("Accepted", "EUR"), ("Accepted", ""),
        ("Accepted", "Total cost not known yet: see your receipt or app"),
        ("UnknownVariable", None), ("UnknownVariable", None)]


async def test_set_fallback_message_changes_the_price_shown_and_a_refusal_changes_nothing(rig):
    rig.boot()
    results = await set_(rig, var("TariffFallbackMessage", value="0.39 EUR/kWh"),
                         var("TotalCostFallbackMessage", value="x" * 256),
                         var("TotalCostFallbackMessage", value="two\nlines"),
                         var("Enabled", "Cost", "maybe"),
                         var("Currency", value="USD"),
                         var("Available", "Tariff", "true"))
    assert [(r["attributeStatus"], r.get("attributeStatusInfo", {}).get("reasonCode"))
            for r in results] == [("Accepted", None), ("Rejected", "InvalidValue"),
                                  ("Rejected", "InvalidValue"), ("Rejected", "InvalidValue"),
                                  ("Rejected", "ReadOnly"), ("Rejected", "ReadOnly")]
    assert rig.station.price_text() == "0.39 EUR/kWh"
    assert shown(rig) == [(0, "0.39 EUR/kWh")]              # the display hook
    assert await get(rig, var("TotalCostFallbackMessage"), var("Enabled", "Cost"),
                     var("Currency")) == [
        ("Accepted", "Total cost not known yet: see your receipt or app"),
        ("Accepted", "true"), ("Accepted", "EUR")]
    persisted = [e for e in rig.runtime.effects if isinstance(e, fx.PersistConfiguration)]
    assert [(e.key, e.value) for e in persisted] == [("TariffFallbackMessage", "0.39 EUR/kWh")]


async def test_a_set_variables_value_that_is_not_a_string_is_a_type_error(rig):
    rig.boot()
    item = var("TariffFallbackMessage")
    item["attributeValue"] = 0.39
    assert await rig.error("SetVariables", {"setVariableData": [item]}) == \
        "TypeConstraintViolation"
    assert rig.station.config.get("TariffFallbackMessage") == ""


async def test_cost_updated_for_a_running_transaction_is_shown(rig):
    rig.boot()
    tx_id = rig.start_session(1)
    assert await rig.result("CostUpdated", {"totalCost": 2.345,
                                            "transactionId": tx_id}) == {}
    assert shown(rig) == [(1, "Cost so far 2.35 EUR")]
    assert rig.station.csms_costs.lines() == ["connector 1: Cost so far 2.35 EUR"]


@pytest.mark.parametrize("total", [-1, 1e12, 10 ** 7])
async def test_cost_updated_with_a_negative_or_absurd_cost_changes_nothing(rig, caplog,
                                                                          total):
    rig.boot()
    tx_id = rig.start_session(1)
    with caplog.at_level(logging.WARNING):
        assert await rig.result("CostUpdated", {"totalCost": total,
                                                "transactionId": tx_id}) == {}
    assert shown(rig) == [] and rig.station.csms_costs.lines() == []
    assert "ignored" in caplog.text


async def test_cost_updated_for_an_unknown_transaction_is_answered_and_logged(rig, caplog):
    rig.boot()
    rig.start_session(1)
    with caplog.at_level(logging.WARNING):
        assert await rig.result("CostUpdated", {"totalCost": 1.0,
                                                "transactionId": "no-such-tx"}) == {}
    assert "unknown transaction 'no-such-tx'" in caplog.text
    assert shown(rig) == [] and not any(
        type(r).__name__ == "CsmsCostReported" for r in rig.runtime.requests)


@pytest.mark.parametrize("payload, code", [
    ({"totalCost": "1.00", "transactionId": "t"}, "TypeConstraintViolation"),
    ({"totalCost": 1.0, "transactionId": "t" * 37}, "PropertyConstraintViolation"),
    ({"transactionId": "t"}, "OccurrenceConstraintViolation"),
])
async def test_cost_updated_bad_payloads_are_call_errors(rig, payload, code):
    rig.boot()
    assert await rig.error("CostUpdated", payload) == code
    assert rig.untouched()


async def test_cost_updated_with_nan_is_refused_by_the_frame_layer(rig):
    rig.boot()
    tx_id = rig.start_session(1)
    answer = await rig.answer(
        f'[2, "m-nan", "CostUpdated", {{"totalCost": NaN, "transactionId": "{tx_id}"}}]')
    assert answer[0] == 4 and answer[1] == "m-nan"
    assert shown(rig) == []


def test_notify_report_has_the_tariff_cost_ctrlr_and_validates(rig, tmp_path):
    conn = db.open_database(tmp_path / "state")
    try:
        adapter = V201Adapter(StationInfo("Borne", "AC"), conn,
                              facts=CoreStationView(rig.station, lambda: 0.0, 30.0))
        _, payload = adapter.message(fx.SendConfigurationReport(
            7, 0.0, rig.station.config.reported()))
        text = resources.files("ocpp.v201").joinpath(
            "schemas", "NotifyReportRequest.json").read_text(encoding="utf-8-sig")
        jsonschema.Draft6Validator(json.loads(text)).validate(payload)
    finally:
        conn.close()
    names = {(d["component"]["name"], d["variable"]["name"], d["variable"].get("instance")):
             d for d in payload["reportData"] if d["component"]["name"] == "TariffCostCtrlr"}
    assert set(names) == {("TariffCostCtrlr", "Available", "Tariff"),
                          ("TariffCostCtrlr", "Available", "Cost"),
                          ("TariffCostCtrlr", "Enabled", "Tariff"),
                          ("TariffCostCtrlr", "Enabled", "Cost"),
                          ("TariffCostCtrlr", "Currency", None),
                          ("TariffCostCtrlr", "TariffFallbackMessage", None),
                          ("TariffCostCtrlr", "TotalCostFallbackMessage", None)}
    enabled = names[("TariffCostCtrlr", "Enabled", "Cost")]
    assert enabled["variableAttribute"][0]["mutability"] == "ReadWrite"
    assert enabled["variableCharacteristics"]["dataType"] == "boolean"
    assert names[("TariffCostCtrlr", "Currency", None)]["variableAttribute"][0] == {
        "type": "Actual", "mutability": "ReadOnly", "persistent": False, "constant": False,
        "value": "EUR"}
