"""The ad-hoc card payment flow in the core (firmware.core.payment), fake clock."""

from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.core.payment import id_tag_for
from firmware.core.timers import PaymentEndOfDay, PaymentRetry
from tests.payment.pay_harness import SETTINGS, TARIFF, PayHarness


def charge(h: PayHarness, wh: float, seconds: float) -> None:
    h.pilot("C")
    h.advance(seconds)
    h.meter(add_wh=wh)


def test_price_is_shown_before_the_pre_authorisation_and_the_card_starts_a_session():
    h = PayHarness()
    h.boot()
    h.pilot("B")
    out = h.handle(ev.PaymentRequested(0))
    kinds = [type(e) for e in out if isinstance(e, (fx.ShowPaymentMessage,
                                                     fx.PreAuthorisePayment))]
    assert kinds == [fx.ShowPaymentMessage, fx.PreAuthorisePayment]
    assert "0.54 EUR/kWh" in h.messages[0] and "30.00 EUR reserved" in h.messages[0]
    # the record is persisted in the same batch, before the call
    assert out.index(next(e for e in out if isinstance(e, fx.PersistPayment))) < \
        out.index(next(e for e in out if isinstance(e, fx.PreAuthorisePayment)))
    h.run_terminal()
    start = h.last(fx.SendTransactionStarted)
    tag = id_tag_for("559884******8074", "hash", "PAY-")
    assert start.id_tag == tag and start.token_type == "DirectPayment" and len(tag) <= 20
    assert h.of(fx.SendAuthorizationRequest) == []      # the payment authorises locally
    assert h.record().state == "charging"


def test_unplug_stops_captures_exactly_the_cost_and_reports_it():
    h = PayHarness()
    h.boot()
    h.pilot("B")
    h.pay()
    h.answer_start(77)
    charge(h, 10_000, 3600)                   # 10 kWh in 60 min (30 min billed)
    cost = TARIFF.cost(10_000, 3600)
    assert h.station.payment.running_cost(h.station.connectors[1]) == cost
    h.pilot("A")
    h.run_terminal()
    assert h.terminal.ledger[-1] == ("capture", 101, cost.total_cents)
    # (0.50 + 10 * 0.45 + 30 * 0.05) = 6.50 net; * 1.19 = 7.735 -> 7.74
    assert cost.total_cents == 774 and cost.vat_cents == 124
    record = h.record()
    assert record.state == "done" and record.capture_cents == 774
    cost_report, settled = h.reports
    assert cost_report.message_id == "PaymentCost" and cost_report.local_tx_id is not None
    assert cost_report.data["totalCents"] == 774 and cost_report.data["receiptNumber"] == 101
    assert settled.message_id == "PaymentSettled" and settled.data["status"] == "Settled"
    assert settled.data["receiptUrl"] == "https://r.example/1"
    # the cost report is queued just before the transaction's end
    assert [type(e) for e in h.log if isinstance(e, (fx.SendPaymentReport,
                                                     fx.SendTransactionEnded))][:2] == [
        fx.SendPaymentReport, fx.SendTransactionEnded]
    assert any(m.startswith("Receipt 101: 7.74 EUR") for m in h.messages)


def test_the_same_card_again_stops_its_own_session_and_its_new_reservation_is_released():
    h = PayHarness(connectors=2)
    h.boot()
    h.pilot("B")
    h.pay()
    charge(h, 2_000, 600)
    h.pay()                                    # the same card tapped again
    stop = h.last(fx.SendTransactionEnded)
    assert stop.reason == "Local" and stop.id_tag == h.record().id_tag
    settled = h.terminal.settled()
    assert settled == {101: [("capture", TARIFF.cost(2000, 600).total_cents)],
                       102: [("reverse", 0)]}
    assert h.of(fx.OpenContactor)


def test_zero_energy_reverses_everything():
    h = PayHarness()
    h.boot()
    h.pilot("B")
    h.pay()
    h.pilot("C")
    h.advance(7200)
    h.pilot("A")
    h.run_terminal()
    assert h.terminal.settled() == {101: [("reverse", 0)]}
    assert h.reports[-1].data["status"] == "Canceled"


