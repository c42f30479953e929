"""Clock sync against a real websocket CSMS on the same host clock (issue 8 item 14).

The CSMS and the agent read the same system clock, so a correct sync changes nothing
and every StartTransaction is stamped at or after the moment the CSMS sent the
Authorize.conf that allowed it. Before the fix the clock was set from currentTime when
the effect ran, uncorrected, and every timestamp came out 50-100 ms early.
"""

import math

from ocpp.v16 import call

from firmware.ocpp.mapping import parse_time
from tests.integration.agent import running_agent, write_site


def floor_ms(epoch_s: float) -> float:
    return math.floor(epoch_s * 1000) / 1000  # both sides print milliseconds, truncated


async def test_no_start_transaction_precedes_the_authorize_conf_that_allowed_it(csms, tmp_path):
    site = write_site(tmp_path, csms.url)
    async with running_agent(site) as cp:
        await csms.wait_for("StatusNotification", lambda f: f.payload["connectorId"] == 1,
                            timeout_s=10)
        await csms.call("CP-IT", call.TriggerMessage(requested_message="Heartbeat"))
        await csms.wait_for("Heartbeat", timeout_s=10)  # a Heartbeat.conf sync too
        await cp.console("sim plug 1")
        for _ in range(3):
            mark = csms.mark()
            await cp.console("sim tap 04A2B3C4")
            authorize = await csms.wait_for("Authorize", after=mark, timeout_s=5)
            start = await csms.wait_for("StartTransaction", after=mark, timeout_s=5)
            conf = await csms.wait_frame(lambda f, seq=authorize.seq: f.request_seq == seq,
                                         timeout_s=5, direction="to_cp")
            stamped_s = parse_time(start.payload["timestamp"])
            assert stamped_s >= floor_ms(conf.wall_time.timestamp()), (
                start.payload["timestamp"], conf.wall_time.isoformat())
            await cp.console("sim tap 04A2B3C4")
            await csms.wait_for("StopTransaction", after=mark, timeout_s=5)
        # Same host clock: no correction worth the name was ever applied.
        assert abs(cp.agent.runtime.clock.offset_s) < 0.5 and cp.agent.runtime.clock.steps == 0


async def test_a_clock_step_re_arms_the_clock_aligned_timer_in_the_running_agent(csms, tmp_path):
    """A step of the agent clock reaches the core as ClockStepped, which re-arms the
    wall-clock-derived timers (issue 8 item 2); here an hour forward (ClockAlignedDataInterval
    is 0 on this site: re-arming it is cancelling it)."""
    import asyncio
    import time

    from firmware.core import effects as fx
    from firmware.core.sampling import ALIGNED_TIMER

    site = write_site(tmp_path, csms.url)
    async with running_agent(site) as cp:
        await csms.wait_for("BootNotification", timeout_s=10)
        rearmed = asyncio.Event()

        def watch(effects):
            if any(isinstance(e, (fx.StartTimer, fx.CancelTimer)) and e.key == ALIGNED_TIMER
                   for e in effects):
                rearmed.set()

        cp.agent.runtime.observe(watch)
        clock = cp.agent.runtime.clock
        mono = time.monotonic()
        clock.sync(clock.now() + 3600.0, mono, mono)
        await asyncio.wait_for(rearmed.wait(), timeout=10)
        assert clock.steps == 1
