"""Connection health: half-open links found and redialled, the backlog replayed at a
bounded rate, the outbox's disk budget, and what the console shows of it all.

The network faults come from ``FaultProxy`` between the agent and the dev CSMS.
"""

import logging

import pytest

from devcsms import NoAnswer
from devcsms.recording import TO_CP
from tests.chaos.proxy import FaultProxy
from tests.integration.agent import running_agent, write_site

STATION = "CP-IT"


@pytest.fixture
async def proxy(csms):
    fault_proxy = FaultProxy("127.0.0.1", csms.port)
    await fault_proxy.start()
    yield fault_proxy
    await fault_proxy.close()


async def offline_sessions(cp, count: int) -> None:
    """``count`` short sessions (start + stop each) while the CSMS cannot be reached."""
    for n in range(count):
        await cp.console("sim plug 1")
        await cp.console(f"sim tap 4EA1{n:04X}")
        await cp.until(lambda: cp.station.connectors[1].tx is not None)
        await cp.console("sim unplug 1")
        await cp.until(lambda: cp.station.connectors[1].transaction_ended())


async def test_a_stalled_link_is_found_by_ping_shown_offline_and_redialled(csms, proxy, tmp_path):
    site = write_site(tmp_path, proxy.url_for(csms.url), defaults={"WebSocketPingInterval": 1})
    async with running_agent(site) as cp:
        await csms.wait_for("StatusNotification", timeout_s=10)
        proxy.stall()  # nothing flows, nothing closes
        await cp.until(lambda: not cp.agent.link.connected)
        status = await cp.console("status")
        queue = await cp.console("queue")
        connects = cp.agent.link.status.connects
        proxy.restore()
        await cp.until(lambda: cp.agent.link.connected)
        assert cp.agent.link.status.connects == connects + 1
    assert status[0].startswith("link: offline since ") or status[0].startswith(
        "link: connecting since ")
    assert queue[-1].startswith("link: offline since ")


async def test_calls_left_unanswered_close_the_link_and_it_is_redialled(csms, tmp_path):
    site = write_site(tmp_path, csms.url,
                      ocpp={"call_timeout_s": 1.0, "unanswered_calls_max": 2})
    csms.boot.interval_s = 1  # the heartbeat interval: a CALL every second
    async with running_agent(site) as cp:
        await csms.wait_for("StatusNotification", timeout_s=10)
        first = csms.connections[-1]
        csms.script("Heartbeat", NoAnswer(), always=True)
        closed = await csms.wait_connection_closed(first, timeout_s=10)
        csms.clear_scripts()
        await csms.wait_connected(STATION, timeout_s=20)
        await cp.until(lambda: cp.agent.link.connected)
    assert closed.close_code == 1001
    unanswered = [f for f in csms.messages("Heartbeat")
                  if first.opened_monotonic_s <= f.monotonic_s <= closed.closed_monotonic_s]
    assert len(unanswered) == 2


async def test_the_backlog_is_replayed_at_the_configured_rate(csms, tmp_path):
    rate_per_s = 8.0
    site = write_site(tmp_path, csms.url, defaults={"AllowOfflineTxForUnknownId": True},
                      ocpp={"replay_max_per_s": rate_per_s})
    async with running_agent(site) as cp:
        await csms.wait_for("StatusNotification", timeout_s=10)
        csms.refuse_connections = True
        await csms.disconnect(STATION)
        await cp.until(lambda: not cp.agent.link.connected)
        await offline_sessions(cp, 4)
        mark = csms.mark()
        csms.refuse_connections = False
        await cp.until(lambda: cp.agent.outbox.stats()[0] == 0)
    replayed = [f for f in csms.messages(after=mark)
                if f.action in ("StartTransaction", "StopTransaction")]
    assert len(replayed) == 8
    # Causal bounds, load-proof (no tolerance): message i goes out only after the reply
    # to message i-1 was recorded (one in flight), and message i+1 no sooner than
    # 1/rate after message i went out. So the CSMS records message i+1 at least 1/rate
    # after it recorded the reply to message i-1. (Gaps between receipts are no bound:
    # a late first receipt and a prompt second one make them shorter than 1/rate.)
    replies = [await csms.wait_frame(lambda f, r=r: f.request_seq == r.seq, direction=TO_CP)
               for r in replayed]
    paced_s = [replayed[i + 1].monotonic_s - replies[i - 1].monotonic_s
               for i in range(1, len(replayed) - 1)]
    assert min(paced_s) >= 1.0 / rate_per_s, paced_s


async def test_over_its_disk_budget_the_outbox_alarms_and_keeps_every_message(
        csms, tmp_path, caplog):
    site = write_site(tmp_path, csms.url, defaults={"AllowOfflineTxForUnknownId": True},
                      ocpp={"outbox_budget_mb": 0.001})  # 1,000 bytes
    async with running_agent(site) as cp:
        await csms.wait_for("StatusNotification", timeout_s=10)
        csms.refuse_connections = True
        await csms.disconnect(STATION)
        await cp.until(lambda: not cp.agent.link.connected)
        with caplog.at_level(logging.ERROR, logger="firmware.ocpp.outbox"):
            await offline_sessions(cp, 4)
        over = await cp.console("queue")
        mark = csms.mark()
        csms.refuse_connections = False
        await cp.until(lambda: cp.agent.outbox.stats()[0] == 0)
        under = await cp.console("queue")
    assert over[0].startswith("OVER BUDGET: ")
    assert over[1].startswith("queue: 8 transaction message(s)")
    assert any("OUTBOX OVER BUDGET" in r.getMessage() for r in caplog.records)
    assert not under[0].startswith("OVER BUDGET")
    assert "0 dropped" in next(line for line in under if line.startswith("totals:"))
    delivered = [f for f in csms.messages(after=mark)
                 if f.action in ("StartTransaction", "StopTransaction")]
    assert len(delivered) == 8
