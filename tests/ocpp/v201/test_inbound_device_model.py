"""GetVariables / SetVariables, the local list, ClearCache, DataTransfer and the action
checks of ``V201InboundDispatcher`` on a real Station and authorization store
(ocpp201-rules.md §0 codes, §1 device model, §2, §8 SendLocalList)."""

import pytest

from firmware.core import effects as fx
from firmware.ocpp.v201.actions import CSMS_TO_CS
from firmware.ocpp.v201.errors import CallError
from firmware.ocpp.v201.frames import CallFrame
from firmware.ocpp.v201.inbound import SUPPORTED
from firmware.ocpp.v201.inbound_actions import ITEMS_PER_MESSAGE

HEARTBEAT = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
PASSWORD = {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}}
ITEMS = {"component": {"name": "LocalAuthListCtrlr"}, "variable": {"name": "ItemsPerMessage"}}


# ---------------------------------------------------------------- GetVariables
async def test_get_variables_per_item_status_tc_b_06(rig):
    result = await rig.result("GetVariables", {"getVariableData": [
        HEARTBEAT,
        dict(HEARTBEAT, attributeType="Target"),
        {"component": {"name": "Nope"}, "variable": {"name": "X"}},
        {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "Nope"}},
        PASSWORD,
    ]})
    statuses = [(r["attributeStatus"], r.get("attributeValue"))
                for r in result["getVariableResult"]]
    assert statuses == [("Accepted", "300"), ("NotSupportedAttributeType", None),
                        ("UnknownComponent", None), ("UnknownVariable", None),
                        ("Rejected", None)]  # WriteOnly: never reported (B07.FR.03)
    assert result["getVariableResult"][0]["component"] == {"name": "OCPPCommCtrlr"}


async def test_get_variables_answers_while_pending_tc_b_02(rig):
    rig.boot("Pending")
    result = await rig.result("GetVariables", {"getVariableData": [HEARTBEAT]})
    assert result["getVariableResult"][0]["attributeStatus"] == "Accepted"


async def test_get_variables_of_unknown_things_only_does_not_ask_the_core(rig):
    await rig.result("GetVariables", {"getVariableData": [
        {"component": {"name": "Nope"}, "variable": {"name": "X"}}]})
    assert rig.untouched()


@pytest.mark.parametrize("payload, code", [
    ({"getVariableData": []}, "OccurrenceConstraintViolation"),
    ({"getVariableData": [{"component": {"name": "OCPPCommCtrlr"}}]},
     "OccurrenceConstraintViolation"),
    ({"getVariableData": [dict(HEARTBEAT, attributeType="Minimum")]},
     "PropertyConstraintViolation"),
    ({"getVariableData": [{"component": {"name": "X" * 51}, "variable": {"name": "Y"}}]},
     "PropertyConstraintViolation"),
    ({"getVariableData": HEARTBEAT}, "TypeConstraintViolation"),
    ({"getVariableData": [HEARTBEAT] * (ITEMS_PER_MESSAGE + 1)},
     "OccurrenceConstraintViolation"),
])
async def test_get_variables_bad_payload(rig, payload, code):
    assert await rig.error("GetVariables", payload) == code
    assert rig.untouched()


# ---------------------------------------------------------------- SetVariables
async def test_set_variables_changes_each_accepted_item_only_tc_b_09_b_10(rig):
    rig.boot()
    result = await rig.result("SetVariables", {"setVariableData": [
        dict(HEARTBEAT, attributeValue="60"),
        {"component": {"name": "TxCtrlr"}, "variable": {"name": "EVConnectionTimeOut"},
         "attributeValue": "soon"},
        dict(ITEMS, attributeValue="5"),
        {"component": {"name": "Nope"}, "variable": {"name": "X"}, "attributeValue": "1"},
        dict(HEARTBEAT, attributeValue="90", attributeType="MaxSet"),
    ]})
    results = result["setVariableResult"]
    assert [r["attributeStatus"] for r in results] == [
        "Accepted", "Rejected", "Rejected", "UnknownComponent", "NotSupportedAttributeType"]
    assert results[1]["attributeStatusInfo"] == {"reasonCode": "InvalidValue"}
    assert results[2]["attributeStatusInfo"] == {"reasonCode": "ReadOnly"}
    config = rig.station.config
    assert config.get("HeartbeatInterval") == "60"
    assert config.get("ConnectionTimeOut") != "soon"
    assert config.get("SendLocalListMaxLength") == "10000"
    # Only the two items the device model maps to a writable key reached the core.
    assert [r.key for r in rig.runtime.requests] == ["HeartbeatInterval", "ConnectionTimeOut"]


