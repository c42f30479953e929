"""CSMS-initiated requests of the Core and RemoteTrigger profiles, over the wire."""

from ocpp.v16 import call

from firmware.core.configuration import DEFINITIONS
from tests.integration.agent import running_agent, write_site

STATION = "CP-IT"


async def charging(csms, cp, tag="CAFE0001"):
    await cp.console("sim plug 1")
    await cp.console(f"sim tap {tag}")
    await csms.wait_for("StatusNotification", lambda f: f.payload["status"] == "Charging",
                        timeout_s=5)


async def test_get_configuration_reports_every_core_key_with_readonly_flags(csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url)):
        await csms.wait_for("StatusNotification", timeout_s=10)
        reply = await csms.call(STATION, call.GetConfiguration())
        keys = {k["key"]: k for k in reply["configurationKey"]}
        for d in DEFINITIONS:
            assert d.name in keys
            assert keys[d.name]["readonly"] is d.readonly
        assert "value" not in keys["AuthorizationKey"]  # write-only secret
        assert keys["NumberOfConnectors"]["value"] == "1"
        reply = await csms.call(STATION, call.GetConfiguration(key=["HeartbeatInterval", "Nope"]))
        assert [k["key"] for k in reply["configurationKey"]] == ["HeartbeatInterval"]
        assert reply["unknownKey"] == ["Nope"]


async def test_change_configuration_statuses_and_persistence(csms, tmp_path):
    site = write_site(tmp_path, csms.url)
    async with running_agent(site):
        await csms.wait_for("StatusNotification", timeout_s=10)

        async def change(key, value):
            return (await csms.call(STATION, call.ChangeConfiguration(key=key, value=value)))["status"]

        assert await change("MeterValueSampleInterval", "15") == "Accepted"
        assert await change("NoSuchKey", "1") == "NotSupported"
        assert await change("NumberOfConnectors", "4") == "Rejected"      # read-only
        assert await change("HeartbeatInterval", "-1") == "Rejected"      # impossible value
        assert await change("HeartbeatInterval", "soon") == "Rejected"
        assert await change("MeterValuesSampledData", "Energy.Active.Import.Register,Voltage") \
            == "Accepted"
        assert await change("MeterValuesSampledData", "Temperature") == "Rejected"  # §3.16.4
        assert await change("LocalPreAuthorize", "TRUE") == "Accepted"
    async with running_agent(site):  # a restart: the CSMS's values survive
        await csms.wait_for("BootNotification", after=csms.mark(), timeout_s=10)
        reply = await csms.call(STATION, call.GetConfiguration(
            key=["MeterValueSampleInterval", "MeterValuesSampledData", "LocalPreAuthorize"]))
        values = {k["key"]: k["value"] for k in reply["configurationKey"]}
        assert values == {"MeterValueSampleInterval": "15",
                          "MeterValuesSampledData": "Energy.Active.Import.Register,Voltage",
                          "LocalPreAuthorize": "true"}


async def test_change_availability_now_scheduled_and_persisted(csms, tmp_path):
    site = write_site(tmp_path, csms.url, board="sim-2c.toml")
    async with running_agent(site) as cp:
        await csms.wait_for("StatusNotification", lambda f: f.payload["connectorId"] == 2,
                            timeout_s=10)
        assert await csms.call(STATION, call.ChangeAvailability(connector_id=2, type="Inoperative")) \
            == {"status": "Accepted"}
        await csms.wait_for("StatusNotification", lambda f: f.payload == {
            **f.payload, "connectorId": 2, "status": "Unavailable"}, timeout_s=5)
        assert await csms.call(STATION, call.ChangeAvailability(connector_id=2, type="Inoperative")) \
            == {"status": "Accepted"}  # already in that state
        await charging(csms, cp)
        mark = csms.mark()
        assert await csms.call(STATION, call.ChangeAvailability(connector_id=0, type="Inoperative")) \
            == {"status": "Scheduled"}
        assert await csms.call(STATION, call.ChangeAvailability(connector_id=7, type="Inoperative")) \
            == {"status": "Rejected"}
        await cp.console("sim tap CAFE0001")  # the driver stops: now it applies
        await csms.wait_for("StatusNotification", lambda f: f.payload["connectorId"] == 1
                            and f.payload["status"] == "Unavailable", after=mark, timeout_s=5)
        await csms.wait_for("StatusNotification", lambda f: f.payload["connectorId"] == 0
                            and f.payload["status"] == "Unavailable", after=mark, timeout_s=5)
    mark = csms.mark()
    async with running_agent(site) as cp:  # Unavailable persists across restarts
        await csms.wait_for("StatusNotification", lambda f: f.payload["connectorId"] == 2,
                            after=mark, timeout_s=10)
        sent = {f.payload["connectorId"]: f.payload["status"]
                for f in csms.messages("StatusNotification", after=mark)}
        assert sent == {0: "Unavailable", 1: "Unavailable", 2: "Unavailable"}
        await cp.console("sim plug 1")
        await cp.console("sim tap CAFE0002")
        assert cp.station.connectors[1].tx is None


async def test_reset_soft_during_a_transaction_stops_it_then_restarts(csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await csms.wait_for("StatusNotification", timeout_s=10)
        await charging(csms, cp)
        assert await csms.call(STATION, call.Reset(type="Soft")) == {"status": "Accepted"}
        stop = await csms.wait_for("StopTransaction", timeout_s=5)
        assert stop.payload["reason"] == "SoftReset"
        assert await cp.task == "Soft"  # run() returns: the CLI re-execs or exits 75


async def test_unlock_connector_stops_the_transaction_first(csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await csms.wait_for("StatusNotification", timeout_s=10)
        await charging(csms, cp)
        assert await csms.call(STATION, call.UnlockConnector(connector_id=1)) == {
            "status": "Unlocked"}
        stop = await csms.wait_for("StopTransaction", timeout_s=5)
        assert stop.payload["reason"] == "UnlockCommand"
        assert await csms.call(STATION, call.UnlockConnector(connector_id=9)) == {
            "status": "NotSupported"}
        await cp.console("sim fault 1 lock-stuck")
        assert await csms.call(STATION, call.UnlockConnector(connector_id=1)) == {
            "status": "UnlockFailed"}


async def test_trigger_message_conf_comes_before_the_triggered_message(csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url)):
        await csms.wait_for("StatusNotification", lambda f: f.payload["connectorId"] == 1,
                            timeout_s=10)
        for message in ("StatusNotification", "Heartbeat", "MeterValues",
                        "DiagnosticsStatusNotification", "FirmwareStatusNotification"):
            mark = csms.mark()
            assert await csms.call(STATION, call.TriggerMessage(requested_message=message,
                                                                connector_id=1)) == {
                "status": "Accepted"}
            triggered = await csms.wait_for(message, after=mark, timeout_s=5)
            conf = [f for f in csms.frames[mark:] if f.direction == "from_cp"
                    and f.message_type == 3]
            assert conf and conf[0].seq < triggered.seq
        assert await csms.call(STATION, call.TriggerMessage(requested_message="BootNotification")) \
            == {"status": "Rejected"}  # errata 3.35: already accepted
        assert await csms.call(STATION, call.TriggerMessage(
            requested_message="StatusNotification", connector_id=5)) == {"status": "Rejected"}


async def test_data_transfer_is_unknown_vendor(csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url)):
        await csms.wait_for("StatusNotification", timeout_s=10)
        assert await csms.call(STATION, call.DataTransfer(vendor_id="com.example", data="x")) == {
            "status": "UnknownVendorId"}
