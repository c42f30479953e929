"""The borne_mcu host driver against the real MCU firmware logic (firmware/mcu, in CPython)
on the far end of a real pseudo-terminal (tests/drivers/mcu_peer.py)."""

from __future__ import annotations

import asyncio
import contextlib
import random

import pytest

from drivers.errors import CommandRejected
from drivers.pilot import mcu_codec as mc
from drivers.pilot.mcu_pilot import CONTACTOR_SPEC, PILOT_SPEC
from drivers.registry import BuildContext
from firmware.mcu import protocol as fw
from hal.errors import ContactorDidNotClose, ContactorWelded, DeviceOpenError, DeviceUnavailable
from hal.interfaces import ControlPilot, Contactor, ControllerFaults, PilotState
from hal.options import validate_table
from tests.drivers.mcu_peer import SimulatedMcu

FAST = {"retry_s": 0.1, "keepalive_interval_s": 0.2, "silence_timeout_s": 1.5}
WAIT_S = 20.0      # generous: the suite runs on a loaded 2-core machine


def build(spec, path, shared, **kw):
    options = {"port": path, **FAST}
    options.update(kw)
    values, problems = validate_table(options, spec.options, f"connector[1].{spec.role}")
    assert not problems, problems
    return spec.build(BuildContext(name=f"connector 1 {spec.role}", connector_id=1,
                                   shared=shared), values)


@contextlib.asynccontextmanager
async def mcu(peer, **kw):
    sim = SimulatedMcu(peer, **kw)
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(sim.run())
        try:
            yield sim
        finally:
            task.cancel()


@contextlib.asynccontextmanager
async def devices(peer, **kw):
    shared: dict = {}
    contactor_kw = {k: kw.pop(k) for k in ("feedback_timeout_s",) if k in kw}
    pilot = build(PILOT_SPEC, peer.path, shared, **kw)
    contactor = build(CONTACTOR_SPEC, peer.path, shared, **kw, **contactor_kw)
    await pilot.open()
    await contactor.open()
    try:
        yield pilot, contactor
    finally:
        await contactor.close()
        await pilot.close()


async def next_of(stream, timeout_s=WAIT_S):
    async with asyncio.timeout(timeout_s):
        return await anext(stream)


async def until(predicate, timeout_s=WAIT_S):
    async with asyncio.timeout(timeout_s):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_specs_build_hal_roles_sharing_one_link(peer):
    shared: dict = {}
    pilot = build(PILOT_SPEC, peer.path, shared)
    contactor = build(CONTACTOR_SPEC, peer.path, shared)
    assert pilot.link is contactor.link
    assert isinstance(pilot, ControlPilot) and isinstance(pilot, ControllerFaults)
    assert isinstance(contactor, Contactor)
    for device in (pilot, contactor):            # hw works before open, and says so
        info = device.info()
        assert info.backend == "borne_mcu" and info.details["mcu"] == "unknown"
    other = build(CONTACTOR_SPEC, peer.path, shared, retry_s=0.5)
    with pytest.raises(DeviceOpenError, match="same link keys"):
        await other.open()


async def test_charging_session_offer_allow_ev_c_closes_then_ev_pauses(peer):
    async with mcu(peer) as sim, devices(peer, feedback_timeout_s=10.0) as (pilot, contactor):
        link = pilot.link
        assert link.version is not None and link.version.major == mc.PROTOCOL_MAJOR
        assert pilot.info().details["mcu"] == "protocol 1.0, firmware 0.1.0"
        assert sim.ctl.offer_da == 0 and not sim.ctl.energy_allowed   # nothing before the agent
        states = pilot.states()
        faults = pilot.faults()
        assert await next_of(states) is PilotState.A
        assert await next_of(faults) is None
        sim.ev = "B"
        assert await next_of(states) is PilotState.B
        await pilot.offer(16.0)
        assert sim.ctl.offer_da == 160 and sim.ctl.duty_permyriad == 2666   # 16 A / 0.6
        closing = asyncio.create_task(contactor.close_contactor())
        await until(lambda: sim.ctl.energy_allowed)
        assert not sim.ctl.contactor          # permission alone does not close: EV is in B
        sim.ev = "C"
        assert await next_of(states) is PilotState.C
        await asyncio.wait_for(closing, WAIT_S)
        assert sim.ctl.contactor and contactor.is_closed
        await contactor.check()
        sim.ev = "B"                          # the EV pauses: the MCU opens by itself
        assert await next_of(states) is PilotState.B
        assert not sim.ctl.contactor
        await contactor.open_contactor()
        assert not contactor.is_closed and not sim.ctl.energy_allowed
        await pilot.offer(0)
        assert sim.ctl.offer_da == 0 and sim.ctl.duty_permyriad == 10000


