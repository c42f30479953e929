"""Charging sessions end to end: simulated board ↔ real websocket ↔ DevCsms."""

from ocpp.v16 import call

from tests.integration.agent import running_agent, write_site

STATION = "CP-IT"


def statuses(csms, connector_id, after=0):
    return [f.payload["status"] for f in csms.messages("StatusNotification", after=after)
            if f.payload["connectorId"] == connector_id]


async def test_boot_reports_station_and_every_connector(csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url, board="sim-2c.toml")):
        boot = await csms.wait_for("BootNotification", timeout_s=10)
        assert boot.payload["chargePointVendor"] == "Borne"
        for connector_id in (0, 1, 2):
            await csms.wait_for("StatusNotification",
                                lambda f, c=connector_id: f.payload["connectorId"] == c,
                                timeout_s=5)
        first = csms.messages(station=STATION)[0]
        assert first.action == "BootNotification"


async def test_plug_tap_charge_tap_again_stops(csms, tmp_path):
    site = write_site(tmp_path, csms.url, defaults={"MeterValueSampleInterval": 1})
    async with running_agent(site) as cp:
        await csms.wait_for("StatusNotification", lambda f: f.payload["connectorId"] == 1,
                            timeout_s=10)
        await cp.console("sim plug 1")
        await csms.wait_for("StatusNotification", lambda f: f.payload["status"] == "Preparing",
                            timeout_s=5)
        await cp.console("sim tap 04A2B3C4")
        authorize = await csms.wait_for("Authorize", timeout_s=5)
        assert authorize.payload == {"idTag": "04A2B3C4"}
        start = await csms.wait_for("StartTransaction", timeout_s=5)
        assert start.payload["connectorId"] == 1 and start.payload["idTag"] == "04A2B3C4"
        await csms.wait_for("StatusNotification", lambda f: f.payload["status"] == "Charging",
                            timeout_s=5)
        values = await csms.wait_for("MeterValues", timeout_s=5)
        start_reply = await csms.wait_frame(lambda f: f.request_seq == start.seq, timeout_s=5,
                                            direction="to_cp")
        transaction_id = start_reply.payload["transactionId"]
        assert values.payload["transactionId"] == transaction_id
        mark = csms.mark()
        await cp.console("sim tap 04A2B3C4")
        stop = await csms.wait_for("StopTransaction", timeout_s=5)
        assert stop.payload["transactionId"] == transaction_id
        assert stop.payload["reason"] == "Local"
        assert stop.payload["meterStop"] >= start.payload["meterStart"]
        assert csms.messages("Authorize", after=mark) == []  # same tag stops without Authorize
        await csms.wait_for("StatusNotification", lambda f: f.payload["status"] == "Finishing",
                            timeout_s=5)
        await cp.console("sim unplug 1")
        await csms.wait_for("StatusNotification", lambda f: f.payload["status"] == "Available",
                            after=mark, timeout_s=5)
        assert cp.station.connectors[1].status() == "Available"


async def test_remote_start_and_remote_stop(csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await csms.wait_for("StatusNotification", timeout_s=10)
        await cp.console("sim plug 1")
        reply = await csms.call(STATION, call.RemoteStartTransaction(id_tag="REMOTE01",
                                                                     connector_id=1))
        assert reply == {"status": "Accepted"}
        start = await csms.wait_for("StartTransaction", timeout_s=5)
        assert start.payload["idTag"] == "REMOTE01"
        await csms.wait_for("StatusNotification", lambda f: f.payload["status"] == "Charging",
                            timeout_s=5)
        transaction_id = csms.transactions and max(csms.transactions)
        assert await csms.call(STATION, call.RemoteStopTransaction(transaction_id=999999)) == {
            "status": "Rejected"}
        assert await csms.call(STATION, call.RemoteStopTransaction(
            transaction_id=transaction_id)) == {"status": "Accepted"}
        stop = await csms.wait_for("StopTransaction", timeout_s=5)
        assert stop.payload["reason"] == "Remote"


async def test_remote_start_with_authorize_remote_tx_requests_asks_first(csms, tmp_path):
    site = write_site(tmp_path, csms.url, defaults={"AuthorizeRemoteTxRequests": True})
    csms.authorization.set("BLOCKED1", "Blocked")
    async with running_agent(site) as cp:
        await csms.wait_for("StatusNotification", timeout_s=10)
        await cp.console("sim plug 1")
        assert await csms.call(STATION, call.RemoteStartTransaction(id_tag="BLOCKED1")) == {
            "status": "Accepted"}
        await csms.wait_for("Authorize", lambda f: f.payload["idTag"] == "BLOCKED1", timeout_s=5)
        await cp.until(lambda: not cp.station.connectors[1].awaiting_authorize)
        assert cp.station.connectors[1].tx is None
        assert await csms.call(STATION, call.RemoteStartTransaction(id_tag="GOOD0001")) == {
            "status": "Accepted"}
        start = await csms.wait_for("StartTransaction", timeout_s=5)
        assert start.payload["idTag"] == "GOOD0001"


async def test_ev_side_disconnect_stops_the_transaction(csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await csms.wait_for("StatusNotification", timeout_s=10)
        await cp.console("sim plug 1")
        await cp.console("sim tap CAFE0001")
        await csms.wait_for("StatusNotification", lambda f: f.payload["status"] == "Charging",
                            timeout_s=5)
        await cp.console("sim ev 1 pause")
        await csms.wait_for("StatusNotification", lambda f: f.payload["status"] == "SuspendedEV",
                            after=0, timeout_s=5)
        await cp.console("sim unplug 1")
        stop = await csms.wait_for("StopTransaction", timeout_s=5)
        assert stop.payload["reason"] == "EVDisconnected"
