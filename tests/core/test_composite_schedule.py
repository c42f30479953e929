"""Known-answer composite schedules (smart-charging.md §8) and profile validation."""

from __future__ import annotations

import math

import pytest

from firmware.core.smart_charging import (ABSOLUTE, RECURRING, RELATIVE, STATION_MAX, TX,
                                          TX_DEFAULT, ChargingProfile, Electrical,
                                          ProfileLimits, SchedulePeriod, composite_schedule,
                                          offer_a, problem_with, round_down_tenth)

T0 = 1_767_225_600.0
HW = Electrical(voltage_v=230.0, max_current_a=32.0)


def profile(purpose, stack, periods, *, unit="A", kind=ABSOLUTE, duration=None, connector=1,
            start=T0, phases=None, recurrency=None, pid=None):
    return ChargingProfile(
        profile_id=pid or stack * 10 + len(periods), stack_level=stack, purpose=purpose,
        kind=kind, rate_unit=unit, connector_id=connector, recurrency=recurrency,
        periods=tuple(SchedulePeriod(s, limit, phases) for s, limit in periods),
        start_schedule_s=None if kind == RELATIVE else start, duration_s=duration)


def shape(periods):
    return [(p.start_period_s, p.limit) for p in periods]


def test_ka1_tc_k_40_a_higher_stack_wins_while_valid_the_lower_resumes():
    profiles = [profile(TX_DEFAULT, 0, [(0, 6), (100, 8), (200, 10)], duration=400),
                profile(TX_DEFAULT, 1, [(0, 7), (100, 9)], duration=150)]
    got = composite_schedule(profiles, T0, 350, "A", HW, tx_start_s=T0)
    assert shape(got) == [(0, 7), (100, 9), (150, 8), (200, 10)]


def test_ka2_tc_k_41_purposes_combine_by_minimum_tx_overrules_tx_default():
    profiles = [profile(STATION_MAX, 0, [(0, 10)], duration=86400, connector=0),
                profile(TX_DEFAULT, 0, [(0, 6), (60, 10), (120, 8), (180, 15), (260, 8)],
                        duration=300),
                profile(TX, 0, [(0, 8), (50, 11), (140, 16), (200, 6), (240, 12)],
                        duration=260)]
    got = shape(composite_schedule(profiles, T0, 400, "A", HW, tx_start_s=T0))
    assert got[:4] == [(0, 8), (50, 10), (200, 6), (240, 10)]
    # Borne's choice for the open point (as libocpp): past the TxProfile's duration the
    # TxDefault applies again until its own ends.
    assert got[4:] == [(260, 8), (300, 10)]


def ka3(max_phases):
    return [profile(STATION_MAX, 0, [(0, 10)], duration=3600, connector=0, phases=max_phases),
            profile(TX_DEFAULT, 0, [(0, 12420), (300, 8280), (600, 6210), (900, 4140),
                                    (1200, 2070)], unit="W", kind=RELATIVE)]


def test_ka3_mixing_amps_and_watts_three_phases():
    assert shape(composite_schedule(ka3(3), T0, 3600, "A", HW, tx_start_s=T0)) == [
        (0, 10), (600, 9), (900, 6), (1200, 3)]
    assert shape(composite_schedule(ka3(3), T0, 3600, "W", HW, tx_start_s=T0)) == [
        (0, 6900), (600, 6210), (900, 4140), (1200, 2070)]


def test_ka3_mixing_amps_and_watts_a_one_phase_maximum():
    assert shape(composite_schedule(ka3(1), T0, 3600, "W", HW, tx_start_s=T0)) == [
        (0, 2300), (1200, 2070)]
    assert shape(composite_schedule(ka3(1), T0, 3600, "A", HW, tx_start_s=T0)) == [
        (0, 10), (1200, 9)]


def test_ka4_daily_recurring_anchored_at_start_schedule_e16_3_78():
    start = 1_356_998_400.0  # 2013-01-01T00:00Z
    daily = profile(TX_DEFAULT, 0, [(0, 11000), (28800, 6000), (72000, 11000)], unit="W",
                    kind=RECURRING, recurrency="Daily", duration=86400, start=start, phases=3)
    request = 1_714_546_800.0  # 2024-05-01T07:00Z
    assert shape(composite_schedule([daily], request, 7200, "W", HW)) == [
        (0, 11000), (3600, 6000)]
    amps = composite_schedule([daily], request, 7200, "A", HW)
    assert [(p.start_period_s, round_down_tenth(p.limit)) for p in amps] == [
        (0, 15.9), (3600, 8.6)]