async def test_offer_is_rounded_down_capped_and_refused_below_6_a(peer):
    async with mcu(peer) as sim, devices(peer) as (pilot, _):
        await pilot.offer(16.79)
        assert sim.ctl.offer_da == 167
        await pilot.offer(120.0)               # above what a PWM can signal: less is safe
        assert sim.ctl.offer_da == 800
        for bad in (3.0, float("nan"), float("inf")):
            with pytest.raises(CommandRejected):
                await pilot.offer(bad)
        assert sim.ctl.offer_da == 800         # a rejected change changes nothing


async def test_host_falls_silent_mcu_opens_within_its_keepalive_timeout(peer):
    async with mcu(peer) as sim, devices(peer, feedback_timeout_s=10.0) as (pilot, contactor):
        sim.ev = "B"
        await pilot.offer(16.0)
        sim.ev = "C"
        await asyncio.wait_for(contactor.close_contactor(), WAIT_S)
        sim.deaf = True                        # from the MCU's side the host fell silent
        await until(lambda: not sim.ctl.contactor)
        silent_ms = sim.opened_at_ms[-1] - sim.last_host_rx_ms
        assert silent_ms <= sim.ctl.keepalive_timeout_ms + 2 * sim.sample_period_ms + 20
        assert sim.ctl.offer_da == 0 and sim.ctl.faults & fw.FAULT_HOST_SILENT
        sim.deaf = False                       # the host is heard again: no close by itself
        await until(lambda: not sim.ctl.faults & fw.FAULT_HOST_SILENT)
        await asyncio.sleep(0.3)
        assert not sim.ctl.contactor


async def test_host_keepalive_keeps_the_offer_through_idle_time(peer):
    async with mcu(peer) as sim, devices(peer) as (pilot, _):
        await pilot.offer(10.0)
        await asyncio.sleep(2.5)               # longer than the MCU's 2 s keep-alive timeout
        assert sim.ctl.offer_da == 100 and not sim.ctl.faults & fw.FAULT_HOST_SILENT


async def test_mcu_falls_silent_is_a_device_fault_not_a_hang(peer):
    async with mcu(peer) as sim, devices(peer, silence_timeout_s=0.6) as (pilot, contactor):
        states = pilot.states()
        assert await next_of(states) is PilotState.A
        sim.mute = True
        with pytest.raises(DeviceUnavailable, match="silent|no ACK"):
            await next_of(states)
        with pytest.raises(DeviceUnavailable):
            await contactor.check()
        with pytest.raises(DeviceUnavailable):
            await asyncio.wait_for(pilot.offer(10.0), WAIT_S)
        sim.mute = False                       # it speaks again: the link recovers
        await until(lambda: pilot.link.failure is None)
        assert await next_of(pilot.states()) is PilotState.A


async def test_silent_mcu_at_open_is_a_clear_open_error(peer):
    shared: dict = {}
    pilot = build(PILOT_SPEC, peer.path, shared, max_retries=1)
    with pytest.raises(DeviceOpenError, match="does not answer.*TX/RX"):
        await asyncio.wait_for(pilot.open(), WAIT_S)
    await pilot.close()


