"""The ad-hoc tariff: exact cents, one documented rounding (firmware.core.tariff)."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.core.tariff import Tariff, parse_amount, round_cents

TARIFF = Tariff(currency="EUR", energy_per_kwh=Decimal("0.42"), session_fee=Decimal("1.00"),
                time_fee_per_min=Decimal("0.10"), time_grace_min=60,
                vat_percent=Decimal("19"))


def test_energy_times_price_plus_fees_plus_vat_to_the_cent():
    # 12.345 kWh * 0.42 = 5.1849; + 1.00 session; 90 min - 60 grace = 30 min * 0.10 = 3.00
    # net 9.1849 -> 9.18; gross 9.1849 * 1.19 = 10.930031 -> 10.93; VAT 1.75
    cost = TARIFF.cost(12345, 90 * 60)
    assert (cost.net_cents, cost.vat_cents, cost.total_cents) == (918, 175, 1093)
    assert cost.minutes_billed == 30


def test_started_minutes_after_the_grace_are_billed():
    assert TARIFF.cost(1000, 60 * 60).minutes_billed == 0
    assert TARIFF.cost(1000, 60 * 60 + 1).minutes_billed == 1
    assert TARIFF.cost(1000, 60 * 60 + 60).minutes_billed == 1


def test_half_a_cent_rounds_up_once_at_the_end():
    tariff = Tariff(energy_per_kwh=Decimal("0.005"), vat_percent=Decimal("0"))
    assert tariff.cost(1000, 0).total_cents == 1      # 0.005 -> 0.01 (half up)
    assert round_cents(Decimal("0.0049")) == 0


def test_zero_energy_costs_nothing_at_all():
    cost = TARIFF.cost(0, 3 * 3600)
    assert cost.total_cents == 0 and cost.minutes_billed == 0


def test_total_is_capped_at_the_reservation_keeping_net_plus_vat():
    cost = TARIFF.cost(200_000, 0, cap_cents=5000)
    assert cost.capped and cost.total_cents == 5000
    assert cost.net_cents + cost.vat_cents == 5000 and cost.net_cents == 4202


@settings(max_examples=300, derandomize=True)
@given(st.integers(0, 500_000), st.floats(0, 7 * 86400), st.integers(1, 100_000))
def test_receipt_always_adds_up_and_never_exceeds_the_cap(energy_wh, duration_s, cap):
    cost = TARIFF.cost(energy_wh, duration_s, cap_cents=cap)
    assert cost.net_cents + cost.vat_cents == cost.total_cents <= cap
    assert cost.total_cents >= 0


def test_price_text_shows_gross_prices():
    assert TARIFF.price_text() == ("0.50 EUR/kWh, 1.19 EUR/session, 0.12 EUR/min after "
                                   "60 min (incl. 19% VAT)")


@pytest.mark.parametrize("bad", ["abc", "NaN", "-1", "1e9", "0.123456", True, None, [],
                                 "9" * 40, float("inf")])
def test_bad_amounts_are_refused_with_a_reason(bad):
    with pytest.raises(ValueError):
        parse_amount(bad, "energy_price_per_kwh")


def test_json_form_round_trips_and_rejects_unknown_fields():
    assert Tariff.from_dict(TARIFF.as_dict()) == TARIFF
    with pytest.raises(ValueError, match="unknown tariff field"):
        Tariff.from_dict({**TARIFF.as_dict(), "colour": "red"})
    with pytest.raises(ValueError, match="currency"):
        Tariff.from_dict({"currency": "euro"})
    with pytest.raises(ValueError, match="timeGraceMin"):
        Tariff.from_dict({"timeGraceMin": 1.5})
    with pytest.raises(ValueError):
        Tariff.from_dict([1, 2])