async def test_set_variables_the_password_is_write_only_but_writable(rig):
    result = await rig.result("SetVariables", {"setVariableData": [
        dict(PASSWORD, attributeValue="0123456789abcdef0123")]})
    assert result["setVariableResult"][0]["attributeStatus"] in ("Accepted", "RebootRequired")
    answer = await rig.result("GetVariables", {"getVariableData": [PASSWORD]})
    assert "attributeValue" not in answer["getVariableResult"][0]


@pytest.mark.parametrize("value", ["-1", "1e3", "NaN", "99999999999999999999", " ", "３００"])
async def test_set_variables_an_invalid_number_is_rejected_and_changes_nothing(rig, value):
    before = rig.station.config.get("HeartbeatInterval")
    result = await rig.result("SetVariables", {"setVariableData": [
        dict(HEARTBEAT, attributeValue=value)]})
    assert result["setVariableResult"][0]["attributeStatus"] == "Rejected"
    assert rig.station.config.get("HeartbeatInterval") == before


@pytest.mark.parametrize("payload, code", [
    ({"setVariableData": [HEARTBEAT]}, "OccurrenceConstraintViolation"),  # no attributeValue
    ({"setVariableData": [dict(HEARTBEAT, attributeValue=60)]}, "TypeConstraintViolation"),
    ({"setVariableData": [dict(HEARTBEAT, attributeValue="1" * 1001)]},
     "PropertyConstraintViolation"),
    ({"setVariableData": [dict(HEARTBEAT, attributeValue="60", colour="red")]},
     "FormatViolation"),
    ({"setVariableData": [dict(HEARTBEAT, attributeValue="60")] * (ITEMS_PER_MESSAGE + 1)},
     "OccurrenceConstraintViolation"),
])
async def test_set_variables_bad_payload_changes_nothing(rig, payload, code):
    before = rig.station.config.as_dict()
    assert await rig.error("SetVariables", payload) == code
    assert rig.untouched() and rig.station.config.as_dict() == before


# ---------------------------------------------------------------- local list, cache
def _entry(tag, status="Accepted", **info):
    return {"idToken": {"idToken": tag, "type": "ISO14443"},
            "idTokenInfo": {"status": status, **info}}


async def test_send_local_list_full_then_version_then_lookup(rig):
    assert await rig.result("GetLocalListVersion", {}) == {"versionNumber": 0}
    assert await rig.result("SendLocalList", {
        "versionNumber": 3, "updateType": "Full", "localAuthorizationList": [
            _entry("AA01"),
            _entry("AA02", "NoCredit"),
            _entry("AA03", cacheExpiryDateTime="2030-01-01T00:00:00Z",
                   groupIdToken={"idToken": "GROUP1", "type": "Central"}),
        ]}) == {"status": "Accepted"}
    assert await rig.result("GetLocalListVersion", {}) == {"versionNumber": 3}
    now = rig.harness.now
    assert rig.auth.lookup("AA01", now)[0].status == "Accepted"
    assert rig.auth.lookup("AA02", now)[0].status == "Invalid"  # 2.0.1-only status
    third = rig.auth.lookup("AA03", now)[0]
    assert third.parent_id_tag == "GROUP1" and third.expiry_s is not None


async def test_send_local_list_differential_removes_an_entry(rig):
    await rig.result("SendLocalList", {"versionNumber": 1, "updateType": "Full",
                                       "localAuthorizationList": [_entry("AA01")]})
    assert await rig.result("SendLocalList", {
        "versionNumber": 2, "updateType": "Differential", "localAuthorizationList": [
            {"idToken": {"idToken": "AA01", "type": "ISO14443"}}]}) == {"status": "Accepted"}
    assert rig.auth.lookup("AA01", rig.harness.now)[0] is None


async def test_send_local_list_a_token_the_store_cannot_hold_fails_whole(rig):
    await rig.result("SendLocalList", {"versionNumber": 1, "updateType": "Full",
                                       "localAuthorizationList": [_entry("AA01")]})
    result = await rig.result("SendLocalList", {
        "versionNumber": 2, "updateType": "Full",
        "localAuthorizationList": [_entry("BB01"), _entry("C" * 21)]})
    assert result["status"] == "Failed"
    assert result["statusInfo"]["reasonCode"] == "IdTokenTooLong"
    assert await rig.result("GetLocalListVersion", {}) == {"versionNumber": 1}
    assert rig.auth.lookup("BB01", rig.harness.now)[0] is None