async def test_mcu_with_another_protocol_major_is_refused(peer, monkeypatch):
    monkeypatch.setattr(fw, "PROTOCOL_MAJOR", 2)
    async with mcu(peer):
        pilot = build(PILOT_SPEC, peer.path, {})
        with pytest.raises(DeviceOpenError, match="speaks protocol 2.0.*mpremote"):
            await asyncio.wait_for(pilot.open(), WAIT_S)


async def test_a_failed_pilot_self_test_refuses_to_start(peer):
    async with mcu(peer) as sim:
        sim.output_stage_broken = True
        pilot = build(PILOT_SPEC, peer.path, {})
        with pytest.raises(DeviceOpenError, match="self-test failed.*McuSelfTest.*-12 V"):
            await asyncio.wait_for(pilot.open(), WAIT_S)
        sim.output_stage_broken = False
        relaxed = build(PILOT_SPEC, peer.path, {}, self_test_at_open=False)
        await asyncio.wait_for(relaxed.open(), WAIT_S)      # the check can be switched off
        await relaxed.close()


async def test_corrupted_host_frames_are_retransmitted(peer):
    async with mcu(peer) as sim, devices(peer) as (pilot, _):
        sim.corrupt_rx = 2                     # the next two chunks from the host fail CRC
        await pilot.offer(20.0)
        assert sim.ctl.offer_da == 200
        assert sim.app.decoder.errors >= 1


async def test_noise_and_malformed_frames_from_the_mcu_never_crash_the_link(peer):
    async with mcu(peer) as sim, devices(peer) as (pilot, contactor):
        link = pilot.link
        sim.inject(b"\x00\xff\xa5\xff" + bytes(range(256)))           # noise, bad LEN
        sim.inject(fw.encode(200, fw.MSG_STATE, b"\x43\x07"))        # valid CRC, short state
        sim.inject(fw.encode(201, fw.MSG_PILOT_CHANGED, b"Z"))       # not a pilot letter
        sim.inject(fw.encode(202, 0x99, b"?"))                       # unknown type
        sim.inject(fw.encode(203, fw.MSG_ACK, b""))                  # malformed ACK
        await pilot.offer(12.0)
        assert sim.ctl.offer_da == 120
        await until(lambda: link.bad_frames >= 2)   # the forged pilot event is stale
        assert link.decode_errors >= 1 and link.failure is None
        await until(lambda: link.state is not None and link.state.pilot == "A")
        await contactor.check()


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_noisy_line_never_crashes_and_the_views_converge(peer, seed):
    """Seeded noise on 3 % of the bytes both ways: every command either takes effect or
    raises DeviceUnavailable (never another error, never a hang); once the line is clean
    the host's view equals the MCU's."""
    rng = random.Random(seed)
    async with mcu(peer) as sim, devices(peer, max_retries=5) as (pilot, contactor):
        sim.ev = "B"
        sim.line_noise(0.03, seed)
        for _ in range(15):
            amps = rng.choice([0, 6, 10, 16, 32])
            try:
                await asyncio.wait_for(pilot.offer(amps), WAIT_S)
            except DeviceUnavailable:
                continue
            assert sim.ctl.offer_da == amps * 10
        sim.line_noise(0.0)
        await pilot.offer(13.0)
        await until(lambda: pilot.link.failure is None and pilot.link.state is not None
                    and pilot.link.state.offered_da == 130 and pilot.link.state.pilot == "B")
        assert pilot.link.decode_errors > 0            # the noise did reach the decoder
        await contactor.check()


