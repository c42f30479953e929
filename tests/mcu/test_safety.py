"""The MCU interlock (firmware/mcu/safety.py) on a fake clock.

Every rule cites /work/shared/reference/hardware.md (§3.1 CP levels, §3.2 duty, §3.3 IEC
61851-1:2017 timing, §3.5 the Yeti split) or the issue (#13).
"""

from __future__ import annotations

import pytest

from firmware.mcu import pilot as cp
from firmware.mcu import protocol as p
from firmware.mcu.safety import SafetyController
from tests.mcu.rig import Rig

# ---- duty cycle (hardware.md §3.2) --------------------------------------------------------


@pytest.mark.parametrize(
    ("offer_da", "duty"),
    [(0, 10000), (60, 1000), (100, 1666), (160, 2666), (320, 5333), (510, 8500),
     (520, 8500), (525, 8500), (630, 8920), (800, 9600)],
)
def test_duty_is_amps_over_0_6_up_to_51a_then_amps_over_2_5_plus_64_hardware_3_2(
    offer_da: int, duty: int
) -> None:
    """6 A -> 10 %, 51 A -> 85 %, 80 A -> 96 %; 51..52.5 A clamped to 51 A (EVerest); rounded
    down so the EV never reads more than offered; 0 = 100 % (no energy offered, B1)."""
    assert cp.duty_for(offer_da) == duty


@pytest.mark.parametrize("offer_da", [1, 59, 801, 65535])
def test_offers_no_pwm_can_signal_are_refused_and_change_nothing_hardware_3_2(
    offer_da: int,
) -> None:
    with pytest.raises(ValueError):
        cp.duty_for(offer_da)
    rig = Rig()
    rig.sm.host_heard(0)
    rig.sm.offer_current(160, 0)
    assert rig.sm.offer_current(offer_da, 1) == p.ACK_REFUSED
    assert rig.sm.offer_da == 160 and rig.sm.duty_permyriad == 2666


def test_offer_is_capped_by_the_station_rating_and_the_pp_cable_hardware_3_4() -> None:
    """Max current signalled = min(supply/config, PP cable rating) (hardware.md §3.4)."""
    sm = SafetyController(max_current_da=320, pp_present=True)
    sm.host_heard(0)
    sm.pp_reading(680, 0)  # 680 ohm -> 20 A cable
    sm.offer_current(630, 1)
    assert sm.effective_offer_da() == 200 and sm.duty_permyriad == cp.duty_for(200)
    sm.pp_reading(5000, 2)  # no cable: nothing may be offered
    assert sm.duty_permyriad == cp.DUTY_FULL


@pytest.mark.parametrize(
    ("ohm", "amps"), [(1500, 13), (680, 20), (220, 32), (100, 63), (74, -1), (3000, 0)]
)
def test_pp_coding_resistor_table_hardware_3_4(ohm: int, amps: int) -> None:
    assert cp.cable_rating_a(ohm) == amps


# ---- classification (hardware.md §3.1) ----------------------------------------------------


@pytest.mark.parametrize(
    ("mv", "state"),
    [(12000, "A"), (9000, "B"), (6000, "C"), (3000, "D"), (0, "E"), (-12000, "F"),
     (10600, "A"), (10400, "B"), (-5000, "E"), (-7000, "F")],
)
def test_cp_high_levels_classify_as_iec_61851_states_hardware_3_1(mv: int, state: str) -> None:
    assert cp.classify(mv) == state


def test_hysteresis_keeps_state_c_near_the_b_c_boundary_hardware_3_1() -> None:
    """Noise around 7.5 V (between B 9 V and C 6 V) must not make C flap."""
    clf = cp.PilotClassifier(debounce_ms=20, initial="C")
    for t in range(0, 200, 5):
        clf.sample(7500 + (300 if t % 10 else -300), t)
    assert clf.state == "C"
    for t in range(200, 240, 5):
        clf.sample(8000, t)  # past the boundary by more than the hysteresis
    assert clf.state == "B"


def test_debounce_ignores_a_glitch_shorter_than_debounce_ms_hardware_3_1() -> None:
    clf = cp.PilotClassifier(debounce_ms=20, initial="C")
    for t in (0, 5, 10):
        clf.sample(0, t)  # 15 ms of E
    clf.sample(6000, 15)
    clf.sample(0, 20)
    assert clf.state == "C"


def test_readings_alternating_between_two_other_states_still_leave_c() -> None:
    """Debounce counts time away from the state, not time in one candidate (found while
    designing: a per-candidate debounce would hold C forever under A/B alternation)."""
    clf = cp.PilotClassifier(debounce_ms=20, initial="C")
    for i, t in enumerate(range(0, 40, 5)):
        clf.sample(12000 if i % 2 else 9000, t)
    assert clf.state in ("A", "B")


# ---- closing: only when asked, C/D and no fault (#13; Yeti: permission, not order) --------


