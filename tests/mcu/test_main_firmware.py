"""firmware/mcu/main.py's Firmware on a simulated Pico (tests/mcu/micropython/sim.py): the
pilot circuit with an EV and its diode, the divider into the ADC, a contactor whose mirror
follows the coil, an RCD input, a host on the UART and the RP2040 watchdog reset.

Limits under test (hardware.md §3.3, IEC 61851-1:2017 seq. 8.1 and Table A.5): coil off
within 100 ms of C->B or of a fault, state F for >= 300 ms after a fault, coil off when the
host falls silent for the keep-alive timeout (2 s), no close without the host's ALLOW.
"""

from __future__ import annotations

import random

import pytest

from drivers.pilot import mcu_codec as mc
from firmware.mcu import main as fw
from firmware.mcu import protocol as p
from tests.mcu.micropython import sim

LIMIT_US = 100_000


def charging(seed: int = 1, **kw: int) -> sim.Sim:
    s = sim.Sim(seed=seed, **kw)
    s.run_ms(300)
    s.start_charging()
    return s


def test_boot_drives_the_coil_low_before_anything_else():
    s = sim.Sim()
    first = s.world.pins_made[0]
    assert first == (fw.Board.COIL_PIN, s.machine.Pin.OUT, 0)
    assert s.world.coil_log == []  # never energised, not even for a moment
    assert s.world.pwm_duty == 65535  # pilot at +12 V: no energy offered
    assert s.world.wdt_timeout_ms == fw.Board.WDT_TIMEOUT_MS
    s.run_ms(500)
    assert s.world.coil == 0 and s.world.coil_log == []


def test_maintenance_jumper_keeps_the_firmware_and_its_watchdog_from_starting():
    world = sim.World(fw.Board)
    world.maintenance_jumper = True
    machine = sim.make_machine(world)
    assert fw.boot(machine, sim.SimTime(world)) is None
    assert world.pins_made[0] == (fw.Board.COIL_PIN, machine.Pin.OUT, 0)
    assert world.coil_log == [] and world.pwm_duty == 0  # pilot held at state F
    assert world.wdt_timeout_ms is None


def test_host_allowing_energy_with_an_ev_in_c_closes_the_coil_host_codec_frames():
    """Frames built by the host driver's own codec (drivers/pilot/mcu_codec.py)."""
    s = sim.Sim()
    s.run_ms(300)
    s.world.ev = "B"
    s.run_ms(200)
    s.world.host_rx.extend(mc.encode(40, mc.CMD_OFFER_CURRENT, mc.encode_u16(160)))
    s.world.host_rx.extend(mc.encode(41, mc.CMD_ALLOW_ENERGY))
    s.run_ms(50)
    assert s.host.acks[40] == mc.ACK_OK and s.host.acks[41] == mc.ACK_OK
    assert s.world.pwm_duty == fw.duty_u16(2666)  # 16 A = 26.66 % (hardware.md §3.2)
    assert s.world.coil == 0  # B: the EV has not asked
    s.world.ev = "C"
    took_ms = s.run_until(lambda: s.world.coil == 1, 200)
    assert took_ms <= 60  # debounce 20 ms plus a few turns
    s.run_ms(50)
    s.world.host_rx.extend(mc.encode(42, mc.CMD_READ_STATE))
    s.run_ms(10)
    [state] = [mc.decode_state(f.payload) for f in s.host.frames[-3:] if f.kind == mc.MSG_STATE]
    assert state.pilot == "C" and state.contactor and state.mirror and state.offered_da == 160


def test_no_close_without_allow():
    s = sim.Sim()
    s.run_ms(300)
    s.world.ev = "B"
    s.host.send(p.CMD_OFFER_CURRENT, p.encode_u16(160))
    s.run_ms(200)
    s.world.ev = "C"
    s.run_ms(3000)
    assert s.world.coil_log == []


def test_shorted_diode_never_closes_and_reports_the_diode_fault():
    s = sim.Sim()
    s.run_ms(300)
    s.world.diode_ok = False
    s.world.ev = "B"
    s.host.send(p.CMD_OFFER_CURRENT, p.encode_u16(160))
    s.host.send(p.CMD_ALLOW_ENERGY)
    s.run_ms(200)
    s.world.ev = "C"
    s.run_ms(1000)
    assert s.world.coil_log == []
    faults = [p.decode_u16(f.payload) for f in s.host.frames if f.kind == p.MSG_FAULT]
    assert any(bits & p.FAULT_DIODE for bits in faults)


@pytest.mark.parametrize("seed", range(8))
def test_c_to_b_opens_within_100_ms_seq_8_1(seed):
    s = charging(seed=seed, noise_mv=15)
    s.run_ms(random.Random(seed).randrange(1, 400))
    s.world.advance(random.Random(seed + 100).randrange(0, 5000))  # any phase of a turn
    cause = s.world.us
    s.world.ev = "B"
    s.run_ms(150)
    took = s.coil_off_after(cause)
    assert 0 <= took <= LIMIT_US
    assert s.world.coil == 0


def test_rcd_trip_opens_within_100_ms_then_state_f_for_300_ms_table_a5():
    s = charging()
    cause = s.world.us
    s.world.rcd_tripped = True
    s.run_ms(20)
    assert 0 <= s.coil_off_after(cause) <= LIMIT_US
    assert s.world.pwm_duty == 0  # state F
    s.world.rcd_tripped = False
    released = s.world.us
    s.run_until(lambda: s.world.pwm_duty != 0, 1000)
    assert s.world.us - cause >= 300_000 and s.world.us >= released
    s.run_ms(500)
    assert s.world.coil == 0  # a fault revokes the permission: no close without a new ALLOW


