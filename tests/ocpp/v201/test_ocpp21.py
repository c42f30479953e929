"""OCPP 2.1 as a version of the 2.x adapter (firmware.ocpp.v201.version, issue 12 item
4): the 2.1 schemas, its token types, and a card payment reported with C18's
NotifySettlement and TransactionEvent.costDetails (ocpp201-rules.md §9) instead of
2.0.1's DataTransfer. Every message goes through the version's codec, which checks it
against the official schema of that version (``ocpp`` 2.1.0 package data)."""

from __future__ import annotations

import json

import pytest

from firmware.app import protocol_adapter
from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.ocpp.mapping import StationInfo
from firmware.ocpp.v201 import frames, rpc, schemas
from firmware.ocpp.v201.adapter import V201Adapter
from firmware.ocpp.v201.codec import V201Codec
from firmware.ocpp.v201.errors import InvalidOutgoingMessage
from firmware.ocpp.v201.outbound import transaction_id
from firmware.ocpp.v201.settlement import cost_details, notify_settlement
from firmware.ocpp.v201.version import V21, V201
from firmware.store import db
from tests.payment.pay_harness import TARIFF, PayHarness

INFO = StationInfo("Borne", "AC-22", "SN-1", "borne-0.1.0")


@pytest.fixture
def conn(tmp_path):
    connection = db.open_database(tmp_path)
    yield connection
    connection.close()


def test_every_2_0_1_action_is_a_2_1_action():
    assert schemas.known_actions("v201") <= schemas.known_actions("v21")
    assert "NotifySettlement" in schemas.known_actions("v21")
    assert "NotifySettlement" not in schemas.known_actions("v201")


def test_a_2_1_only_action_is_not_supported_in_2_1_and_not_implemented_in_2_0_1():
    text = json.dumps([2, "m1", "SetDefaultTariff", {"evseId": 0, "tariff": {}}])
    in_21 = V201Codec(version=V21).read(text)
    in_201 = V201Codec().read(text)
    assert in_21.kind == in_201.kind == "bad"
    assert json.loads(in_21.reply)[2] == "NotSupported"
    assert json.loads(in_201.reply)[2] == "NotImplemented"
    unknown = V201Codec(version=V21).read(json.dumps([2, "m2", "Teleport", {}]))
    assert json.loads(unknown.reply)[2:4] == ["NotImplemented",
                                              "'Teleport' is not an OCPP 2.1 action"]


def test_a_2_1_payload_is_checked_against_the_2_1_schema():
    # 2.1 widened IdToken.type to a string <= 20 (an enum in 2.0.1)
    request = {"idToken": {"idToken": "PAY-1", "type": "DirectPayment"}}
    assert rpc.check_result("Authorize", frames.ResultFrame("m", {"idTokenInfo": {
        "status": "Accepted"}}), "v21") == frames.ResultFrame("m", {"idTokenInfo": {
            "status": "Accepted"}})
    frames.encode_call("m", "Authorize", request, "v21")
    with pytest.raises(InvalidOutgoingMessage):
        frames.encode_call("m", "Authorize", request)        # 2.0.1: not in the enum
    with pytest.raises(InvalidOutgoingMessage, match="not an OCPP 2.0.1 action"):
        frames.encode_call("m", "NotifySettlement", {})


@pytest.mark.parametrize("presented, in_201, in_21", [
    ("DirectPayment", "Local", "DirectPayment"), ("ISO14443", "ISO14443", "ISO14443"),
    ("Central", "Central", "Central"), ("VIN", "Local", "VIN")])
def test_token_types_a_version_lacks_go_out_as_local(presented, in_201, in_21):
    assert V201.token_type(presented) == in_201
    assert V21.token_type(presented) == in_21


def test_the_app_builds_the_2_1_adapter(conn):
    # (the config accepts "ocpp2.1": tests/config/test_check_config.py)
    adapter = protocol_adapter("ocpp2.1", INFO, conn, lambda: True)
    assert isinstance(adapter, V201Adapter) and adapter.subprotocol == "ocpp2.1"
    assert adapter.version is V21


