"""The durable outbox (DESIGN §5): append latency with a durable commit, and the drain of
a 100,000-message backlog to a CSMS on loopback with the agent's memory watched.

- Append p99/p50: one transaction message appended and committed the way the runtime
  does it (``atomic`` + ``outbox_append`` on the agent's database: WAL,
  synchronous=FULL), ``APPENDS`` times. Baseline, interleaved sample by sample: a bare
  ``INSERT`` + ``COMMIT`` of the same text into a one-table database in the same
  directory, WAL and synchronous=FULL too.
- Drain: ``DRAIN_MESSAGES`` queued messages (1,000 transactions: start, 98 meter
  values, stop) written into a fresh state directory, then the real agent process
  started against the CSMS with no replay limit. Rate = messages / (first queued CALL
  received → last one answered). RSS of the agent sampled all along: its RSS at the
  end against its RSS at 10 % drained (flat memory = a ratio of 1.0). Baseline: the
  same number of CALL/CALLRESULT round trips by a bare ``websockets`` client (a child
  process too) against the same CSMS, and its RSS growth.
  Two CSMSs: the DevCsms (validates and records every frame: it is the bottleneck
  near 1,500 round trips/s) and a bare loopback CSMS answering at once, which shows
  what the agent itself can do (goal ≥ 2,000 messages/s, and ≥ 0.8 × the baseline:
  issue #8 item 15).
  Like with like: the agent and the baseline client are both ``websockets`` clients
  with its defaults (permessage-deflate negotiated with the same CSMS, no pings), one
  CALL in flight, the same MeterValues frames. The baseline stores nothing; the agent
  reads every message from its database and removes it there once answered, durably
  (batches of at most ``DURABLE_EVERY`` removals per synced commit, firmware/ocpp/
  outbox.py), and validates every answer against the 1.6 schema.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402
from websockets.asyncio.server import serve  # noqa: E402

from bench.daemon_bench import rss_kb, result, spawn_agent, stop_agent, write_site  # noqa: E402
from devcsms import DevCsms  # noqa: E402
from devcsms.recording import TO_CP  # noqa: E402
from devcsms.validation import CALLRESULT  # noqa: E402
from firmware.ocpp.mapping import format_time  # noqa: E402
from firmware.store import repositories as repo  # noqa: E402
from firmware.store.db import atomic, open_database  # noqa: E402

APPENDS = 5000
DRAIN_MESSAGES = 100_000
PER_TRANSACTION = 100  # start + 98 meter values + stop
TX_ACTIONS = ("StartTransaction", "MeterValues", "StopTransaction")
STATION = "CP-BENCH"
T0 = 1_767_225_600.0


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


# ---------------------------------------------------------------------- messages
def meter_values(n: int) -> dict:
    return {"connectorId": 1, "meterValue": [{
        "timestamp": format_time(T0 + n), "sampledValue": [{
            "value": str(n * 3), "context": "Sample.Periodic",
            "measurand": "Energy.Active.Import.Register", "location": "Outlet",
            "unit": "Wh"}]}]}


def queued_messages(count: int):
    """(action, local_tx_id, payload, created_at_s) as the runtime would have queued them."""
    for n in range(count):
        local_tx_id, k = divmod(n, PER_TRANSACTION)
        local_tx_id += 1
        at_s = T0 + n
        if k == 0:
            yield "StartTransaction", local_tx_id, {
                "connectorId": 1, "idTag": f"B{local_tx_id:07X}", "meterStart": n * 3,
                "timestamp": format_time(at_s)}, at_s
        elif k == PER_TRANSACTION - 1:
            yield "StopTransaction", local_tx_id, {
                "meterStop": n * 3, "timestamp": format_time(at_s), "reason": "Local",
                "idTag": f"B{local_tx_id:07X}"}, at_s
        else:
            yield "MeterValues", local_tx_id, meter_values(n), at_s


# ---------------------------------------------------------------------- append latency
def bench_append(directory: Path, results: list) -> None:
    conn = open_database(directory / "append")
    bare = sqlite3.connect(directory / "append" / "bare.db", isolation_level=None)
    bare.execute("PRAGMA journal_mode=WAL")
    bare.execute("PRAGMA synchronous=FULL")
    bare.execute("CREATE TABLE IF NOT EXISTS t (seq INTEGER PRIMARY KEY, payload TEXT)")
    payload = meter_values(1)
    text = json.dumps(payload, separators=(",", ":"))
    ours: list[float] = []
    baseline: list[float] = []
    for n in range(APPENDS):
        started = time.perf_counter()
        with atomic(conn):
            repo.outbox_append(conn, "MeterValues", 1, payload, T0 + n)
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        bare.execute("BEGIN IMMEDIATE")
        bare.execute("INSERT INTO t(payload) VALUES(?)", (text,))
        bare.execute("COMMIT")
        baseline.append(time.perf_counter() - started)
    conn.close()
    bare.close()
    results.append(result("outbox: append + durable commit, p99 (baseline: bare INSERT+COMMIT, "
                          "WAL, synchronous=FULL)", percentile(ours, 0.99) * 1e6, "us",
                          percentile(baseline, 0.99) * 1e6))
    results.append(result("outbox: append + durable commit, p50", percentile(ours, 0.5) * 1e6,
                          "us", percentile(baseline, 0.5) * 1e6))


# ---------------------------------------------------------------------- CSMSs
class BareCsms:
    """Answers every CALL at once, validating nothing: the agent's own ceiling shows."""

    def __init__(self) -> None:
        self.answered = 0
        self.first_s: float | None = None
        self.last_s: float | None = None
        self._ids = 0
        self._server = None
        self.port = 0

    async def __aenter__(self) -> BareCsms:
        self._server = await serve(self._serve, "127.0.0.1", 0, subprotocols=["ocpp1.6"],
                                   ping_interval=None)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"

    async def _serve(self, connection) -> None:
        try:
            async for text in connection:
                _, unique_id, action, _payload = json.loads(text)
                if action == "BootNotification":
                    reply = {"status": "Accepted", "currentTime": format_time(time.time()),
                             "interval": 300}
                elif action == "StartTransaction":
                    self._ids += 1
                    reply = {"transactionId": self._ids, "idTagInfo": {"status": "Accepted"}}
                elif action == "Heartbeat":
                    reply = {"currentTime": format_time(time.time())}
                else:
                    reply = {}
                if action in TX_ACTIONS:
                    now = time.monotonic()
                    self.first_s = self.first_s or now
                    self.last_s = now
                    self.answered += 1
                await connection.send(json.dumps([3, unique_id, reply]))
        except websockets.exceptions.ConnectionClosed:
            pass


