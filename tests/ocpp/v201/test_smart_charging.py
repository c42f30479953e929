"""OCPP 2.0.1 smart charging (block K) through the dispatcher to the real core, with
known answers (smart-charging.md §1-§6; requirement ids in the test names). Every CALL
and response is checked against the official 2.0.1 schemas by the rig's codec."""

from __future__ import annotations

import pytest

from firmware.core import effects as fx
from firmware.ocpp.mapping import StationInfo
from firmware.ocpp.v201.adapter import V201Adapter
from firmware.ocpp.v201.schemas import payload_problem
from firmware.store import db

T0_TEXT = "2026-01-01T00:00:00.000Z"


def profile(purpose: str = "TxDefaultProfile", limit: float = 10.0, profile_id: int = 1,
            kind: str = "Relative", **extra) -> dict:
    schedule = {"id": 1, "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}]}
    if kind != "Relative":
        schedule["startSchedule"] = T0_TEXT
    schedule.update(extra.pop("schedule", {}))
    return {"id": profile_id, "stackLevel": 0, "chargingProfilePurpose": purpose,
            "chargingProfileKind": kind, "chargingSchedule": [schedule], **extra}


async def set_profile(rig, evse_id: int, data: dict) -> dict:
    return await rig.result("SetChargingProfile", {"evseId": evse_id, "chargingProfile": data})


async def test_k01_a_tx_default_profile_limits_the_offer_and_the_composite(rig):
    rig.boot()
    rig.start_session(1)
    assert await set_profile(rig, 0, profile(limit=10.0)) == {"status": "Accepted"}
    assert rig.station.connectors[1].offer_a == 10.0
    result = await rig.result("GetCompositeSchedule", {"duration": 600, "evseId": 1})
    assert result["status"] == "Accepted"
    schedule = result["schedule"]
    assert (schedule["evseId"], schedule["duration"], schedule["chargingRateUnit"]) == (1, 600, "A")
    assert schedule["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 10.0, "numberPhases": 3}]


async def test_k08_the_composite_in_w_converts_with_the_nominal_voltage(rig):
    rig.boot()
    await set_profile(rig, 0, profile(purpose="ChargingStationMaxProfile", kind="Absolute",
                                      limit=16.0))
    result = await rig.result("GetCompositeSchedule", {"duration": 60, "evseId": 1,
                                                       "chargingRateUnit": "W"})
    [period] = result["schedule"]["chargingSchedulePeriod"]
    assert period["limit"] == 16.0 * 230 * 3  # A per phase → W total, [16] §7.12


async def test_k08_an_unknown_evse_is_rejected_tc_k_47(rig):
    rig.boot()
    assert await rig.result("GetCompositeSchedule", {"duration": 60, "evseId": 9}) == {
        "status": "Rejected"}


@pytest.mark.parametrize("evse_id, data, reason", [
    (0, profile(purpose="ChargingStationExternalConstraints"), "InvalidValue"),  # K01.FR.22
    (0, profile(purpose="ChargingStationMaxProfile"), "InvalidValue"),           # K01.FR.38
    (1, profile(purpose="TxProfile"), "TxNotFound"),                             # K01.FR.03
    (1, profile(purpose="TxProfile", transactionId="nope"), "TxNotFound"),       # K01.FR.33
    (0, profile(purpose="TxProfile", transactionId="x"), "InvalidValue"),        # K01.FR.16
    (0, profile(kind="Absolute", schedule={"startSchedule": None}), "InvalidSchedule"),
    (0, profile(schedule={"startSchedule": T0_TEXT}), "InvalidSchedule"),        # K01.FR.41
])
async def test_k01_refused_before_the_core_with_a_reason(rig, evse_id, data, reason):
    rig.boot()
    if data["chargingSchedule"][0].get("startSchedule", "") is None:
        del data["chargingSchedule"][0]["startSchedule"]                         # K01.FR.40
    result = await set_profile(rig, evse_id, data)
    assert result["status"] == "Rejected" and result["statusInfo"]["reasonCode"] == reason
    assert rig.untouched() and rig.station.profiles == []


async def test_k01_more_than_one_schedule_is_rejected(rig):
    rig.boot()
    data = profile()
    data["chargingSchedule"].append(dict(data["chargingSchedule"][0], id=2))
    result = await set_profile(rig, 0, data)
    assert result["statusInfo"]["reasonCode"] == "UnsupportedParam"


async def test_k01_fr_09_a_tx_profile_needs_the_running_transaction_and_applies_to_it(rig):
    rig.boot()
    tx_id = rig.start_session(1)
    assert await set_profile(rig, 1, profile(purpose="TxProfile", transactionId=tx_id,
                                             limit=8.0)) == {"status": "Accepted"}
    assert rig.station.connectors[1].offer_a == 8.0
    result = await set_profile(rig, 2, profile(purpose="TxProfile", profile_id=2,
                                               transactionId=tx_id))
    assert result["status"] == "Rejected"  # not EVSE 2's transaction


async def test_k01_the_core_s_limits_reject_with_their_reason(rig):
    rig.boot()
    data = profile(schedule={"chargingSchedulePeriod": [{"startPeriod": 5, "limit": 6.0}]})
    result = await set_profile(rig, 0, data)
    assert result["status"] == "Rejected" and "startPeriod" in result["statusInfo"][
        "additionalInfo"]


async def test_k10_clear_by_id_then_unknown_tc_k_05(rig):
    rig.boot()
    await set_profile(rig, 0, profile(profile_id=4))
    assert await rig.result("ClearChargingProfile", {"chargingProfileId": 4}) == {
        "status": "Accepted"}
    assert await rig.result("ClearChargingProfile", {"chargingProfileId": 4}) == {
        "status": "Unknown"}


async def test_k10_clear_by_criteria_is_and_of_all_given_fields_tc_k_06(rig):
    rig.boot()
    await set_profile(rig, 0, profile(profile_id=1))
    await set_profile(rig, 0, profile(purpose="ChargingStationMaxProfile", profile_id=2,
                                      kind="Absolute", limit=20.0))
    assert await rig.result("ClearChargingProfile", {"chargingProfileCriteria": {
        "chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 3}}) == {"status": "Unknown"}
    assert await rig.result("ClearChargingProfile", {"chargingProfileCriteria": {
        "chargingProfilePurpose": "TxDefaultProfile", "evseId": 0}}) == {"status": "Accepted"}
    assert [p.profile_id for p in rig.station.profiles] == [2]
    assert await rig.result("ClearChargingProfile", {"chargingProfileCriteria": {
        "chargingProfilePurpose": "ChargingStationExternalConstraints"}}) == {
        "status": "Unknown"}  # K10.FR.06


async def test_k09_get_charging_profiles_reports_per_evse_after_the_answer(rig):
    rig.boot()
    tx_id = rig.start_session(1)
    await set_profile(rig, 0, profile(profile_id=1))
    await set_profile(rig, 1, profile(purpose="TxProfile", profile_id=2, transactionId=tx_id))
    result = await rig.result("GetChargingProfiles", {"requestId": 77, "chargingProfile": {}})
    assert result == {"status": "Accepted"}
    reports = [m for m in rig.runtime.released if isinstance(m, fx.SendChargingProfilesReport)]
    assert [(r.connector_id, r.more_follow) for r in reports] == [(0, True), (1, False)]
    assert await rig.result("GetChargingProfiles", {"requestId": 78, "chargingProfile": {
        "chargingProfileId": [9]}}) == {"status": "NoProfiles"}
    assert await rig.result("GetChargingProfiles", {"requestId": 79, "chargingProfile": {
        "chargingLimitSource": ["EMS"]}}) == {"status": "NoProfiles"}


async def test_f01_a_request_start_s_tx_profile_applies_to_the_transaction_it_starts(rig):
    rig.boot()
    rig.harness.pilot("B", 1)
    result = await rig.result("RequestStartTransaction", {
        "idToken": {"idToken": "CARD01", "type": "Central"}, "remoteStartId": 3, "evseId": 1,
        "chargingProfile": profile(purpose="TxProfile", limit=7.0)})
    assert result["status"] == "Accepted"
    [tx_profile] = rig.station.profiles
    assert (tx_profile.purpose, tx_profile.connector_id) == ("Tx", 1)


def test_k09_report_charging_profiles_payloads_are_valid(tmp_path, rig):
    """The adapter's ReportChargingProfiles, a TxProfile's id as the station chose it."""
    from firmware.core import smart_charging as sc

    conn = db.open_database(tmp_path / "state")
    try:
        adapter = V201Adapter(StationInfo("Borne", "AC"), conn)
        with db.atomic(conn):
            adapter.queued_message(fx.SendTransactionStarted(5, 1, "CARD", 0, 1_767_225_600.0),
                                   conn)
        tx = sc.ChargingProfile(2, 1, sc.TX, sc.RELATIVE, "W",
                                (sc.SchedulePeriod(0, 7000.0, 1), sc.SchedulePeriod(60, 3000.0)),
                                connector_id=1, transaction_id=5, duration_s=600,
                                valid_to_s=1_767_225_600.0 + 3600)
        action, payload = adapter.message(fx.SendChargingProfilesReport(4, 1, (tx,)))
        assert action == "ReportChargingProfiles"
        assert payload_problem(action, "Request", payload) is None
        [reported] = payload["chargingProfile"]
        assert reported["transactionId"].startswith("5-")
        assert "tbc" not in payload and payload["chargingLimitSource"] == "CSO"
    finally:
        conn.close()