async def test_send_local_list_two_types_of_one_token_fail_in_the_store(rig):
    result = await rig.result("SendLocalList", {
        "versionNumber": 2, "updateType": "Full", "localAuthorizationList": [
            _entry("AA01"), {"idToken": {"idToken": "aa01", "type": "Central"},
                             "idTokenInfo": {"status": "Blocked"}}]})
    assert result == {"status": "Failed"}
    assert await rig.result("GetLocalListVersion", {}) == {"versionNumber": 0}


async def test_send_local_list_when_list_management_is_disabled(rig):
    rig.station.config.change("LocalAuthListEnabled", "false")
    assert await rig.result("GetLocalListVersion", {}) == {"versionNumber": 0}
    result = await rig.result("SendLocalList", {"versionNumber": 1, "updateType": "Full",
                                                "localAuthorizationList": [_entry("AA01")]})
    assert result["status"] == "Failed"


@pytest.mark.parametrize("payload, code", [
    ({"versionNumber": "1", "updateType": "Full"}, "TypeConstraintViolation"),
    ({"updateType": "Full"}, "OccurrenceConstraintViolation"),
    ({"versionNumber": 1, "updateType": "Replace"}, "PropertyConstraintViolation"),
    ({"versionNumber": 1, "updateType": "Full", "localAuthorizationList": []},
     "OccurrenceConstraintViolation"),
    ({"versionNumber": 1, "updateType": "Full", "localAuthorizationList": [
        _entry("AA01", cacheExpiryDateTime="tomorrow")]}, "FormatViolation"),
    ({"versionNumber": 1, "updateType": "Full", "localAuthorizationList": [
        {"idTag": "AA01"}]}, "FormatViolation"),   # the 1.6 shape
])
async def test_send_local_list_bad_payload_changes_nothing(rig, payload, code):
    await rig.result("SendLocalList", {"versionNumber": 1, "updateType": "Full",
                                       "localAuthorizationList": [_entry("AA01")]})
    assert await rig.error("SendLocalList", payload) == code
    assert await rig.result("GetLocalListVersion", {}) == {"versionNumber": 1}
    assert rig.auth.lookup("AA01", rig.harness.now)[0] is not None


async def test_clear_cache(rig):
    assert await rig.result("ClearCache", {}) == {"status": "Accepted"}
    assert await rig.error("ClearCache", {"all": True}) == "FormatViolation"


# ---------------------------------------------------------------- DataTransfer, checks
async def test_data_transfer_is_unknown_vendor(rig):
    assert await rig.result("DataTransfer", {"vendorId": "com.example", "data": {"a": 1}}) == {
        "status": "UnknownVendorId"}
    assert await rig.error("DataTransfer", {"data": 1}) == "OccurrenceConstraintViolation"
    assert await rig.error("DataTransfer", {"vendorId": "v" * 256}) == "PropertyConstraintViolation"


def test_supported_is_what_the_dispatcher_answers(rig):
    # GetTransactionStatus needs the outbox (``queue``) and GetReport the adapter
    # (``reports``), which this rig does not give.
    assert rig.dispatcher.supported == SUPPORTED - {"GetTransactionStatus", "GetReport"}
    assert SUPPORTED <= CSMS_TO_CS


@pytest.mark.parametrize("action", ["GetTransactionStatus", "SetDisplayMessage",
                                    "GetDisplayMessages", "UpdateFirmware"])
async def test_known_actions_we_do_not_answer_are_notsupported(rig, action):
    assert await rig.error(action, {}) == "NotSupported"
    with pytest.raises(CallError) as raised:
        await rig.dispatcher(CallFrame("m-1", action, {}))
    assert raised.value.code == "NotSupported"


@pytest.mark.parametrize("action", ["RemoteStartTransaction", "ChangeConfiguration", "Foo"])
async def test_unknown_actions_are_notimplemented(rig, action):
    assert await rig.error(action, {}) == "NotImplemented"
    with pytest.raises(CallError) as raised:
        await rig.dispatcher(CallFrame("m-1", action, {}))
    assert raised.value.code == "NotImplemented"