async def test_rcd_trip_is_a_ground_failure_and_opens_within_100_ms(peer):
    async with mcu(peer) as sim, devices(peer, feedback_timeout_s=10.0) as (pilot, contactor):
        faults = pilot.faults()
        states = pilot.states()
        assert await next_of(faults) is None
        assert await next_of(states) is PilotState.A
        sim.ev = "B"
        await pilot.offer(16.0)
        sim.ev = "C"
        await asyncio.wait_for(contactor.close_contactor(), WAIT_S)
        trip_ms = sim.now_ms()
        sim.rcd = True
        fault = await next_of(faults)
        assert fault is not None and fault.error_code == "GroundFailure"
        assert fault.vendor_error_code == "McuRcd"
        assert sim.opened_at_ms[-1] - trip_ms <= 100
        # the MCU holds -12 V (F) but the EV is still there: no fault shown as an unplug
        await asyncio.sleep(0.2)
        assert sim.ctl.pilot == "F"
        assert pilot._ev_side(PilotState.C) is PilotState.C
        sim.rcd = False
        assert await next_of(faults) is None
        # the fault revoked the permission: nothing re-closes without a new request
        assert sim.ctl.pilot == "C" and not sim.ctl.energy_allowed and not sim.ctl.contactor


async def test_diode_fault_is_an_ev_communication_error(peer):
    async with mcu(peer) as sim, devices(peer) as (pilot, _):
        faults = pilot.faults()
        assert await next_of(faults) is None
        sim.ev = "B"
        sim.diode_ok = False
        await pilot.offer(16.0)                # PWM starts: the negative half is checked
        fault = await next_of(faults)
        assert fault is not None and fault.error_code == "EVCommunicationError"
        assert fault.vendor_error_code == "McuDiode"


async def test_welded_contactor_is_reported_by_check(peer):
    async with mcu(peer) as sim, devices(peer, feedback_timeout_s=1.0) as (pilot, contactor):
        sim.welded = True
        with pytest.raises(ContactorWelded):
            await asyncio.wait_for(_check_until_fault(contactor), WAIT_S)
        fault = await next_of(_skip_none(pilot.faults()))
        assert fault.error_code == "PowerSwitchFailure"


async def _check_until_fault(contactor):
    while True:
        await contactor.check()
        await asyncio.sleep(0.05)


async def _skip_none(stream):
    async for item in stream:
        if item is not None:
            yield item


async def test_close_times_out_when_the_ev_never_asks(peer):
    async with mcu(peer) as sim, devices(peer, feedback_timeout_s=0.5) as (pilot, contactor):
        sim.ev = "B"
        await pilot.offer(16.0)
        with pytest.raises(ContactorDidNotClose, match="did not close"):
            await contactor.close_contactor()
        assert not sim.ctl.energy_allowed      # the permission is withdrawn again


async def test_mcu_restart_reapplies_the_offer_and_is_reported_once(peer):
    async with mcu(peer) as sim, devices(peer) as (pilot, _):
        faults = pilot.faults()
        assert await next_of(faults) is None
        await pilot.offer(16.0)
        await until(lambda: pilot.link.state.uptime_s >= 1)   # a restart needs 1 s uptime
        sim.restart()
        assert sim.ctl.offer_da == 0
        fault = await next_of(faults)
        assert fault is not None and fault.vendor_error_code == "McuRestarted"
        await until(lambda: sim.ctl.offer_da == 160)
        assert not sim.ctl.energy_allowed       # the permission is never re-granted by itself
        assert await next_of(faults) is None
        assert pilot.link.restarts == 1


async def test_mcu_reflashed_with_another_protocol_is_refused_while_running(peer, monkeypatch):
    async with mcu(peer) as sim, devices(peer) as (pilot, _):
        states = pilot.states()
        assert await next_of(states) is PilotState.A
        await until(lambda: pilot.link.state.uptime_s >= 1)
        monkeypatch.setattr(fw, "PROTOCOL_MAJOR", 2)
        sim.restart()
        with pytest.raises(DeviceUnavailable, match="speaking protocol 2.0"):
            await next_of(states)
        with pytest.raises(DeviceUnavailable, match="speaks protocol 2.0"):
            await next_of(pilot.states())          # revive() refuses it again
        assert sim.ctl.offer_da == 0



async def test_port_vanishes_is_device_unavailable(peer):
    async with mcu(peer), devices(peer) as (pilot, _):
        states = pilot.states()
        assert await next_of(states) is PilotState.A
        peer.hang_up()
        with pytest.raises(DeviceUnavailable):
            await next_of(states)
