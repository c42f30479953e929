"""AgentClock.sync: CSMS time applied at receipt, half the round trip corrected, small
backward corrections slewed, large ones stepped (issue 8 item 14), on injected clocks."""

import logging

import pytest

from firmware.agent_clock import SLEW_RATE, SLEW_THRESHOLD_S, AgentClock

T0 = 1_767_225_600.0


class Clocks:
    """A system wall clock and a monotonic clock that advance together."""

    def __init__(self) -> None:
        self.wall = T0
        self.mono = 50.0

    def advance(self, s: float) -> None:
        self.wall += s
        self.mono += s


@pytest.fixture
def clocks():
    return Clocks()


@pytest.fixture
def clock(clocks):
    return AgentClock(lambda: clocks.wall, lambda: clocks.mono)


def test_a_reply_consistent_with_our_clock_changes_nothing(clocks, clock):
    # Same host clock as the CSMS (the item 14 set-up): the CSMS stamped its reply 40 ms
    # into a 100 ms round trip; the old code set the clock 60 ms back here.
    sent = clocks.mono
    clocks.advance(0.040)
    csms_time = clocks.wall
    clocks.advance(0.060)
    assert clock.sync(csms_time, sent, clocks.mono, resolution_s=0.001) == 0.0
    assert clock.now() == clocks.wall


def test_half_the_round_trip_is_added_to_a_clock_that_is_behind(clocks, clock):
    sent = clocks.mono
    clocks.advance(0.200)  # a 200 ms round trip; the CSMS is 30 s ahead of us
    step = clock.sync(clocks.wall + 30.0, sent, clocks.mono, resolution_s=0.001)
    assert step == pytest.approx(30.1005)
    assert clock.now() == pytest.approx(clocks.wall + 30.1005)


def test_the_time_between_receipt_and_sync_is_accounted_for(clocks, clock):
    sent = clocks.mono
    clocks.advance(0.1)
    received, csms_time = clocks.mono, clocks.wall + 10.0
    clocks.advance(0.5)  # applied half a second after the frame arrived
    clock.sync(csms_time, sent, received, resolution_s=0.0)
    assert clock.now() == pytest.approx(clocks.wall + 10.0 + 0.5 + 0.05)


def test_whole_second_times_leave_a_clock_inside_the_second_alone(clocks, clock):
    sent = clocks.mono
    clocks.advance(0.01)
    csms_time = float(int(clocks.wall) - 0)  # the CSMS truncated to whole seconds
    clocks.advance(0.01)
    assert clock.sync(csms_time, sent, clocks.mono, resolution_s=1.0) == 0.0


@pytest.mark.parametrize("behind_s", [0.5, SLEW_THRESHOLD_S])
def test_a_small_backward_correction_is_slewed_and_never_steps_back(clocks, clock, behind_s):
    sent = clocks.mono
    clocks.advance(0.001)
    assert clock.sync(clocks.wall - behind_s, sent, clocks.mono, resolution_s=0.0) == 0.0
    assert clock.steps == 0
    previous = clock.now()
    for _ in range(int(behind_s / SLEW_RATE / 0.25) + 8):
        clocks.advance(0.25)
        now = clock.now()
        assert now > previous  # never backwards
        assert now - previous >= 0.25 * (1 - SLEW_RATE) - 1e-6  # epoch-sized floats
        previous = now
    assert not clock.slewing
    assert clock.now() == pytest.approx(clocks.wall - behind_s + 0.0005, abs=1e-6)


def test_a_large_backward_correction_steps_and_is_logged(clocks, clock, caplog):
    stepped = []
    clock.on_step(stepped.append)
    sent = clocks.mono
    with caplog.at_level(logging.WARNING, logger="firmware.agent_clock"):
        step = clock.sync(clocks.wall - 3600.0, sent, clocks.mono, resolution_s=0.0)
    assert step == pytest.approx(-3600.0) and stepped == [step] and clock.steps == 1
    assert "stepped -3600.000 s" in caplog.text
    assert clock.now() == pytest.approx(clocks.wall - 3600.0)


def test_a_sync_during_a_slew_starts_from_where_the_slew_got_to(clocks, clock):
    clock.sync(clocks.wall - 0.8, clocks.mono, clocks.mono)
    clocks.advance(4.0)  # 0.2 s absorbed
    assert clock.offset_s == pytest.approx(-0.2)
    before = clock.now()
    clock.sync(clocks.wall - 0.5, clocks.mono, clocks.mono)  # now only 0.5 s ahead
    assert clock.now() == pytest.approx(before)
    clocks.advance(100.0)
    assert clock.offset_s == pytest.approx(-0.5)


def test_small_forward_corrections_are_not_steps_for_the_timers(clocks, clock):
    stepped = []
    clock.on_step(stepped.append)
    assert clock.sync(clocks.wall + 0.3, clocks.mono, clocks.mono) == pytest.approx(0.3)
    assert stepped == [] and clock.steps == 0