async def test_after_a_rejected_boot_every_request_is_securityerror_b03_fr_08(rig):
    rig.boot("Rejected")
    assert await rig.error("GetVariables", {"getVariableData": [HEARTBEAT]}) == "SecurityError"
    assert await rig.error("Reset", {"type": "Immediate"}) == "SecurityError"
    assert rig.untouched()


class _BrokenCore:
    """A runtime whose core replies with a status 2.0.1 does not have: only to reach the
    'our response is invalid' branch, which no real core reply takes."""

    def __init__(self, runtime):
        self._runtime = runtime
        self.clock = runtime.clock
        self.station = runtime.station

    async def request(self, event, timeout_s):
        fields, continuation = await self._runtime.request(event, timeout_s)
        return {**fields, "status": "Perhaps"}, continuation


async def test_an_invalid_response_of_ours_is_internalerror_and_logged(rig, caplog):
    from firmware.ocpp.v201.inbound import V201InboundDispatcher
    rig.boot()
    rig.dispatcher = V201InboundDispatcher(_BrokenCore(rig.runtime), rig.auth, rig.directory)
    assert await rig.error("ChangeAvailability", {"operationalStatus": "Operative"}) == \
        "InternalError"
    assert "would be invalid" in caplog.text


async def test_every_variable_of_the_device_model_reads_from_the_core(rig):
    from firmware.ocpp.v201.device_model import VARIABLES

    def item(v):
        variable = {"name": v.variable}
        if v.instance is not None:
            variable["instance"] = v.instance
        return {"component": {"name": v.component}, "variable": variable}

    result = await rig.result("GetVariables", {"getVariableData": [item(v) for v in VARIABLES]})
    for v, r in zip(VARIABLES, result["getVariableResult"]):
        expected = "Rejected" if v.mutability == "WriteOnly" else "Accepted"
        assert r["attributeStatus"] == expected, v
        if expected == "Accepted":
            assert r["attributeValue"] == rig.station.config.get(v.key)
    assert len(rig.runtime.requests) == 1  # one read for every item


# ---------------------------------------------------------------- GetBaseReport (B07)
@pytest.mark.parametrize("base", ["ConfigurationInventory", "FullInventory"])
async def test_get_base_report_is_accepted_then_one_valid_notify_report_follows(rig, base):
    from firmware.ocpp.mapping import StationInfo
    from firmware.ocpp.v201 import outbound
    from firmware.ocpp.v201.schemas import payload_problem

    rig.boot("Pending")                       # CSMSs ask for it while Pending (B07)
    assert await rig.result("GetBaseReport", {"requestId": 42, "reportBase": base}) == {
        "status": "Accepted"}
    [report] = [m for m in rig.runtime.released if isinstance(m, fx.SendConfigurationReport)]
    action, payload = outbound.to_call(report, StationInfo("Borne", "Pi"))
    assert action == "NotifyReport"
    assert payload_problem(action, "Request", payload) is None
    assert (payload["requestId"], payload["seqNo"], payload["tbc"]) == (42, 0, False)
    by_name = {(d["component"]["name"], d["variable"]["name"]): d for d in payload["reportData"]}
    heartbeat = by_name[("OCPPCommCtrlr", "HeartbeatInterval")]
    assert heartbeat["variableAttribute"][0]["value"] == rig.station.config.get(
        "HeartbeatInterval")
    assert heartbeat["variableCharacteristics"]["dataType"] == "integer"
    assert by_name[("AuthCacheCtrlr", "Enabled")]["variableCharacteristics"]["dataType"] == \
        "boolean"
    secret = by_name[("SecurityCtrlr", "BasicAuthPassword")]["variableAttribute"][0]
    assert secret["mutability"] == "WriteOnly" and "value" not in secret   # never reported
    assert by_name[("LocalAuthListCtrlr", "ItemsPerMessage")]["variableAttribute"][0][
        "mutability"] == "ReadOnly"


async def test_get_base_report_summary_inventory_is_not_supported(rig):
    rig.boot()
    assert await rig.result("GetBaseReport", {"requestId": 1,
                                              "reportBase": "SummaryInventory"}) == {
        "status": "NotSupported"}
    assert rig.untouched()


def test_1_6_has_no_configuration_report_message():
    from firmware.ocpp.mapping import StationInfo
    from firmware.ocpp.v16.adapter import V16Adapter

    assert V16Adapter(StationInfo("Borne", "Pi")).message(
        fx.SendConfigurationReport(1, 0.0, ())) is None
