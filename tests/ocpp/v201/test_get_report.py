"""GetReport (2.0.1 B08) through the real dispatcher, a real Station and the adapter
that filters the NotifyReport (firmware.ocpp.v201.report_filter; the selection rules are
our reading, stated there)."""

from __future__ import annotations

import pytest

from firmware.core import effects as fx
from firmware.ocpp.mapping import StationInfo
from firmware.ocpp.v201.adapter import V201Adapter
from firmware.ocpp.v201.codec import V201Codec
from firmware.ocpp.v201.device_facts import CoreStationView
from firmware.ocpp.v201.inbound import V201InboundDispatcher
from firmware.ocpp.v201.report_filter import ReportFilter
from firmware.ocpp.v201.schemas import payload_problem
from firmware.store import db


@pytest.fixture
def reporting(rig, tmp_path):
    conn = db.open_database(tmp_path / "state")
    view = CoreStationView(rig.station, lambda: rig.harness.now, 30.0)
    adapter = V201Adapter(StationInfo("Borne", "Pi"), conn, facts=view)
    rig.dispatcher = V201InboundDispatcher(rig.runtime, rig.auth, rig.directory,
                                           facts=view, reports=adapter)
    rig.codec = V201Codec(rig.dispatcher.supported)
    yield rig, adapter
    conn.close()


def report_of(rig, adapter, request_id: int) -> dict:
    [report] = [m for m in rig.runtime.released if isinstance(m, fx.SendConfigurationReport)
                and m.request_id == request_id]
    action, payload = adapter.message(report)
    assert action == "NotifyReport" and payload_problem(action, "Request", payload) is None
    return payload


def names(payload: dict) -> set[tuple[str, str, str | None]]:
    return {(d["component"]["name"], d["variable"]["name"], d["variable"].get("instance"))
            for d in payload.get("reportData", [])}


async def test_get_report_of_one_variable_reports_only_it(reporting):
    rig, adapter = reporting
    rig.boot()
    assert await rig.result("GetReport", {"requestId": 5, "componentVariable": [
        {"component": {"name": "OCPPCommCtrlr"},
         "variable": {"name": "HeartbeatInterval"}}]}) == {"status": "Accepted"}
    payload = report_of(rig, adapter, 5)
    assert names(payload) == {("OCPPCommCtrlr", "HeartbeatInterval", None)}
    assert payload["reportData"][0]["variableAttribute"][0]["value"] == \
        rig.station.config.get("HeartbeatInterval")


async def test_get_report_of_a_component_and_of_an_evse_scoped_one(reporting):
    rig, adapter = reporting
    rig.boot()
    await rig.result("GetReport", {"requestId": 6, "componentVariable": [
        {"component": {"name": "TariffCostCtrlr"}},
        {"component": {"name": "EVSE", "evse": {"id": 2}},
         "variable": {"name": "AvailabilityState"}}]})
    payload = report_of(rig, adapter, 6)
    got = names(payload)
    assert ("TariffCostCtrlr", "Currency", None) in got
    assert ("TariffCostCtrlr", "TariffFallbackMessage", None) in got
    evses = [d["component"] for d in payload["reportData"] if d["component"]["name"] == "EVSE"]
    assert evses == [{"name": "EVSE", "evse": {"id": 2}}]
    assert {n for n, _, _ in got} == {"TariffCostCtrlr", "EVSE"}


async def test_get_report_without_a_match_is_an_empty_result_set_and_sends_nothing(reporting):
    rig, adapter = reporting
    rig.boot()
    for wanted in ({"component": {"name": "NoSuchCtrlr"}},
                   {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "Nope"}},
                   {"component": {"name": "EVSE", "evse": {"id": 9}}}):
        assert await rig.result("GetReport", {"requestId": 7, "componentVariable": [
            wanted]}) == {"status": "EmptyResultSet"}
    assert not [m for m in rig.runtime.released if isinstance(m, fx.SendConfigurationReport)]


async def test_get_report_criteria_keep_components_whose_criterion_is_true(reporting):
    rig, adapter = reporting
    rig.boot()
    assert await rig.result("GetReport", {"requestId": 8, "componentCriteria": [
        "Available"]}) == {"status": "Accepted"}
    payload = report_of(rig, adapter, 8)
    components = {n for n, _, _ in names(payload)}
    assert "EVSE" in components and "Connector" in components   # Available = true
    assert "OCPPCommCtrlr" not in components                     # has no Available
    # Problem is true nowhere on a healthy station: nothing to report, still Accepted
    assert await rig.result("GetReport", {"requestId": 9, "componentCriteria": [
        "Problem"]}) == {"status": "Accepted"}
    assert "reportData" not in report_of(rig, adapter, 9)


async def test_get_report_bad_requests_get_the_schema_or_limit_error(reporting):
    rig, _ = reporting
    rig.boot()
    assert await rig.error("GetReport", {"requestId": 1, "componentCriteria": [
        "Broken"]}) == "PropertyConstraintViolation"
    assert await rig.error("GetReport", {"componentCriteria": ["Active"]}) == \
        "OccurrenceConstraintViolation"
    too_many = [{"component": {"name": "OCPPCommCtrlr"}}] * 101
    assert await rig.error("GetReport", {"requestId": 1, "componentVariable": too_many}) == \
        "OccurrenceConstraintViolation"


def test_a_base_report_is_unfiltered_and_the_filter_is_kept_for_16_requests_only(tmp_path):
    conn = db.open_database(tmp_path)
    adapter = V201Adapter(StationInfo("Borne", "Pi"), conn)
    for request_id in range(40):
        adapter.expect_report(request_id, ReportFilter(criteria=("Problem",)))
    report = fx.SendConfigurationReport(1, 0.0, (fx.ReportedKey("HeartbeatInterval", "300",
                                                                False, "int"),))
    assert adapter.message(report)[1]["reportData"]       # 1: forgotten, so unfiltered
    report = fx.SendConfigurationReport(39, 0.0, report.keys)
    assert "reportData" not in adapter.message(report)[1]
    conn.close()