def test_boots_with_contactor_open_and_no_energy_offered_issue_13() -> None:
    sm = SafetyController(now_ms=123456)
    assert not sm.contactor and sm.duty_permyriad == cp.DUTY_FULL and not sm.energy_allowed
    assert sm.faults & p.FAULT_HOST_SILENT


def test_closes_only_when_host_allowed_and_pilot_c_and_no_fault_hardware_3_5() -> None:
    rig = Rig()
    rig.ev("C")
    rig.run(100)
    assert not rig.sm.contactor  # EV asks, host did not allow
    rig.sm.offer_current(160, rig.now_ms)
    rig.run(100)
    assert not rig.sm.contactor  # offer but no permission
    rig.sm.allow_energy(rig.now_ms)
    rig.step()
    assert rig.sm.contactor


def test_allow_without_an_offer_does_not_close_b1_hardware_3_2() -> None:
    """100 % duty = no energy offered (X1/B1): an EV in C must not get energy."""
    rig = Rig()
    rig.ev("C")
    rig.sm.allow_energy(0)
    rig.run(200)
    assert not rig.sm.contactor and rig.sm.duty_permyriad == cp.DUTY_FULL


def test_pilot_b_with_permission_stays_open_hardware_3_1() -> None:
    rig = Rig()
    rig.ev("B")
    rig.sm.offer_current(160, 0)
    rig.sm.allow_energy(0)
    rig.run(500)
    assert not rig.sm.contactor and rig.sm.duty_permyriad == 2666


def test_state_d_closes_like_c_hardware_3_1() -> None:
    rig = Rig()
    rig.charging()
    rig.ev("D")
    rig.run(100)
    assert rig.sm.contactor and rig.sm.pilot == "D"


# ---- opening within 100 ms (hardware.md §3.3, IEC 61851-1 Table A.6 seq. 8.1) -------------


@pytest.mark.parametrize("period_ms", [1, 5, 10])
def test_c_to_b_opens_within_100_ms_iec61851_seq_8_1(period_ms: int) -> None:
    rig = Rig(sample_period_ms=period_ms)
    rig.charging()
    rig.ev("B")
    assert rig.run_until(lambda: not rig.sm.contactor, 100) <= 100
    assert not rig.sm.state_f  # C->B is not a fault
    rig.ev("C")
    rig.run(100)
    assert rig.sm.contactor  # the EV may resume: the permission stands


@pytest.mark.parametrize(
    ("cause", "fault"),
    [("E", p.FAULT_PILOT_E), ("F", p.FAULT_PILOT_F), ("diode", p.FAULT_DIODE),
     ("rcd", p.FAULT_RCD), ("stuck", p.FAULT_MIRROR)],
)
def test_fault_opens_within_100_ms_then_state_f_for_300_ms_table_a5(
    cause: str, fault: int
) -> None:
    """Any -> E/F: off immediately; diode check, RCD and mirror mismatch are faults too; after
    a fault the pilot is held in F >= 300 ms (IEC 61851-1:2017 Table A.5, hardware.md §3.3)."""
    rig = Rig()
    rig.charging()
    if cause in ("E", "F"):
        rig.ev(cause)
    elif cause == "diode":
        rig.diode_ok = False
    elif cause == "rcd":
        rig.sm.rcd_reading(True, rig.now_ms)
    elif cause == "stuck":
        rig.stuck_open = True
    start = rig.now_ms
    rig.run_until(lambda: not rig.sm.contactor, 100)
    rig.run_until(lambda: rig.sm.faults & fault, 100 - (rig.now_ms - start))
    assert rig.sm.state_f
    f_from = rig.now_ms
    assert rig.now_ms - start <= 100
    assert not rig.sm.energy_allowed  # a fault revokes the host's permission
    if cause == "rcd":
        rig.run(1000)
        assert rig.sm.state_f  # F as long as the RCD stays tripped
        rig.sm.rcd_reading(False, rig.now_ms)
    rig.stuck_open = False
    rig.diode_ok = True
    rig.ev("C")
    while rig.sm.state_f:
        assert not rig.sm.contactor and rig.sm.duty_permyriad == cp.DUTY_STATE_F
        rig.step()
    assert rig.now_ms - f_from >= 300
    rig.run(100)
    assert rig.sm.pilot == "C" and not rig.sm.faults and not rig.sm.contactor
    assert rig.sm.allow_energy(rig.now_ms) == p.ACK_OK
    rig.step()
    assert rig.sm.contactor


def test_rcd_opens_in_the_same_call_issue_13() -> None:
    rig = Rig()
    rig.charging()
    rig.sm.rcd_reading(True, rig.now_ms)
    assert not rig.sm.contactor and rig.sm.state_f


def test_welded_contact_holds_state_f_and_blocks_closing_hardware_3_5() -> None:
    """Yeti reports ERROR_RELAIS when the mirror check fails; a weld persists, so does F."""
    rig = Rig()
    rig.charging()
    rig.welded = True
    rig.ev("B")
    rig.run(2000)
    assert not rig.sm.contactor and rig.sm.state_f and rig.sm.faults & p.FAULT_MIRROR
    assert rig.sm.allow_energy(rig.now_ms) == p.ACK_REFUSED


