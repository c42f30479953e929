"""Paying by card end to end: the real agent on the simulated board with its simulated
terminal, a real websocket to DevCsms, both OCPP versions; the CSMS sees the payment."""

import json
from decimal import Decimal

import pytest

from firmware.core.payment import id_tag_for
from firmware.core.tariff import Tariff
from tests.integration.agent import running_agent, write_site

STATION = "CP-IT"
PAYMENT = """
[payment]
energy_price_per_kwh = "0.45"
session_fee = "0.50"
vat_percent = "19"
pre_authorisation_cents = 3000
vendor_id = "org.borne.payment"
receipt_url = "https://receipts.example/{station}/{payment_id}"
"""
TARIFF = Tariff(energy_per_kwh=Decimal("0.45"), session_fee=Decimal("0.50"),
                vat_percent=Decimal("19"))
CARD = "559884******8074"


def data_of(frame) -> dict:
    data = frame.payload["data"]
    return json.loads(data) if isinstance(data, str) else data


def sim_terminal(cp):
    return next(iter(cp.agent.board.sim.payment_terminals.values()))


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_pay_charge_unplug_captures_the_cost_and_the_csms_sees_it(csms, tmp_path,
                                                                         protocol):
    site = write_site(tmp_path, csms.url, ocpp={"protocol": protocol},
                      defaults={"MeterValueSampleInterval": 1}, extra=PAYMENT)
    async with running_agent(site) as cp:
        await cp.until(lambda: cp.agent.link.connected)
        assert "0.54 EUR/kWh" in (await cp.console("price"))[0]
        await cp.console("sim plug 1")
        await cp.console("sim power 1 11000")
        await cp.console(f"sim card {CARD}")
        tag = id_tag_for(CARD, "hash", "PAY-")
        if protocol == "ocpp1.6":
            start = await csms.wait_for("StartTransaction", timeout_s=10)
            assert start.payload["idTag"] == tag
        else:
            start = await csms.wait_for("TransactionEvent",
                                        lambda f: f.payload["eventType"] == "Started",
                                        timeout_s=10)
            assert start.payload["idToken"] == {"idToken": tag, "type": "Local"}
        assert csms.messages("Authorize") == []       # the payment authorises locally
        await cp.until(lambda: (cp.station.connectors[1].energy_wh() or 0)
                       - cp.station.connectors[1].tx.record.meter_start_wh >= 1)
        status = await cp.console("status")
        assert any("paid by card, running cost" in line for line in status)
        await cp.console("sim unplug 1")
        cost = await csms.wait_for("DataTransfer",
                                   lambda f: f.payload["messageId"] == "PaymentCost",
                                   timeout_s=10)
        settled = await csms.wait_for("DataTransfer",
                                      lambda f: f.payload["messageId"] == "PaymentSettled",
                                      timeout_s=10)
        assert cost.payload["vendorId"] == "org.borne.payment"
        data = data_of(cost)
        assert data["totalCents"] == TARIFF.cost(data["energyWh"], 0).total_cents
        if protocol == "ocpp1.6":
            stop = await csms.wait_for("StopTransaction", timeout_s=10)
            assert data["energyWh"] == stop.payload["meterStop"] - start.payload["meterStart"]
            reply = await csms.wait_for("StartTransaction", direction="to_cp")
            assert data["transactionId"] == reply.payload["transactionId"]
        else:
            assert data["transactionId"] == start.payload["transactionInfo"]["transactionId"]
        assert cost.seq < (await csms.wait_for(
            "StopTransaction" if protocol == "ocpp1.6" else "TransactionEvent",
            (lambda f: True) if protocol == "ocpp1.6" else
            (lambda f: f.payload["eventType"] == "Ended"))).seq
        done = data_of(settled)
        assert done["status"] == "Settled" and done["settledCents"] == data["totalCents"]
        assert done["receiptUrl"] == "https://receipts.example/CP-IT/1"
        ledger = sim_terminal(cp).ledger
        assert [(b.kind, b.amount_cents) for b in ledger] == [
            ("pre_authorise", 3000), ("capture", data["totalCents"])]
        payments = await cp.console("payments")
        assert payments[-1].startswith("payment 1: done")


async def test_declined_card_starts_nothing_and_tariff_is_set_by_data_transfer(csms, tmp_path):
    site = write_site(tmp_path, csms.url, extra=PAYMENT)
    async with running_agent(site) as cp:
        await cp.until(lambda: cp.agent.link.connected)
        await cp.console("sim plug 1")
        await cp.console(f"sim card {CARD} decline")
        await cp.until(lambda: cp.station.payment.finished
                       and cp.station.payment.finished[-1].state == "declined")
        assert csms.messages("StartTransaction") == []
        assert "declined" in cp.station.payment.last_message
        # only a lost pre-authorisation is released by hand; bad lines change nothing
        for line, why in (("pay release 1 17", "payment 1 is declined, not lost"),
                          ("pay release 9 17", "no payment 9"),
                          (f"pay release {10**30} 17", "no payment"),
                          ("pay release 1 99999", "RECEIPT must be <= 9999"),
                          ("pay release one 17", "PAYMENT must be an integer"),
                          ("pay release 1", "usage: pay release PAYMENT RECEIPT")):
            reply = await cp.agent.console.execute(line)
            assert reply[-1] != "OK" and any(why in r for r in reply), (line, reply)
        assert sim_terminal(cp).ledger == []
        new = {**TARIFF.as_dict(), "energyPerKwh": "0.30"}
        reply = await csms.call(STATION, ("DataTransfer", {
            "vendorId": "org.borne.payment", "messageId": "SetTariff",
            "data": json.dumps(new)}))
        assert reply["status"] == "Accepted"
        assert "0.36 EUR/kWh" in (await cp.console("price"))[0]
        bad = await csms.call(STATION, ("DataTransfer", {
            "vendorId": "org.borne.payment", "messageId": "SetTariff", "data": "{\"x\": 1}"}))
        assert bad["status"] == "Rejected" and "unknown tariff field" in bad["data"]
        other = await csms.call(STATION, ("DataTransfer", {"vendorId": "com.other"}))
        assert other["status"] == "UnknownVendorId"
        got = await csms.call(STATION, ("DataTransfer", {
            "vendorId": "org.borne.payment", "messageId": "GetTariff"}))
        assert json.loads(got["data"])["energyPerKwh"] == "0.30"
    # the CSMS's tariff survives a restart
    async with running_agent(site) as cp:
        assert "0.36 EUR/kWh" in (await cp.console("price"))[0]
