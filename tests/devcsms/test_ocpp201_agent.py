"""The real agent (in-process, simulated board) speaking OCPP 2.0.1 to the development CSMS: a whole
local session passes every 2.0.1 check of the CSMS, and the record rebuilds the transaction."""

from tests.integration.agent import running_agent, write_site

STATION = "CP-IT"


async def test_plug_tap_charge_tap_unplug_in_2_0_1_leaves_no_violation(csms, tmp_path):
    site = write_site(tmp_path, csms.url, ocpp={"protocol": "ocpp2.0.1"}, defaults={"MeterValueSampleInterval": 1})
    async with running_agent(site) as cp:
        await csms.wait_for("StatusNotification", timeout_s=30)
        assert csms.connections[-1].subprotocol == "ocpp2.0.1"
        await cp.console("sim plug 1")
        await csms.wait_for("StatusNotification", lambda f: f.payload["connectorStatus"] == "Occupied", timeout_s=30)
        await cp.console("sim tap 04A2B3C4")
        await csms.wait_for("TransactionEvent", lambda f: f.payload["eventType"] == "Updated", timeout_s=30)
        await cp.console("sim tap 04A2B3C4")
        ended = await csms.wait_for("TransactionEvent", lambda f: f.payload["eventType"] == "Ended", timeout_s=30)
        await csms.wait_for("TransactionEvent", direction="to_cp", after=ended.seq, timeout_s=30)
        await cp.console("sim unplug 1")
        await csms.wait_for("StatusNotification", lambda f: f.payload["connectorStatus"] == "Available",
                            after=ended.seq, timeout_s=30)
    transaction_id = ended.payload["transactionInfo"]["transactionId"]
    view = csms.transactions[transaction_id]
    assert view.station == STATION and view.id_token == "04A2B3C4" and view.evse_id == 1
    assert view.seq_nos == list(range(len(view.seq_nos)))
    assert view.stopped and len(view.ends) == 1
    assert csms.violations == []
