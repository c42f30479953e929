"""The costs and price text the CSMS gives for the driver (firmware.core.csms_cost), fake
clock: ocpp201-rules.md §7 "I" — CostUpdated is a running cost, the Ended's totalCost
the final one (0.00 = free, absent = not free → TotalCostFallbackMessage)."""

from decimal import Decimal

import pytest

from firmware.core import effects as fx
from firmware.core import events as ev
from tests.core.harness import Harness
from tests.payment.pay_harness import PayHarness


def running(h: Harness) -> int:
    h.boot()
    h.start_session()
    return h.station.connectors[1].tx.local_tx_id


def cost(h: Harness, local_tx_id: int, total, final: bool = False) -> list[fx.Effect]:
    value = None if total is None else Decimal(total)
    return h.handle(ev.CsmsCostReported(h.ref(), local_tx_id, value, final))


def shown(effects: list[fx.Effect]) -> list[tuple[int, str]]:
    return [(e.connector_id, e.text) for e in effects if isinstance(e, fx.ShowPaymentMessage)]


def test_running_cost_is_shown_on_its_connector_and_in_status_lines():
    h = Harness()
    tx = running(h)
    out = cost(h, tx, "3.456")
    assert h.reply(out) == {"status": "Accepted"}
    assert shown(out) == [(1, "Cost so far 3.46 EUR")]
    assert h.station.csms_costs.lines() == ["connector 1: Cost so far 3.46 EUR"]
    cost(h, tx, "4.10")                    # the next report replaces it
    assert h.station.csms_costs.lines() == ["connector 1: Cost so far 4.10 EUR"]


def test_running_cost_of_a_transaction_not_running_changes_nothing():
    h = Harness()
    tx = running(h)
    out = cost(h, tx + 7, "1.00")
    assert h.reply(out)["status"] == "Ignored" and "not running" in h.reply(out)["why"]
    assert shown(out) == [] and h.station.csms_costs.lines() == []


@pytest.mark.parametrize("total, why", [("-0.01", "negative"), ("1000000.01", "above"),
                                        ("NaN", "finite"), ("Infinity", "finite"),
                                        ("1e400", "above")])
def test_negative_absurd_and_non_finite_costs_are_ignored(total, why):
    h = Harness()
    tx = running(h)
    cost(h, tx, "2.00")
    out = cost(h, tx, total)
    assert h.reply(out)["status"] == "Ignored" and why in h.reply(out)["why"]
    assert shown(out) == []
    assert h.station.csms_costs.lines() == ["connector 1: Cost so far 2.00 EUR"]


def test_final_cost_after_the_stop_free_and_absent():
    """TC_I_01/02 reading: the Ended's answer comes after the transaction ended; its
    connector is the one it ran on; 0 = free; absent = TotalCostFallbackMessage."""
    h = Harness()
    tx = running(h)
    h.pilot("A")                                           # the EV leaves: Ended
    assert h.station.connectors[1].tx is None
    assert shown(cost(h, tx, "12.5", final=True)) == [(1, "Total cost 12.50 EUR")]
    assert shown(cost(h, tx, "0", final=True)) == [(1, "Charging was free (0.00 EUR)")]
    out = cost(h, tx, None, final=True)
    assert shown(out) == [(1, "Total cost not known yet: see your receipt or app")]
    assert h.station.csms_costs.lines() == [
        "connector 1: Total cost not known yet: see your receipt or app"]
    h.start_session(tag="11223344")                  # the next session forgets it
    assert h.station.csms_costs.lines() == []


def test_final_cost_of_a_transaction_from_before_a_restart_goes_to_every_display():
    h = Harness()
    h.boot()
    out = cost(h, 99, "5", final=True)
    assert shown(out) == [(0, "Total cost 5.00 EUR")]
    assert h.station.csms_costs.lines() == ["station: Total cost 5.00 EUR"]


def test_cost_enabled_false_shows_nothing():
    h = Harness(config={"CostEnabled": "false"})
    tx = running(h)
    out = cost(h, tx, "1")
    assert h.reply(out) == {"status": "Ignored", "why": "CostEnabled is false"}
    assert shown(out) == []


def test_tariff_fallback_message_replaces_the_payment_price_text_and_is_shown_on_change():
    h = PayHarness()
    h.boot()
    assert "0.54 EUR/kWh" in h.station.price_text()
    out = h.handle(ev.ConfigurationChangeRequested(h.ref(), "TariffFallbackMessage",
                                                   "0.39 EUR/kWh, no session fee"))
    assert h.reply(out) == {"status": "Accepted"}
    assert any(isinstance(e, fx.PersistConfiguration) for e in out)
    text = "Pay by card: 0.39 EUR/kWh, no session fee; 30.00 EUR reserved, only the cost " \
           "is charged"
    assert h.station.price_text() == text and shown(out) == [(0, text)]
    h.handle(ev.ConfigurationChangeRequested(h.ref(), "TariffEnabled", "false"))
    assert "0.54 EUR/kWh" in h.station.price_text()         # the station's own again


@pytest.mark.parametrize("value, why", [("x" * 256, "longer than 255"),
                                        ("line one\nline two", "printable"),
                                        ("\x1b[2J", "printable")])
def test_a_refused_fallback_message_changes_nothing(value, why):
    h = Harness()
    h.boot()
    for key in ("TariffFallbackMessage", "TotalCostFallbackMessage"):
        before = h.station.config.get(key)
        out = h.handle(ev.ConfigurationChangeRequested(h.ref(), key, value))
        assert h.reply(out) == {"status": "Rejected"}
        assert h.station.config.get(key) == before
        assert not any(isinstance(e, (fx.PersistConfiguration, fx.ShowPaymentMessage))
                       for e in out)
    assert h.station.config.change("TariffFallbackMessage", "x" * 256).reason == \
        "longer than 255 characters"
    assert why in (h.station.config.change("TariffFallbackMessage", value).reason or "")


def test_without_a_terminal_the_price_is_the_csms_message_only():
    h = Harness()
    h.boot()
    assert h.station.price_text() == ""
    out = h.handle(ev.ConfigurationChangeRequested(h.ref(), "TariffFallbackMessage",
                                                   "0.45 EUR/kWh"))
    assert shown(out) == [(0, "0.45 EUR/kWh")]
    assert h.station.price_text() == "0.45 EUR/kWh"


def test_a_paid_session_without_csms_total_keeps_the_station_cost():
    """The card payment computed and captured the total itself: an absent totalCost
    does not replace it with the fallback text."""
    h = PayHarness()
    h.boot()
    h.pilot("B")
    h.pay()
    h.answer_start(77)
    h.pilot("C")
    h.advance(600)
    h.meter(add_wh=2000)
    tx = h.station.connectors[1].tx.local_tx_id
    h.pilot("A")
    h.run_terminal()
    out = cost(h, tx, None, final=True)
    assert h.reply(out)["status"] == "Ignored" and shown(out) == []
    assert shown(cost(h, tx, "3.10", final=True)) == [(1, "Total cost 3.10 EUR")]