def _paid_session(h: PayHarness) -> None:
    h.boot()
    h.pilot("B")
    h.pay()
    h.pilot("C")
    h.advance(3600)
    h.meter(add_wh=10_000)
    h.pilot("A")
    h.run_terminal()


def _through(adapter: V201Adapter, conn, effects: list[fx.Effect]) -> list[tuple[str, dict]]:
    """Each message effect as the runtime would send it, encoded (and so schema-checked)
    by the adapter's own codec."""
    codec = adapter.codec
    sent = []
    for effect in effects:
        if not isinstance(effect, fx.SendMessage):
            continue
        if effect.transaction_related:
            with db.atomic(conn):
                message = adapter.queued_message(effect, conn)
        else:
            message = adapter.message(effect)
        if message is not None:
            codec.encode_call("m-1", *message)
            sent.append(message)
    return sent


def test_a_card_payment_in_2_1_is_costdetails_on_the_ended_and_a_notify_settlement(conn):
    h = PayHarness()
    _paid_session(h)
    sent = _through(V201Adapter(INFO, conn, version=V21), conn, h.log)
    actions = [action for action, _ in sent]
    assert "DataTransfer" not in actions
    started = next(p for a, p in sent if a == "TransactionEvent" and p["eventType"] == "Started")
    ended = next(p for a, p in sent if a == "TransactionEvent" and p["eventType"] == "Ended")
    settlement = next(p for a, p in sent if a == "NotifySettlement")
    assert actions.index("NotifySettlement") > actions.index("TransactionEvent")
    assert started["idToken"]["type"] == "DirectPayment"
    cost = TARIFF.cost(10_000, 3600)
    assert ended["costDetails"] == {
        "totalCost": {"currency": "EUR", "typeOfCost": "NormalCost",
                      "total": {"exclTax": cost.net_cents / 100,
                                "inclTax": cost.total_cents / 100}},
        "totalUsage": {"energy": 10_000, "chargingTime": 3600, "idleTime": 0}}
    assert settlement["transactionId"] == started["transactionInfo"]["transactionId"]
    assert settlement["status"] == "Settled"
    assert settlement["settlementAmount"] == 7.74            # the capture, to the cent
    assert settlement["pspRef"] == started["idToken"]["idToken"]
    assert settlement["receiptId"] == "101"
    assert settlement["receiptUrl"] == "https://r.example/1"


def test_the_same_payment_in_2_0_1_stays_the_documented_data_transfer(conn):
    h = PayHarness()
    _paid_session(h)
    sent = _through(V201Adapter(INFO, conn), conn, h.log)
    started = next(p for a, p in sent if a == "TransactionEvent" and p["eventType"] == "Started")
    ended = next(p for a, p in sent if a == "TransactionEvent" and p["eventType"] == "Ended")
    transfers = [p["messageId"] for a, p in sent if a == "DataTransfer"]
    assert transfers == ["PaymentCost", "PaymentSettled"]
    assert "costDetails" not in ended and "NotifySettlement" not in [a for a, _ in sent]
    assert started["idToken"]["type"] == "Local"


def test_a_reservation_released_before_any_transaction_settles_without_a_transaction_id(
        conn):
    h = PayHarness()
    h.boot()
    h.pay()                                  # no cable: the connection timeout releases it
    h.handle(ev.TimerFired(next(e.key for e in h.log if isinstance(e, fx.StartTimer)
                                and type(e.key).__name__ == "ConnectionTimeout")))
    h.run_terminal()
    sent = _through(V201Adapter(INFO, conn, version=V21), conn, h.log)
    settlement = next(p for a, p in sent if a == "NotifySettlement")
    assert settlement["status"] == "Canceled" and settlement["settlementAmount"] == 0
    assert "transactionId" not in settlement


def test_settlement_payloads_from_damaged_report_data_are_still_valid():
    for data in ({}, {"status": "Weird", "settledCents": "12", "idTag": None},
                 {"settledCents": 10**12, "info": "x" * 900, "receiptUrl": "u" * 3000,
                  "receiptNumber": 10**60, "settledAt": "2026-12-03T10:00:00Z"}):
        payload = notify_settlement(data, "t" * 50)
        assert payload["status"] in ("Settled", "Canceled", "Rejected", "Failed")
        if payload["settlementTime"]:
            frames.encode_call("m", "NotifySettlement", payload, "v21")
        details = cost_details(data)
        assert details["totalUsage"]["chargingTime"] >= 0
    assert transaction_id(3, 1_767_225_600.0) == "3-1767225600"