def test_persisting_pilot_e_repeats_f_cycles_and_never_closes_table_a5() -> None:
    rig = Rig()
    rig.charging()
    rig.ev("E")
    rig.run(3000)
    assert not rig.sm.contactor and rig.sm.faults & p.FAULT_PILOT_E


def test_forbid_opens_in_the_same_call_hardware_3_5() -> None:
    """Yeti: AllowPowerOn(false) -> off immediately."""
    rig = Rig()
    rig.charging()
    rig.sm.forbid_energy(rig.now_ms)
    assert not rig.sm.contactor and not rig.sm.state_f


def test_offer_0_while_ev_stays_in_c_forces_off_after_6_s_iec61851_seq_10_2() -> None:
    rig = Rig()
    rig.charging()
    rig.sm.offer_current(0, rig.now_ms)
    assert rig.sm.duty_permyriad == cp.DUTY_FULL
    rig.run(5900)
    assert rig.sm.contactor  # the EV gets 6 s to go to B before breaking under load
    rig.run(200)
    assert not rig.sm.contactor


def test_unplug_a_revokes_the_permission() -> None:
    rig = Rig()
    rig.charging()
    rig.ev("A")
    rig.run(100)
    rig.ev("C")
    rig.run(100)
    assert not rig.sm.contactor and not rig.sm.energy_allowed


# ---- host supervision (#13: keep-alive timeout 2 s) ---------------------------------------


def test_host_silent_over_2_s_opens_and_drops_to_b1_issue_13() -> None:
    rig = Rig()
    rig.charging()
    rig.host_alive = False
    last = rig.now_ms
    rig.run_until(lambda: not rig.sm.contactor, 2100)
    assert rig.now_ms - last > 2000
    assert rig.sm.duty_permyriad == cp.DUTY_FULL and rig.sm.faults & p.FAULT_HOST_SILENT
    rig.host_alive = True
    rig.run(100)
    assert not rig.sm.contactor and not rig.sm.faults  # back, but must allow and offer again


def test_clock_jump_backwards_does_not_extend_the_keepalive_table() -> None:
    sm = SafetyController(now_ms=10_000)
    sm.host_heard(10_000)
    sm.pilot_sample(6000, None, 0)  # clock glitch: 10 s back
    sm.tick(12_001)
    assert sm.faults & p.FAULT_HOST_SILENT


def test_pilot_samples_stopping_is_a_fault() -> None:
    """If the ADC or its loop stalls, the pilot is no longer watched: open (the 100 ms rules
    need fresh samples)."""
    rig = Rig()
    rig.charging()
    rig.sm.tick(rig.now_ms + 60)
    assert not rig.sm.contactor and rig.sm.faults & p.FAULT_PILOT_LOST


# ---- self-test and events -----------------------------------------------------------------


def test_self_test_holds_f_and_passes_when_the_adc_reads_minus_12_v() -> None:
    rig = Rig()
    rig.ev("B")
    rig.run(100)
    assert rig.sm.self_test(rig.now_ms) == p.ACK_OK
    rig.run(100)
    results = [e for e in rig.events if e[0] == p.MSG_SELF_TEST]
    assert results and results[0][1][0] == 1 and not rig.sm.faults


def test_self_test_fails_when_the_output_does_not_reach_minus_12_v() -> None:
    sm = SafetyController()
    sm.host_heard(0)
    sm.self_test(0)
    for t in range(5, 60, 5):
        sm.pilot_sample(9000, None, t)  # the output stage is dead: still +9 V
    assert sm.faults & p.FAULT_SELF_TEST and not sm.contactor
    assert sm.allow_energy(60) == p.ACK_REFUSED


def test_self_test_refused_while_closed() -> None:
    rig = Rig()
    rig.charging()
    assert rig.sm.self_test(rig.now_ms) == p.ACK_REFUSED and rig.sm.contactor


def test_events_report_pilot_contactor_and_fault_changes() -> None:
    rig = Rig()
    rig.charging()
    kinds = [k for k, _ in rig.events]
    assert (p.MSG_PILOT_CHANGED, b"C") in rig.events
    assert (p.MSG_CONTACTOR_CHANGED, b"\x01\x01") in rig.events
    assert p.MSG_FAULT in kinds


def test_no_close_before_a_diode_check_passed_after_state_f_hardware_3_1() -> None:
    """Found by the random test: after F the pilot is re-classified C (20 ms) before a bad
    diode can be debounced (20 ms more), so the contactor closed briefly on a faulty EV.
    Now a passing diode check since the last F/unplug is a condition to close."""
    rig = Rig()
    rig.diode_ok = False
    rig.ev("C")
    rig.sm.offer_current(160, 0)
    for _ in range(400):  # 2 s of F cycles, the host re-allowing whenever it may
        rig.sm.allow_energy(rig.now_ms)
        rig.step()
        assert not rig.sm.contactor
    assert rig.sm.faults & p.FAULT_DIODE or rig.sm.state_f