def test_no_profile_is_one_period_at_the_hardware_maximum():
    assert shape(composite_schedule([], T0, 300, "A", HW)) == [(0, 32.0)]


def test_a_zero_amp_limit_is_honoured_and_below_6_a_is_a_pause():
    profiles = [profile(TX_DEFAULT, 0, [(0, 0), (60, 5.9), (120, 6)])]
    assert shape(composite_schedule(profiles, T0, 300, "A", HW)) == [
        (0, 0), (60, 5.9), (120, 6)]
    assert offer_a(profiles, T0 + 30, HW, tx_start_s=T0) == 0.0
    assert offer_a(profiles, T0 + 90, HW, tx_start_s=T0) == 0.0   # never a 5.9 A offer
    assert offer_a(profiles, T0 + 130, HW, tx_start_s=T0) == 6.0


@pytest.mark.parametrize("bad, why", [
    (dict(periods=(SchedulePeriod(120, 10),)), "first startPeriod"),
    (dict(periods=(SchedulePeriod(0, math.nan),)), "finite"),
    (dict(periods=(SchedulePeriod(0, math.inf),)), "finite"),
    (dict(periods=(SchedulePeriod(0, 1), SchedulePeriod(0, 2))), "increase"),
    (dict(stack_level=9), "stackLevel"),
    (dict(rate_unit="W"), "not allowed"),
    (dict(purpose=TX, connector_id=0), "connector > 0"),
    (dict(purpose=STATION_MAX, connector_id=1), "connector 0"),
    (dict(start_schedule_s=None), "startSchedule"),
    (dict(kind=RECURRING, recurrency=None), "recurrencyKind"),
])
def test_profiles_that_must_be_rejected(bad, why):
    good = dict(profile_id=1, stack_level=0, purpose=TX_DEFAULT, kind=ABSOLUTE, rate_unit="A",
                periods=(SchedulePeriod(0, 16),), connector_id=1, start_schedule_s=T0)
    assert problem_with(ChargingProfile(**good), ProfileLimits(max_stack_level=8)) is None
    problem = problem_with(ChargingProfile(**{**good, **bad}),
                           ProfileLimits(max_stack_level=8, allowed_units=("A",)))
    assert problem is not None and why in problem


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

PERIODS = st.lists(st.tuples(st.integers(1, 5000), st.floats(0, 80).map(lambda x: round(x, 1))),
                   max_size=5).map(lambda ps: [(0, 16.0)] + sorted(dict(ps).items()))
PROFILES = st.lists(st.builds(
    lambda purpose, stack, periods, duration, offset: profile(
        purpose, stack, periods, duration=duration, start=T0 + offset,
        connector=0 if purpose == STATION_MAX else 1),
    st.sampled_from((STATION_MAX, TX_DEFAULT, TX)), st.integers(0, 3), PERIODS,
    st.one_of(st.none(), st.integers(0, 7200)), st.integers(-3600, 3600)), max_size=5)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(PROFILES, st.integers(0, 86400))
def test_the_composite_never_exceeds_what_applies_at_any_instant(profiles, duration):
    """[16] §3.13.3: "less than or equal to lowest value"; 1..* periods from 0."""
    got = composite_schedule(profiles, T0, duration, "A", HW, tx_start_s=T0)
    assert got and got[0].start_period_s == 0
    for i, period in enumerate(got):
        end = got[i + 1].start_period_s if i + 1 < len(got) else duration
        for at in {period.start_period_s, (period.start_period_s + end) / 2}:
            if at >= max(duration, 1):
                continue
            assert period.limit <= HW.max_current_a
            assert period.limit <= offer_ceiling(profiles, T0 + at) + 1e-9


def offer_ceiling(profiles, at_s):
    from firmware.core.smart_charging import limits_at
    hits = limits_at(profiles, at_s, tx_start_s=T0, request_s=T0)
    return min([p.limit for _, p in hits] + [HW.max_current_a])