class _Row:
    def __init__(self, action: str, payload: dict) -> None:
        self.action, self.payload, self.local_tx_id = action, payload, None


def test_a_receipt_the_csms_makes_is_shown_to_the_driver_instead_of_ours(conn):
    h = PayHarness()
    _paid_session(h)
    adapter = V201Adapter(INFO, conn, version=V21)
    sent = _through(adapter, conn, h.log)
    settlement = next(p for a, p in sent if a == "NotifySettlement")
    assert adapter.queued_answered(_Row("NotifySettlement", settlement), {}) == []
    events = adapter.queued_answered(_Row("NotifySettlement", settlement),
                                     {"receiptUrl": "https://csms.example/r/9"})
    assert events == [ev.PaymentReceiptOffered(settlement["pspRef"],
                                               "https://csms.example/r/9")]
    before = len(h.messages)
    h.handle(events[0])
    assert h.record().csms_receipt_url == "https://csms.example/r/9"   # persisted
    assert h.messages[before:] and "https://csms.example/r/9" in h.messages[-1]
    # a receipt for an idTag with no settled payment changes nothing
    assert h.handle(ev.PaymentReceiptOffered("PAY-NOBODY", "https://x/1")) == []


@pytest.mark.parametrize("message_type", [5, 6])
def test_2_1_callresulterror_and_send_are_never_answered_but_unknown_in_2_0_1(message_type):
    text = json.dumps([message_type, "m-9", "x", {}] if message_type == 6 else
                      [message_type, "m-9", "FormatViolation", "bad result", {}])
    in_21 = V201Codec(version=V21).read(text)
    assert in_21.kind == "bad" and in_21.reply is None
    in_201 = V201Codec().read(text)
    assert in_201.kind == "bad" and json.loads(in_201.reply)[2] == "MessageTypeNotSupported"


def test_the_2_0_1_sample_payloads_are_valid_2_1_payloads():
    # version.py's claim that 2.0.1 payloads stay valid in 2.1, on every sample the v201
    # tests use (both directions)
    from tests.ocpp.v201.samples import VALID

    for action, (request, response) in VALID.items():
        assert schemas.payload_problem(action, "Request", request, "v21") is None, action
        assert schemas.payload_problem(action, "Response", response, "v21") is None, action


def _payment_ctrlr(view) -> dict[str, str]:
    from firmware.ocpp.v201 import device_facts

    return {item["variable"]["name"]: item["variableAttribute"][0]["value"]
            for item in device_facts.report_data(view)
            if item["component"]["name"] == "PaymentCtrlr"}


def test_payment_ctrlr_reports_the_terminal_the_amount_and_a_fault():
    from firmware.ocpp.v201.device_facts import CoreStationView, find
    from tests.core.harness import Harness

    h = PayHarness()
    h.boot()
    view = CoreStationView(h.station, lambda: h.now, 30.0)
    assert _payment_ctrlr(view) == {"Enabled": "true", "Problem": "false",
                                    "Connected": "true", "AuthorizationAmount": "30.00",
                                    "SettlementByCSMS": "false"}
    h.handle(ev.PaymentTerminalFailed(0, "status", "no answer within T2"))
    assert _payment_ctrlr(view)["Problem"] == "true"
    assert _payment_ctrlr(view)["Connected"] == "false"
    fact, _, status = find({"name": "PaymentCtrlr"}, {"name": "AuthorizationAmount"}, view)
    assert status == "Accepted" and fact is not None and fact.data_type == "decimal"
    plain = Harness()
    assert _payment_ctrlr(CoreStationView(plain.station, lambda: 0.0, 30.0)) == {
        "Enabled": "false", "Problem": "false", "Connected": "false",
        "AuthorizationAmount": "0.00", "SettlementByCSMS": "false"}
