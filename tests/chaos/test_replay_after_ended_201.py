"""Found by the 2.0.1 chaos run (BORNE_CHAOS_CYCLES=40 BORNE_CHAOS_SEED=917281002, cycle
at 13:42:28 of that run): after a power cut the agent sent a transaction's Started,
Updated... and Ended again although the CSMS had confirmed its Ended: events after
Ended (ocpp201-rules.md §3; the devcsms TransactionSequenceRule reports "Started after
transaction ... Ended", "seqNo went back").

Why: the outbox batches the removals of delivered messages (firmware/ocpp/outbox.py,
DURABLE_EVERY / DURABLE_AFTER_S) and commits at once only the removal of a 1.6
StartTransaction / StopTransaction (``_RECORDING_ACTIONS``, guarded by
``csms_assigns_transaction_ids``). In 2.0.1 a confirmed TransactionEvent Ended stays
pending with the events before it; a crash before the batch commits replays them all.
1.6 guarantees nothing of a transaction after its confirmed stop (record_check:
"meter values after the stop" is reordered); 2.0.1 does not.

Fixed: the outbox commits a confirmed Ended's removal (and the batch before it) at
once under 2.0.1.

The minimal case: two sessions queued offline (tx 1 Started ... Ended, tx 2 Started),
the CSMS answers tx 1's events and never answers tx 2's Started, the agent is killed
while it waits: after the restart tx 1's Started arrives again after its Ended.
"""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from devcsms import DevCsms, Delay, NoAnswer
from devcsms.recording import TO_CP
from devcsms.validation import CALL, CALLRESULT
from tests.integration.agent import write_site

from .agent_process import AgentProcess
from .proxy import FaultProxy

STATION = "CP-REPLAY"
DEFAULTS = {"MeterValueSampleInterval": 0, "ClockAlignedDataInterval": 0,
            "AllowOfflineTxForUnknownId": True, "LocalAuthorizeOffline": True,
            "TransactionMessageRetryInterval": 1, "TransactionMessageAttempts": 10}
OCPP = {"protocol": "ocpp2.0.1", "call_timeout_s": 60.0, "reconnect_initial_s": 0.1,
        "reconnect_max_s": 0.3}


def queued_events(state_dir, local_tx_id: int) -> int:
    conn = sqlite3.connect(state_dir / "borne.db")
    try:
        return conn.execute("SELECT COUNT(*) FROM outbox WHERE local_tx_id=?",
                            (local_tx_id,)).fetchone()[0]
    finally:
        conn.close()


async def ended_queued(state_dir, local_tx_id: int, timeout_s: float = 30.0) -> None:
    """Wait until the agent has queued the Ended of ``local_tx_id`` (it ends a moment
    after the unplug: the last meter reading comes first)."""
    async with asyncio.timeout(timeout_s):
        while True:
            conn = sqlite3.connect(state_dir / "borne.db")
            try:
                found = conn.execute("SELECT COUNT(*) FROM outbox WHERE local_tx_id=? AND "
                                     "payload LIKE '%\"eventType\":\"Ended\"%'",
                                     (local_tx_id,)).fetchone()[0]
            finally:
                conn.close()
            if found:
                return
            await asyncio.sleep(0.05)


def events_of(csms: DevCsms, transaction_id: str):
    return [f for f in csms.frames if f.message_type == CALL and f.station == STATION
            and f.action == "TransactionEvent"
            and f.payload["transactionInfo"]["transactionId"] == transaction_id]


@pytest.mark.timeout(120)
async def test_nothing_of_a_transaction_is_sent_after_its_confirmed_ended(tmp_path):
    async with DevCsms() as csms:
        proxy = FaultProxy("127.0.0.1", csms.port)
        await proxy.start()
        try:
            site = write_site(tmp_path, proxy.url_for(csms.url), station_id=STATION,
                              board="sim-2c.toml", console="stdio", defaults=DEFAULTS,
                              ocpp=OCPP)
            proxy.cut()
            agent = AgentProcess(site, tmp_path / "agent.log")
            await agent.start()
            try:
                await agent.command("sim plug 1")
                await agent.command("sim tap C0FFEE01")
                await agent.command("sim unplug 1")  # tx 1: Started ... Ended, queued
                await ended_queued(tmp_path / "state", local_tx_id=1)
                await agent.command("sim plug 2")
                await agent.command("sim tap C0FFEE02")  # tx 2: Started, queued after
                for _ in range(queued_events(tmp_path / "state", local_tx_id=1)):
                    csms.script("TransactionEvent", Delay(0.0))  # tx 1: answered
                csms.script("TransactionEvent", NoAnswer())  # tx 2 Started: never
                mark = csms.mark()
                proxy.restore()
                ended = await csms.wait_frame(
                    lambda f: f.message_type == CALL and f.action == "TransactionEvent"
                    and f.payload["eventType"] == "Ended", station=STATION, after=mark,
                    timeout_s=30)
                await csms.wait_frame(
                    lambda f: f.message_type == CALLRESULT and f.request_seq == ended.seq,
                    direction=TO_CP, station=STATION, after=mark, timeout_s=30)
                await csms.wait_frame(
                    lambda f: f.message_type == CALL and f.action == "TransactionEvent"
                    and f.seq > ended.seq, station=STATION, after=mark, timeout_s=30)
                await agent.kill()  # a power cut while tx 2's Started awaits its answer
                restart = csms.mark()
                agent = AgentProcess(site, tmp_path / "agent.log")
                await agent.start()
                await csms.wait_frame(  # tx 2's PowerLoss Ended: the queue is through
                    lambda f: f.message_type == CALL and f.action == "TransactionEvent"
                    and f.payload["eventType"] == "Ended" and f.payload[
                        "transactionInfo"]["transactionId"] != ended.payload[
                        "transactionInfo"]["transactionId"],
                    station=STATION, after=restart, timeout_s=30)
                assert await agent.terminate() == 0
            finally:
                await agent.kill()
        finally:
            await proxy.close()
    tx1 = ended.payload["transactionInfo"]["transactionId"]
    after_ended = [(f.seq, f.payload["eventType"], f.payload["seqNo"])
                   for f in events_of(csms, tx1)
                   if f.seq > ended.seq and f.payload != ended.payload]
    assert after_ended == [], f"tx {tx1} events after its confirmed Ended #{ended.seq}"