def dev_csms_progress(csms: DevCsms, state: dict) -> tuple[int, float | None, float | None]:
    """(transaction messages answered, first CALL's time, last answer's time), scanning
    only the frames recorded since the previous call."""
    frames = csms.frames
    for frame in frames[state.get("seen", 0):]:
        if frame.station != STATION or frame.action not in TX_ACTIONS:
            continue
        if frame.direction == TO_CP and frame.message_type == CALLRESULT:
            state["answered"] = state.get("answered", 0) + 1
            state["last_s"] = frame.monotonic_s
        elif frame.direction != TO_CP and "first_s" not in state:
            state["first_s"] = frame.monotonic_s
    state["seen"] = len(frames)
    return state.get("answered", 0), state.get("first_s"), state.get("last_s")


# ---------------------------------------------------------------------- the drain
def prepare_backlog(directory: Path, count: int) -> None:
    conn = open_database(directory / "state")
    with atomic(conn):
        for action, local_tx_id, payload, at_s in queued_messages(count):
            repo.outbox_append(conn, action, local_tx_id, payload, at_s)
        repo.bump_local_tx_id(conn, count // PER_TRANSACTION + 2)
    conn.close()


async def drain(directory: Path, csms, progress) -> dict:
    """Start the agent on the backlog; wait until all is answered, sampling its RSS."""
    prepare_backlog(directory, DRAIN_MESSAGES)
    site = write_site(directory, csms.url, ocpp={"replay_max_per_s": 1_000_000.0})
    proc = await spawn_agent(site, directory / "agent.log")
    samples: list[tuple[int, int]] = []  # (answered, rss_kb)
    try:
        deadline_s = time.monotonic() + 600
        while True:
            answered, first_s, last_s = progress()
            samples.append((answered, rss_kb(proc.pid)))
            if answered >= DRAIN_MESSAGES:
                break
            if proc.returncode is not None or time.monotonic() > deadline_s:
                raise RuntimeError(f"the drain stopped at {answered} messages "
                                   f"(see {directory / 'agent.log'})")
            await asyncio.sleep(0.25)  # a sampling period, not a synchronisation
    finally:
        await stop_agent(proc)
    warm = next(rss for done, rss in samples if done >= DRAIN_MESSAGES // 10)
    return {"rate": DRAIN_MESSAGES / (last_s - first_s), "warm_kb": warm,
            "end_kb": samples[-1][1], "peak_kb": max(rss for _, rss in samples)}


_BARE_CLIENT = r"""
import asyncio, json, sys, time
import websockets
sys.path.insert(0, sys.argv[3])
from bench.outbox_bench import meter_values
def rss_kb():
    return int([l for l in open('/proc/self/status') if l.startswith('VmRSS:')][0].split()[1])
async def main(url, count):
    async with websockets.connect(url, subprotocols=["ocpp1.6"], ping_interval=None) as ws:
        await ws.send(json.dumps([2, "boot", "BootNotification",
                                  {"chargePointVendor": "Bench", "chargePointModel": "Bare"}]))
        await ws.recv()
        started = time.monotonic()
        warm = None
        for n in range(count):
            payload = dict(meter_values(n), transactionId=1)
            await ws.send(json.dumps([2, str(n), "MeterValues", payload]))
            json.loads(await ws.recv())
            if n == count // 10:
                warm = rss_kb()
        elapsed = time.monotonic() - started
    print(json.dumps({"rate": count / elapsed, "growth_kb": rss_kb() - warm}))
asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


async def bare_client(url: str) -> dict:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _BARE_CLIENT, url + "/CP-BARE", str(DRAIN_MESSAGES), str(ROOT),
        stdout=asyncio.subprocess.PIPE, cwd=ROOT)
    out, _ = await proc.communicate()
    return json.loads(out.decode().strip().splitlines()[-1])


async def bench_drains(directory: Path, results: list) -> None:
    async with DevCsms(boot_interval_s=300, ping_interval_s=None) as csms:
        state: dict = {}
        ours = await drain(directory / "dev", csms, lambda: dev_csms_progress(csms, state))
        bare = await bare_client(csms.url)
        if csms.violations:
            raise AssertionError("the CSMS found violations: " + "; ".join(csms.violations[:5]))
    results.append(result("outbox: drain 100k queued messages to DevCsms (baseline: bare "
                          "websockets client, same CSMS)", ours["rate"], "msg/s", bare["rate"]))
    results.append(result("outbox: agent RSS when that drain ends (baseline: its RSS at 10% "
                          "drained; flat = 1.0)", ours["end_kb"] / 1024, "MB",
                          ours["warm_kb"] / 1024))
    results.append(result("outbox: bare client RSS growth over the same round trips, 10% -> "
                          "100%", bare["growth_kb"] / 1024, "MB", None))
    async with BareCsms() as csms:
        ours = await drain(directory / "bare",
                           csms, lambda: (csms.answered, csms.first_s, csms.last_s))
        bare = await bare_client(csms.url)
    results.append(result("outbox: drain 100k queued messages to a bare loopback CSMS "
                          "(baseline: bare websockets client)", ours["rate"], "msg/s",
                          bare["rate"]))
    results.append(result("outbox: agent RSS when that drain ends (baseline: its RSS at 10% "
                          "drained)", ours["end_kb"] / 1024, "MB", ours["warm_kb"] / 1024))


def run(results: list) -> None:
    with tempfile.TemporaryDirectory(prefix="borne-outbox-bench-") as name:
        directory = Path(name)
        bench_append(directory, results)
        asyncio.run(bench_drains(directory, results))


if __name__ == "__main__":
    from bench import run_alone

    run_alone(run)