def test_mirror_stuck_open_opens_within_100_ms_of_the_settle_time():
    s = sim.Sim()
    s.run_ms(300)
    s.world.stuck_open = True
    s.world.ev = "B"
    s.host.send(p.CMD_OFFER_CURRENT, p.encode_u16(160))
    s.host.send(p.CMD_ALLOW_ENERGY)
    s.run_ms(200)
    s.world.ev = "C"
    s.run_until(lambda: s.world.coil == 1, 200)
    closed = s.world.coil_log[-1][0]
    s.run_ms(300)
    settle_us = s.fw.controller.mirror_settle_ms * 1000
    assert 0 <= s.coil_off_after(closed) - settle_us <= LIMIT_US
    assert s.fw.controller.faults & p.FAULT_MIRROR


def test_welded_contactor_keeps_the_pilot_in_state_f():
    s = charging()
    s.world.welded = True
    s.world.ev = "B"
    s.run_ms(400)
    assert s.world.coil == 0
    assert s.fw.controller.faults & p.FAULT_MIRROR and s.world.pwm_duty == 0


def test_host_silence_opens_within_the_keepalive_timeout():
    s = charging()
    s.host.alive = False
    silent = s.world.us
    s.run_ms(2500)
    took = s.coil_off_after(silent)
    timeout_us = s.fw.controller.keepalive_timeout_ms * 1000
    # the host's last READ_STATE may be up to 500 ms before it fell silent
    assert timeout_us - 500_000 <= took <= timeout_us + 2 * fw.Board.LOOP_PERIOD_MS * 1000
    assert s.world.pwm_duty == 65535  # B1: offer dropped


def test_a_stalled_turn_stops_feeding_the_watchdog_and_the_reset_drops_the_coil():
    s = charging()
    feeds = s.world.wdt_feeds
    s.world.adc_stalled = True
    with pytest.raises(OSError):
        s.fw.step()
    assert s.world.wdt_feeds == feeds  # the turn that raised did not feed
    stalled = s.world.us
    assert s.world.coil == 1
    s.world.advance(150_000)  # nothing runs: the loop is stuck
    assert s.world.reset_at_us >= 0
    assert s.world.reset_at_us - stalled <= fw.Board.WDT_TIMEOUT_MS * 1000
    assert s.world.coil == 0


def test_a_turn_that_raises_inside_run_leaves_the_coil_off_and_the_pilot_in_f():
    s = charging()
    s.world.adc_stalled = True
    with pytest.raises(OSError):
        s.fw.run()
    assert s.world.coil == 0 and s.world.pwm_duty == 0


def test_the_watchdog_is_fed_once_per_turn():
    s = sim.Sim()
    before_feeds, before_turns = s.world.wdt_feeds, s.fw.turns
    s.run_ms(100)
    assert s.world.wdt_feeds - before_feeds == s.fw.turns - before_turns > 0
    assert s.world.reset_at_us < 0


def test_ticks_wrapping_does_not_break_the_timers():
    wrap_us = sim.TICKS_PERIOD * 1000 - 400_000  # ticks_ms wraps 0.4 s after boot
    s = charging(start_us=wrap_us)
    assert s.time.ticks_ms() < 1000  # wrapped
    cause = s.world.us
    s.world.ev = "B"
    s.run_ms(150)
    assert 0 <= s.coil_off_after(cause) <= LIMIT_US


def test_uart_noise_changes_nothing():
    s = charging()
    s.world.host_rx.extend(bytes(random.Random(3).randrange(256) for _ in range(3000)))
    s.world.host_rx.extend(b"\xa5\x02\x02\x02\xe4\xdd")  # ALLOW with a bad CRC
    s.run_ms(200)
    assert s.world.coil == 1 and s.fw.controller.faults == 0


def test_divider_conversions_round_trip():
    w = sim.World(fw.Board)
    for cp_mv in (12000, 8976, 5989, 2930, 0, -12000):
        node = fw.Board.ADC_VREF_MV // 2 + cp_mv * fw.Board.PILOT_R_BIAS_OHM // (
            2 * fw.Board.PILOT_R_SERIES_OHM + fw.Board.PILOT_R_BIAS_OHM)
        assert abs(fw.pilot_mv(w.adc_u16(node)) - cp_mv) <= 30
    assert fw.pp_ohm(65535) == 1000000  # open: no cable
    w.ev = "C"
    for ohm in (1500, 680, 220, 100):
        w.cable_ohm = ohm
        assert abs(fw.pp_ohm(w.adc_u16(w.pp_node_mv())) - ohm) <= ohm // 20 + 2


def test_duty_u16_ends_are_steady_levels():
    assert fw.duty_u16(0) == 0 and fw.duty_u16(10000) == 65535
    assert fw.duty_u16(2666) == 2666 * 65535 // 10000


def test_pilot_burst_sees_both_phases_at_the_lowest_duty():
    """6 A = 10 % duty: the 100 µs high phase is still in every burst."""
    s = sim.Sim()
    s.world.ev = "C"
    s.world.pwm_duty = fw.duty_u16(1000)
    s.fw.duty_permyriad = 1000
    for _ in range(50):
        high, low = s.fw.sample_pilot()
        assert 4500 < high < 7500 and low is not None and low < -10000
        s.world.advance(random.Random(high).randrange(0, 997))
