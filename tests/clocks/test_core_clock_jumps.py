"""Clock jumps in the core (issue 8 item 2): ±1 h and ±1 day.

The runtime runs every timer on the monotonic clock (``loop.call_later``), so a timer
whose delay is a duration (heartbeat, meter sampling, ConnectionTimeOut, the outbox's
retries) is unaffected by a CSMS clock sync. What the core must get right is the
timers it derives from the *wall* clock: clock-aligned data (ClockAlignedDataInterval
counts from midnight, [16] §9.1.7) and smart-charging period boundaries (absolute
schedules). After a step (``ClockStepped``) both are re-armed from the new time, and
durations stay durations.
"""

from __future__ import annotations

import pytest

from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.core.boot import HEARTBEAT_TIMER
from firmware.core.sampling import ALIGNED_TIMER
from firmware.core.smart_charging import ABSOLUTE, TX_DEFAULT, ChargingProfile, SchedulePeriod
from firmware.core.smart_charging_flow import SMART_CHARGING_TIMER
from firmware.core.timers import ConnectionTimeout, PeriodicSample

from ..core.harness import T0, Harness

JUMPS_S = [3600.0, -3600.0, 86400.0, -86400.0]


def timers(effects, key):
    return [e.delay_s for e in effects if isinstance(e, fx.StartTimer) and e.key == key]


@pytest.mark.parametrize("jump_s", JUMPS_S)
def test_clock_aligned_data_realigns_to_the_new_clock_after_a_step_9_1_7(jump_s):
    h = Harness(config={"ClockAlignedDataInterval": "900"})
    h.boot()
    h.advance(100)  # 00:01:40: next slot at 00:15:00
    h.now += jump_s + 7.0  # the CSMS's clock says otherwise, and not on a slot boundary
    out = h.handle(ev.ClockStepped(jump_s + 7.0))
    # Aligned to the quarter hour of the new clock: 00:01:47 -> 00:15:00 is 793 s away.
    assert timers(out, ALIGNED_TIMER) == [pytest.approx(900 - 107.0)]


def test_a_step_with_clock_aligned_data_off_arms_nothing():
    h = Harness(config={"ClockAlignedDataInterval": "0"})
    h.boot()
    h.now += 3600
    assert timers(h.handle(ev.ClockStepped(3600.0)), ALIGNED_TIMER) == []


@pytest.mark.parametrize("jump_s", JUMPS_S)
def test_an_absolute_schedule_boundary_is_re_armed_from_the_new_clock(jump_s):
    h = Harness()
    h.boot()
    h.start_session()
    profile = ChargingProfile(1, 0, TX_DEFAULT, ABSOLUTE, "A",
                              (SchedulePeriod(0, 16.0), SchedulePeriod(7200, 10.0)),
                              connector_id=1, start_schedule_s=T0)
    h.handle(ev.ChargingProfileInstallRequested(h.ref(), profile=profile))
    h.now += jump_s
    out = h.handle(ev.ClockStepped(jump_s))
    upcoming_s = [b for b in (T0, T0 + 7200) if b > h.now]  # the schedule's start, 2 h on
    if upcoming_s:
        # Never further than a day ahead: beyond that the timer looks again in a day.
        wait_s = min(upcoming_s[0] - h.now, 86400.0)
        assert timers(out, SMART_CHARGING_TIMER) == [pytest.approx(wait_s)]
    else:
        # Past the last boundary: the limit is the new one, looked at again in a day.
        assert timers(out, SMART_CHARGING_TIMER) == [86400.0]
        assert h.station.connectors[1].offer_a == 10.0


@pytest.mark.parametrize("jump_s", JUMPS_S)
def test_duration_timers_are_not_touched_by_a_step(jump_s):
    """Heartbeat, sampling and ConnectionTimeOut are durations on the monotonic clock:
    a step neither restarts nor cancels them."""
    h = Harness(config={"MeterValueSampleInterval": "60", "ConnectionTimeOut": "30"})
    h.boot()
    h.tap("A")  # authorized, waiting for the cable: ConnectionTimeOut runs
    h.now += jump_s
    out = h.handle(ev.ClockStepped(jump_s))
    assert not [e for e in out if isinstance(e, (fx.StartTimer, fx.CancelTimer))
                and e.key in (HEARTBEAT_TIMER, ConnectionTimeout(1), PeriodicSample(1))]


def test_a_schedule_starting_beyond_a_day_is_not_forgotten():
    """Regression: with no boundary inside the one-day look-ahead the timer was
    cancelled, so a schedule starting in a week never applied."""
    h = Harness()
    h.boot()
    h.start_session()
    week_s = 7 * 86400.0
    profile = ChargingProfile(1, 0, TX_DEFAULT, ABSOLUTE, "A", (SchedulePeriod(0, 10.0),),
                              connector_id=1, start_schedule_s=T0 + week_s)
    out = h.handle(ev.ChargingProfileInstallRequested(h.ref(), profile=profile))
    assert timers(out, SMART_CHARGING_TIMER) == [86400.0]
    for _ in range(7):
        h.advance(86400.0)
        out = h.handle(ev.TimerFired(SMART_CHARGING_TIMER))
    assert h.station.connectors[1].offer_a == 10.0
