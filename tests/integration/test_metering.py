"""MeterValues on the wire: sampled during a transaction, clock-aligned, measurands."""

import math

from firmware.ocpp.mapping import parse_time
from tests.integration.agent import running_agent, write_site


async def test_sampled_and_clock_aligned_values_with_configured_measurands(csms, tmp_path):
    site = write_site(tmp_path, csms.url, defaults={
        "MeterValueSampleInterval": 1, "ClockAlignedDataInterval": 2,
        "MeterValuesSampledData": "Energy.Active.Import.Register,Power.Active.Import,"
                                  "Current.Import,Voltage",
        "MeterValuesAlignedData": "Energy.Active.Import.Register"})
    async with running_agent(site) as cp:
        await csms.wait_for("StatusNotification", timeout_s=10)
        await cp.console("sim power 1 7400")
        await cp.console("sim plug 1")
        await cp.console("sim tap CAFE0001")
        await csms.wait_for("StatusNotification", lambda f: f.payload["status"] == "Charging",
                            timeout_s=5)
        periodic = await csms.wait_for("MeterValues", lambda f: f.payload["meterValue"][0]
                                       ["sampledValue"][0]["context"] == "Sample.Periodic",
                                       timeout_s=5)
        values = periodic.payload["meterValue"][0]["sampledValue"]
        measurands = {(v["measurand"], v.get("phase")) for v in values}
        assert ("Energy.Active.Import.Register", None) in measurands
        assert ("Power.Active.Import", None) in measurands
        assert {("Current.Import", p) for p in ("L1", "L2", "L3")} <= measurands
        assert {("Voltage", p) for p in ("L1-N", "L2-N", "L3-N")} <= measurands
        units = {v["measurand"]: v.get("unit") for v in values}
        assert units["Energy.Active.Import.Register"] == "Wh" and units["Power.Active.Import"] == "W"
        aligned = await csms.wait_for("MeterValues", lambda f: f.payload["meterValue"][0]
                                      ["sampledValue"][0]["context"] == "Sample.Clock",
                                      timeout_s=5)
        stamp = parse_time(aligned.payload["meterValue"][0]["timestamp"])
        assert math.isclose(stamp % 2, 0, abs_tol=0.01) or math.isclose(stamp % 2, 2, abs_tol=0.01)
        assert aligned.payload.get("transactionId") == periodic.payload["transactionId"]
        # Energy grows while charging and never goes backwards.
        later = await csms.wait_for("MeterValues", lambda f: f.seq > aligned.seq and
                                    f.payload["meterValue"][0]["sampledValue"][0]["context"]
                                    == "Sample.Periodic", timeout_s=5)
        energy = [float(v["value"]) for f in (periodic, later)
                  for v in f.payload["meterValue"][0]["sampledValue"]
                  if v["measurand"] == "Energy.Active.Import.Register"]
        assert energy[1] >= energy[0]


async def test_stop_transaction_carries_stop_txn_sampled_data(csms, tmp_path):
    site = write_site(tmp_path, csms.url, defaults={
        "MeterValueSampleInterval": 1, "StopTxnSampledData": "Energy.Active.Import.Register"})
    async with running_agent(site) as cp:
        await csms.wait_for("StatusNotification", timeout_s=10)
        await cp.console("sim plug 1")
        await cp.console("sim tap CAFE0001")
        await csms.wait_for("MeterValues", timeout_s=5)
        await cp.console("sim tap CAFE0001")
        stop = await csms.wait_for("StopTransaction", timeout_s=5)
        data = stop.payload["transactionData"]
        contexts = [m["sampledValue"][0]["context"] for m in data]
        assert contexts[0] == "Transaction.Begin" and contexts[-1] == "Transaction.End"
        assert "Sample.Periodic" in contexts
        assert float(data[-1]["sampledValue"][0]["value"]) == stop.payload["meterStop"]
