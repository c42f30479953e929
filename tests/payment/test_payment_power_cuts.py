"""Seeded, shrinking power cuts at random points of random paid sessions: every
reservation the agent stored a receipt for is captured or reversed exactly once, never
twice, and what is captured is the cost of the transaction's stored energy."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.core.tariff import Tariff
from firmware.core.timers import PaymentRetry
from tests.payment.pay_harness import PayHarness

ACTIONS = st.lists(st.sampled_from([
    "plug", "unplug", "pay", "pay1", "pay2", "draw", "step", "cut", "cut_after_terminal",
    "advance", "silent", "answering", "retry",
]), max_size=40)


def settle_down(h: PayHarness) -> None:
    h.terminal.outcome = "approve"
    for _ in range(3):
        for cid in (1, 2):
            h.pilot("A", cid)
        # only the timers this agent (since its last start) armed fire
        for key in [e.key for e in h.log if isinstance(e, fx.StartTimer)
                    and type(e.key).__name__ in ("ConnectionTimeout", "PaymentRetry")]:
            h.handle(ev.TimerFired(key))
        h.run_terminal()


def check(h: PayHarness, booked_without_answer: set[int]) -> None:
    settled = h.terminal.settled()
    for receipt, ops in settled.items():
        assert len(ops) == 1, f"receipt {receipt} settled {ops}"       # never twice
    for record in h.disk_payments.values():
        if record.receipt_number is None:
            continue
        assert record.state in ("done", "failed"), record
        ops = settled.get(record.receipt_number)
        assert ops is not None and len(ops) == 1, record
        kind, amount = ops[0]
        assert amount == (record.capture_cents or 0)
        if record.cost is not None:
            assert record.capture_cents == record.cost["totalCents"]
    stored = {r.receipt_number for r in h.disk_payments.values()}
    for receipt in h.terminal.open:
        # only a reservation whose answer died with the agent stays open ("lost")
        assert receipt not in stored and receipt in booked_without_answer


@settings(max_examples=150, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(ACTIONS)
def test_capture_or_reverse_exactly_once_whatever_the_power_cut(actions):
    h = PayHarness(connectors=2)
    h.boot()
    booked_without_answer: set[int] = set()
    for action in actions:
        if action == "plug":
            h.pilot("B", 1)
        elif action == "unplug":
            h.pilot("A", 1)
        elif action in ("pay", "pay1", "pay2"):
            h.handle(ev.PaymentRequested({"pay": 0, "pay1": 1, "pay2": 2}[action]))
        elif action == "draw":
            for cid in (1, 2):
                if h.station.connectors[cid].ev_plugged:
                    h.pilot("C", cid)
                    h.meter(cid, add_wh=1234)
        elif action == "step" and h.pending:
            answer = h.terminal.run(h.pending.pop(0))
            if answer is not None:
                h.handle(answer)
        elif action == "cut":
            h.power_cut()
        elif action == "cut_after_terminal" and h.pending:
            before = set(h.terminal.open)
            h.terminal.run(h.pending.pop(0))
            booked_without_answer |= set(h.terminal.open) - before
            h.power_cut()
        elif action == "advance":
            h.advance(611)
        elif action == "silent":
            h.terminal.outcome = "silent"
        elif action == "answering":
            h.terminal.outcome = "approve"
        elif action == "retry":
            h.handle(ev.TimerFired(PaymentRetry(0)))
    settle_down(h)
    check(h, booked_without_answer)


def test_regression_cut_after_the_capture_was_booked():
    """Kept from the randomized run's shape: capture booked, answer lost, restart."""
    h = PayHarness()
    h.boot()
    h.pilot("B")
    h.handle(ev.PaymentRequested(0))
    h.run_terminal()
    h.pilot("C")
    h.advance(1200)
    h.meter(add_wh=4321)
    h.pilot("A")
    h.terminal.run(h.pending.pop(0))
    h.power_cut()
    settle_down(h)
    check(h, set())
    tariff = Tariff.from_dict(h.record().tariff)
    assert h.record().capture_cents == tariff.cost(4321, 1200).total_cents