def test_a_declined_card_shows_why_and_starts_nothing():
    h = PayHarness()
    h.boot()
    h.pilot("B")
    h.terminal.outcome = "decline"
    h.pay()
    assert h.of(fx.SendTransactionStarted) == [] and h.record().state == "declined"
    assert h.messages[-1] == "Card payment declined: card in blocked list"
    assert h.station.connectors[1].authorization is None


def test_a_silent_terminal_is_a_fault_and_settling_is_retried_until_it_answers():
    h = PayHarness()
    h.boot()
    h.pilot("B")
    h.pay()
    charge(h, 1000, 60)
    h.terminal.outcome = "silent"
    h.pilot("A")
    h.run_terminal()
    assert h.station.payment.terminal_fault.startswith("no answer")
    assert fx.StartTimer(PaymentRetry(1), 5.0) in h.log
    out = h.handle(ev.PaymentRequested(0))                  # no new payment meanwhile
    assert not h.of(fx.PreAuthorisePayment, out)
    h.terminal.outcome = "approve"
    h.handle(ev.TimerFired(PaymentRetry(0)))
    h.handle(ev.TimerFired(PaymentRetry(1)))
    h.run_terminal()
    assert h.terminal.settled() == {101: [("capture", TARIFF.cost(1000, 60).total_cents)]}
    assert h.station.payment.terminal_fault == ""


def test_connection_timeout_without_a_plug_releases_the_reservation():
    h = PayHarness()
    h.boot()
    h.pay()                                    # tap before plug
    assert h.record().state == "authorised"
    h.handle(ev.TimerFired(next(e.key for e in h.log if isinstance(e, fx.StartTimer)
                                and type(e.key).__name__ == "ConnectionTimeout")))
    h.run_terminal()
    assert h.terminal.settled() == {101: [("reverse", 0)]}


def test_the_running_cost_reaching_the_reservation_stops_the_session():
    h = PayHarness()
    h.boot()
    h.pilot("B")
    h.pay()
    h.pilot("C")
    out = h.meter(add_wh=60_000)               # 60 kWh > 30 EUR
    assert fx.OpenContactor(1) in out          # same batch as its cause
    h.run_terminal()
    assert h.terminal.settled() == {101: [("capture", 3000)]}


def test_end_of_day_runs_at_its_time_but_never_during_a_payment():
    h = PayHarness()
    assert any(isinstance(e, fx.StartTimer) and e.key == PaymentEndOfDay() for e in h.log)
    h.handle(ev.PaymentRequested(0))           # a pre-authorisation waits for its card
    out = h.handle(ev.TimerFired(PaymentEndOfDay()))
    assert not h.of(fx.RunEndOfDay, out) and fx.StartTimer(PaymentEndOfDay(), 300.0) in out
    h.run_terminal()
    out = h.handle(ev.TimerFired(PaymentEndOfDay()))
    assert h.of(fx.RunEndOfDay, out)
    h.run_terminal()
    assert ("end_of_day", 0, 0) in h.terminal.ledger


def test_tariff_from_the_csms_applies_to_the_next_session_not_the_running_one():
    h = PayHarness()
    h.boot()
    h.pilot("B")
    h.pay()
    out = h.handle(ev.TariffChangeRequested("r1", {**TARIFF.as_dict(), "energyPerKwh": "1.00"}))
    assert h.reply(out) == {"status": "Accepted"}
    assert h.of(fx.PersistTariff, out)
    charge(h, 1000, 60)
    h.pilot("A")
    h.run_terminal()
    assert h.record().capture_cents == TARIFF.cost(1000, 60).total_cents
    bad = h.handle(ev.TariffChangeRequested("r2", {"energyPerKwh": "NaN"}))
    assert h.reply(bad)["status"] == "Rejected"
    assert str(h.station.payment.tariff.energy_per_kwh) == "1.00"


def test_power_cut_between_pre_authorisation_and_start_reverses_once_on_restart():
    h = PayHarness()
    h.boot()
    h.pay()
    assert h.record().state == "authorised"
    h.power_cut()
    h.run_terminal()
    assert h.terminal.settled() == {101: [("reverse", 0)]}


