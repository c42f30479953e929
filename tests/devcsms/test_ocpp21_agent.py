"""The real agent (in-process, simulated board and payment terminal) speaking OCPP 2.1 to the development
CSMS (issue #12 item 4, C18): a card-paid session passes every 2.1 check of the CSMS, its NotifySettlement
lands in `csms.settlements` with the captured amount, and the receipt the CSMS makes reaches the driver;
a stand-alone terminal's session (C24) starts by the CSMS's RequestStartTransaction with a DirectPayment
idToken."""

from ocpp.v21 import call as call21

from devcsms import DevCsms
from tests.integration.agent import running_agent, write_site

STATION = "CP-IT"
PAYMENT = """
[payment]
energy_price_per_kwh = "0.45"
session_fee = "0.50"
vat_percent = "19"
pre_authorisation_cents = 3000
vendor_id = "org.borne.payment"
"""
CARD = "559884******8074"
RECEIPTS = "https://receipts.example/{station}/{psp_ref}"


async def test_a_card_paid_2_1_session_settles_once_with_the_captured_amount_and_no_violation(tmp_path):
    async with DevCsms(host="127.0.0.1", port=0, receipt_url=RECEIPTS) as csms:
        site = write_site(tmp_path, csms.url, ocpp={"protocol": "ocpp2.1"},
                          defaults={"MeterValueSampleInterval": 1}, extra=PAYMENT)
        async with running_agent(site) as cp:
            await csms.wait_for("StatusNotification", timeout_s=30)
            assert csms.connections[-1].subprotocol == "ocpp2.1"
            await cp.console("sim plug 1")
            await cp.console("sim power 1 11000")
            await cp.console(f"sim card {CARD}")
            started = await csms.wait_for("TransactionEvent", lambda f: f.payload["eventType"] == "Started",
                                          timeout_s=30)
            assert started.payload["idToken"]["type"] == "DirectPayment"  # [DM21] idtokenenumtype
            await cp.until(lambda: (cp.station.connectors[1].energy_wh() or 0)
                           - cp.station.connectors[1].tx.record.meter_start_wh >= 1, timeout_s=30)
            await cp.console("sim unplug 1")
            ended = await csms.wait_for("TransactionEvent", lambda f: f.payload["eventType"] == "Ended",
                                        timeout_s=30)
            notified = await csms.wait_for("NotifySettlement", timeout_s=30)
            answer = await csms.wait_for("NotifySettlement", direction="to_cp", after=notified.seq, timeout_s=30)
            await cp.until(lambda: cp.station.payment.finished
                           and cp.station.payment.finished[-1].csms_receipt_url != "", timeout_s=30)
            shown = cp.station.payment.finished[-1].csms_receipt_url
    [settlement] = csms.settlements
    transaction_id = started.payload["transactionInfo"]["transactionId"]
    assert (settlement.station, settlement.status, settlement.transaction_id) == (STATION, "Settled", transaction_id)
    assert settlement.psp_ref == started.payload["idToken"]["idToken"]
    total = ended.payload["costDetails"]["totalCost"]["total"]["inclTax"]
    assert settlement.settlement_amount == total  # the capture is the cost, to the cent
    assert notified.seq > ended.seq
    assert answer.payload == {"receiptUrl": f"https://receipts.example/{STATION}/{settlement.psp_ref}"}
    assert shown == answer.payload["receiptUrl"]
    view = csms.transactions[transaction_id]
    assert view.stopped and view.seq_nos == list(range(len(view.seq_nos)))
    assert csms.messages("DataTransfer") == []  # 2.1 reports the payment with its own messages
    assert csms.violations == []


async def test_a_stand_alone_terminal_session_c24_starts_by_request_start_transaction_in_2_1(tmp_path):
    # the terminal's payment reference: a UUID, longer than 1.6's CiString20
    token = {"idToken": "3f2b9c1e-8d4a-4e6b-9a7c-5d1e2f3a4b5c", "type": "DirectPayment"}
    async with DevCsms(host="127.0.0.1", port=0) as csms:
        site = write_site(tmp_path, csms.url, ocpp={"protocol": "ocpp2.1"}, extra=PAYMENT)
        async with running_agent(site) as cp:
            await csms.wait_for("StatusNotification", timeout_s=30)
            await cp.console("sim plug 1")
            reply = await csms.call(STATION, call21.RequestStartTransaction(id_token=token, remote_start_id=7,
                                                                           evse_id=1), timeout_s=30)
            assert reply["status"] == "Accepted"
            started = await csms.wait_for("TransactionEvent", lambda f: f.payload["eventType"] == "Started",
                                          timeout_s=30)
            assert started.payload["idToken"] == token
            assert started.payload["transactionInfo"].get("remoteStartId") == 7
            await cp.console("sim unplug 1")
            ended = await csms.wait_for("TransactionEvent", lambda f: f.payload["eventType"] == "Ended",
                                        timeout_s=30)
            assert ended.payload["transactionInfo"]["transactionId"] == \
                started.payload["transactionInfo"]["transactionId"]
            empty = await csms.call(STATION, call21.RequestStartTransaction(
                id_token={"idToken": "", "type": "DirectPayment"}, remote_start_id=8, evse_id=1), timeout_s=30)
    assert empty["status"] == "Rejected" and empty["statusInfo"]["reasonCode"] == "InvalidIdToken"
    assert csms.violations == []
