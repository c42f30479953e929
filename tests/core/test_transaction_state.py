"""A running transaction's state changes are transaction facts (issue 9: 2.0.1 reports
them as TransactionEvent Updated, triggerReason ChargingStateChanged, ocpp201-rules.md §3)."""

from firmware.core import effects as fx
from tests.core.harness import Harness


def states(h: Harness) -> list[str]:
    return [e.status for e in h.of(fx.SendTransactionStateChanged)]


def test_the_state_after_the_start_and_each_change_are_reported_in_order():
    h = Harness()
    h.boot()
    h.start_session()  # plugged (B), authorized, started, then the EV asks (C)
    h.pilot("B")
    h.pilot("C")
    assert states(h) == ["SuspendedEV", "Charging", "SuspendedEV", "Charging"]
    changed = h.of(fx.SendTransactionStateChanged)
    assert all(e.transaction_related and e.local_tx_id == 1 for e in changed)
    started = h.log.index(h.last(fx.SendTransactionStarted))
    assert h.log.index(changed[0]) > started


def test_the_state_is_reported_offline_too():
    h = Harness(config={"AllowOfflineTxForUnknownId": "true"})
    h.pilot("B")
    h.tap("AABBCCDD")
    h.pilot("C")
    assert states(h)[-1] == "Charging"


def test_nothing_after_the_transaction_ends():
    h = Harness()
    h.boot()
    h.start_session()
    before = len(states(h))
    h.pilot("A")  # unplugged: the transaction ends
    assert h.last(fx.SendTransactionEnded)
    assert len(states(h)) == before