def test_power_cut_while_charging_captures_the_energy_up_to_the_last_stored_reading():
    h = PayHarness()
    h.boot()
    h.pilot("B")
    h.pay()
    charge(h, 5000, 900)
    recorded = h.disk_transactions[1]
    h.power_cut()
    h.run_terminal()
    energy = (recorded.last_meter_wh or recorded.meter_start_wh) - recorded.meter_start_wh
    (kind, amount), = h.terminal.settled()[101]
    assert kind == ("capture" if energy else "reverse")
    assert h.record().state == "done"


def test_power_cut_after_the_capture_before_its_answer_does_not_capture_twice():
    h = PayHarness()
    h.boot()
    h.pilot("B")
    h.pay()
    charge(h, 3000, 300)
    h.pilot("A")
    settle = h.pending.pop(0)
    h.terminal.run(settle)                     # booked, but the answer is lost
    h.power_cut()
    h.run_terminal()
    assert h.terminal.settled() == {101: [("capture", settle.capture_cents)]}
    assert h.record().state == "done" and "already settled" in h.record().note


def test_a_first_settle_refusal_is_a_failure_not_success():
    h = PayHarness()
    h.boot()
    h.pilot("B")
    h.pay()
    charge(h, 3000, 300)
    h.terminal.open.clear()                    # the terminal lost the reservation
    h.pilot("A")
    h.run_terminal()
    assert h.record().state == "failed"
    assert h.reports[-1].data["status"] == "Failed"


def test_without_a_terminal_the_station_ignores_payments_and_refuses_tariffs():
    from tests.core.harness import Harness
    h = Harness()
    assert h.handle(ev.PaymentRequested(0)) == []
    assert h.reply(h.handle(ev.TariffChangeRequested("r", {})))["status"] == "Rejected"


def test_settings_connectors_limit_which_connectors_a_payment_may_start():
    from dataclasses import replace
    h = PayHarness(replace(SETTINGS, connectors=(2,)), connectors=2)
    h.boot()
    out = h.handle(ev.PaymentRequested(1))
    assert not h.of(fx.PreAuthorisePayment, out)
    h.pay(2)
    assert h.record(1).connector_id == 2


def _lost_reservation(h: PayHarness) -> int:
    """A pre-authorisation the terminal booked whose answer died with the agent."""
    h.boot()
    h.handle(ev.PaymentRequested(0))
    pre = next(e for e in h.pending if isinstance(e, fx.PreAuthorisePayment))
    h.terminal.run(pre)                       # booked at the terminal, answer lost
    (receipt,) = h.terminal.open
    h.power_cut()
    assert h.record().state == "lost" and h.record().receipt_number is None
    return receipt


def test_a_technician_releases_a_lost_pre_authorisation_once_by_its_receipt_number():
    h = PayHarness()
    receipt = _lost_reservation(h)
    h.handle(ev.PaymentReleaseRequested(h.record(), receipt))
    assert h.record().state == "settling"       # the intent is stored before the call
    h.run_terminal()
    assert h.terminal.settled() == {receipt: [("reverse", 0)]} and not h.terminal.open
    record = h.record()
    assert record.state == "done" and record.receipt_number == receipt
    assert h.reports[-1].data["status"] == "Canceled"
    # again (a second console line, a repeated click): refused, nothing sent
    out = h.handle(ev.PaymentReleaseRequested(record, receipt))
    assert not h.of(fx.SettlePayment, out)
    assert "Only a lost payment" in h.messages[-1]


def test_a_release_with_a_bad_or_busy_receipt_changes_nothing():
    h = PayHarness()
    receipt = _lost_reservation(h)
    lost = h.record()
    for bad in (0, 10_000, -1):
        out = h.handle(ev.PaymentReleaseRequested(lost, bad))
        assert not h.of(fx.SettlePayment, out) and not h.of(fx.PersistPayment, out)
    h.pilot("B")
    h.pay()                                   # a running payment holds the next receipt
    running = h.terminal.next_receipt
    out = h.handle(ev.PaymentReleaseRequested(lost, running))
    assert not h.of(fx.SettlePayment, out) and "belongs to a running" in h.messages[-1]
    assert h.disk_payments[lost.payment_id] == lost and receipt in h.terminal.open
