"""OpenEVSE pilot, contactor and meter views against a fake controller on a real pty."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from drivers.errors import CommandRejected
from drivers.pilot.openevse import CONTACTOR_SPEC, METER_SPEC, PILOT_SPEC
from drivers.registry import BuildContext
from hal.errors import (ContactorDidNotClose, ContactorWelded, DeviceOpenError,
                        DeviceUnavailable, MeterUnavailable)
from hal.interfaces import ControlPilot, Contactor, EnergyMeter, PilotState
from hal.options import validate_table
from tests.drivers.openevse_peer import FakeOpenEvse

FAST = {"timeout_s": 0.1, "poll_interval_s": 0.05, "max_missed_polls": 2}


def build(spec, path, shared, **kw):
    options = {"port": path, **FAST}
    options.update(kw)
    values, problems = validate_table(options, spec.options, f"connector[1].{spec.role}")
    assert not problems, problems
    return spec.build(BuildContext(name=f"connector 1 {spec.role}", connector_id=1,
                                   shared=shared), values)


@contextlib.asynccontextmanager
async def controller(peer, **kw):
    fake = FakeOpenEvse(peer, **kw)
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(fake.run())
        try:
            yield fake
        finally:
            task.cancel()


async def next_state(states, timeout_s=20.0):
    async with asyncio.timeout(timeout_s):
        return await anext(states)


async def test_one_link_shared_by_pilot_contactor_and_meter(peer):
    shared = {}
    pilot = build(PILOT_SPEC, peer.path, shared)
    contactor = build(CONTACTOR_SPEC, peer.path, shared)
    meter = build(METER_SPEC, peer.path, shared)
    assert pilot.link is contactor.link is meter.link
    assert isinstance(pilot, ControlPilot) and isinstance(contactor, Contactor)
    assert isinstance(meter, EnergyMeter)
    other = build(METER_SPEC, peer.path, shared, baudrate=9600)
    with pytest.raises(DeviceOpenError, match="same serial settings"):
        await other.open()


async def test_charging_session(peer):
    shared = {}
    pilot = build(PILOT_SPEC, peer.path, shared)
    contactor = build(CONTACTOR_SPEC, peer.path, shared, feedback_timeout_s=10.0)
    async with controller(peer) as fake:
        await pilot.open()
        await contactor.open()
        assert fake.sleeping and fake.sent("FS")         # nothing offered before the agent decides
        states = pilot.states()
        assert await next_state(states) is PilotState.A
        fake.set_ev("B")
        assert await next_state(states) is PilotState.B
        await pilot.offer(16.7)
        assert fake.sent("SC")[-1] == ("16", "V") and not fake.sleeping
        fake.set_ev("C")
        assert await next_state(states) is PilotState.C
        await contactor.close_contactor()
        assert contactor.is_closed
        await contactor.check()
        fake.set_ev("B")                                 # EV pauses; the controller opens
        assert await next_state(states) is PilotState.B
        await contactor.open_contactor()
        await pilot.offer(0)
        assert fake.sleeping and not contactor.is_closed
        await states.aclose()
        await contactor.close()
        await pilot.close()
    assert not peer.master < 0


async def test_offer_limits(peer):
    pilot = build(PILOT_SPEC, peer.path, {})
    async with controller(peer, max_current_a=20) as fake:
        await pilot.open()
        await pilot.offer(32)                            # $NK 20 → offered at the cap
        assert fake.sent("SC") == [("32", "V"), ("20", "V")] and pilot.offered_a == 20
        with pytest.raises(CommandRejected, match="minimum is 6 A"):
            await pilot.offer(5.9)
        assert fake.sent("SC")[-1] == ("20", "V")        # nothing sent for the refused offer
        fake.set_fault(0x07)                             # no ground: $FE is refused
        with pytest.raises(CommandRejected, match=r"\$FE"):
            await pilot.offer(16)
        faults = pilot.faults()
        fault = await anext(faults)
        assert (fault.error_code, fault.vendor_error_code) == ("GroundFailure", "OpenEVSE 07")
        await faults.aclose()
        await pilot.close()


async def test_corrupted_and_stale_replies_are_never_taken(peer):
    pilot = build(PILOT_SPEC, peer.path, {}, poll_interval_s=10.0)
    async with controller(peer) as fake:
        await pilot.open()
        fake.corrupt_next = 1                            # bad checksum: ignored, command re-sent
        await pilot.offer(10)
        fake.stale_reply_first = True                    # reply with another seq id first
        await pilot.offer(12)
        peer.write(b"\x00\xffnoise$AT 03 zz\r$OK^21\r")   # garbage and a bad-checksum $OK
        await pilot.offer(0)
        assert pilot.link.bad_lines >= 2
        await pilot.close()
    assert fake.sent("SC")[-1] == ("12", "V")


async def test_host_frame_with_bad_checksum_gets_nk(peer):
    """The peer answers $NK^21 to a corrupted command; the link reports it as rejected."""
    pilot = build(PILOT_SPEC, peer.path, {}, poll_interval_s=10.0)
    async with controller(peer) as fake:
        await pilot.open()
        original = pilot.link._port.write

        async def corrupting_write(data):
            await original(data.replace(b"FE", b"FX", 1) if data.startswith(b"$FE") else data)

        pilot.link._port.write = corrupting_write
        with pytest.raises(CommandRejected, match=r"\$NK"):
            await pilot.offer(16)
        pilot.link._port.write = original
        await pilot.close()
    assert fake.bad_host_lines == 1


async def test_silent_controller_is_unavailable_then_recovers(peer):
    pilot = build(PILOT_SPEC, peer.path, {})
    async with controller(peer) as fake:
        await pilot.open()
        states = pilot.states()
        assert await next_state(states) is PilotState.A
        fake.silent = True
        with pytest.raises(DeviceUnavailable, match="stopped answering"):
            await next_state(states)
        with pytest.raises(DeviceUnavailable, match="no valid reply"):
            await pilot.offer(16)
        fake.silent = False
        await pilot.offer(16)                            # answers again: link healthy
        assert pilot.link.failure is None
        await pilot.close()


async def test_open_fails_on_a_silent_controller(peer):
    pilot = build(PILOT_SPEC, peer.path, {})
    async with controller(peer) as fake:
        fake.silent = True
        with pytest.raises(DeviceOpenError, match="does not answer.*TX/RX"):
            await pilot.open()
        await pilot.close()


async def test_port_vanishing(peer):
    pilot = build(PILOT_SPEC, peer.path, {}, poll_interval_s=10.0)
    async with controller(peer):
        await pilot.open()
        states = pilot.states()
        assert await next_state(states) is PilotState.A
        peer.hang_up()
        with pytest.raises(DeviceUnavailable, match="disappeared"):
            await next_state(states)
        with pytest.raises(DeviceUnavailable):        # the runtime retries: still gone
            await next_state(pilot.states())
        with pytest.raises(DeviceUnavailable):
            await pilot.offer(16)
        await pilot.close()


async def test_relay_never_closes_and_welded_relay(peer):
    shared = {}
    pilot = build(PILOT_SPEC, peer.path, shared)
    contactor = build(CONTACTOR_SPEC, peer.path, shared, feedback_timeout_s=0.3)
    async with controller(peer) as fake:
        await pilot.open()
        await contactor.open()
        fake.set_ev("C")
        fake.relay_can_close = False
        await pilot.offer(16)
        with pytest.raises(ContactorDidNotClose, match="did not close its relay"):
            await contactor.close_contactor()
        assert fake.sleeping                             # offer withdrawn
        fake.relay_can_close = True
        await pilot.offer(16)
        contactor.feedback_timeout_s = 10.0  # a close that must succeed: a generous deadline
        await contactor.close_contactor()
        contactor.feedback_timeout_s = 0.3   # the timeout is the thing under test again
        fake.relay_welded = True
        with pytest.raises(ContactorWelded, match="still reports its relay closed"):
            await contactor.open_contactor()
        fake.set_fault(0x08)                             # the controller's own weld check
        await pilot.link.refresh()
        with pytest.raises(ContactorWelded, match="stuck relay"):
            await contactor.check()
        fake.set_fault(0x0E)
        await pilot.link.refresh()
        with pytest.raises(ContactorDidNotClose, match="closure fault"):
            await contactor.check()
        await contactor.close()
        await pilot.close()


async def test_meter_view(peer):
    meter = build(METER_SPEC, peer.path, {})
    async with controller(peer) as fake:
        await meter.open()
        fake.milliamps, fake.millivolts, fake.total_wh = 16000, 230000, 5000
        reading = await meter.read()
        assert (reading.energy_wh, reading.current_a, reading.voltage_v) == (5000.0, (16.0,), (230.0,))
        assert reading.power_w == pytest.approx(3680.0)
        fake.milliamps = -1                              # no ammeter fitted
        assert (await meter.read()).current_a == (None,)
        fake.total_wh = 4000
        with pytest.raises(MeterUnavailable, match="backwards"):
            await meter.read()
        fake.total_wh = 6000
        fake.silent = True
        with pytest.raises(MeterUnavailable, match="no valid reply"):
            await meter.read()
        assert meter.info().last_error
        await meter.close()


async def test_controller_restart_reapplies_the_offer(peer):
    pilot = build(PILOT_SPEC, peer.path, {})
    async with controller(peer) as fake:
        await pilot.open()
        await pilot.offer(10)
        fake.sleeping = True                             # what a restart may leave behind
        fake.current_a = 32
        n = len(fake.sent("SC"))
        fake.reboot()
        async with asyncio.timeout(3):
            while len(fake.sent("SC")) == n or fake.sleeping:
                await pilot.link.wait_changed(0.05)
        assert fake.current_a == 10 and not fake.sleeping
        await pilot.close()


async def test_firmware_without_async_notifications_is_polled(peer):
    pilot = build(PILOT_SPEC, peer.path, {})
    async with controller(peer, async_notifications=False) as fake:
        await pilot.open()
        states = pilot.states()
        assert await next_state(states) is PilotState.A
        fake.set_ev("B")                                 # no $AT: seen at the next $GS poll
        assert await next_state(states) is PilotState.B
        await states.aclose()
        await pilot.close()
