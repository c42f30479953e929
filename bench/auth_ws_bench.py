"""SendLocalList of 100,000 entries over a real websocket to the real agent (DESIGN §5:
≥ 20,000 entries/s, the agent's event loop never stalls > 50 ms meanwhile).

``run(results)`` appends {"name", "value", "unit", "baseline", "ratio"} dicts;
``python -m bench.auth_ws_bench`` prints them.

Set-up: DevCsms in this process on 127.0.0.1 (port 0); the agent as a real process
(``python -m firmware run`` on the simulated board, its own state_dir), so the
websocket, the frame parsing, the handler, the store's worker thread and the SQLite
writes are the production ones, and the CSMS's own work does not share the agent's
GIL or loop.

"Full in chunks": OCPP 1.6 has no chunked Full. With SendLocalListMaxLength = 10,000
(our default, and the usual CSMS batch size) a 100,000-entry list is pushed as
message 1 = Full (10,000 entries, replaces whatever was there, version 1) and messages
2..10 = Differential (10,000 new entries each, versions 2..10), each sent when the
previous SendLocalList.conf came back. That is what CSMSs do; the version after each
message tells the CSMS where to resume if the push is interrupted, and every
intermediate list is consistent. Figure: 100,000 / (last reply - first send), CSMS-side
serialisation of the requests included. (The same 100,000 entries as ONE 13 MB Full
frame are no longer measured: the agent refuses frames over 4 MB before parsing them —
no legal 1.6 message is that large, and parsing one held the loop ~120-200 ms.)

Stall: measured inside the agent process. The child is ``python -c`` code that wraps
``firmware.app.run`` (no change to the firmware) with a 1 ms ticker task on the agent's
own loop: every tick that comes back more than 2 ms late prints
``STALL <time.monotonic()> <ms late>`` on stdout (CLOCK_MONOTONIC is system-wide, so
the bench can place each stall in the push window). Figure: the longest stall that
overlaps [first send, last reply].

Baseline (same run, same frames): what the ``ocpp`` library does with an inbound
SendLocalList: ``ocpp.messages.unpack`` (json on the loop) + ``validate_payload``
(jsonschema Draft 4, in an executor thread as the library does by default), in a
fresh loop in this process with the same 1 ms ticker: its entries/s and its longest
stall. DESIGN §5 quotes 0.36-0.57 s per 10,000-entry message for that validation.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from devcsms import DevCsms, sitefile  # noqa: E402

STATION = "CP-BENCH"
TOTAL = 100_000
PER_MESSAGE = 10_000
STALL_REPORT_MS = 2.0

# The agent, with a 1 ms ticker on its loop (see the module docstring).
AGENT_WITH_TICKER = r"""
import asyncio, sys, time
import firmware.app as app

REPORT_S = float(sys.argv[2]) / 1000

async def ticker():
    write, flush = sys.stdout.write, sys.stdout.flush
    clock = time.monotonic
    write("TICKER\n"); flush()
    while True:
        t0 = clock()
        await asyncio.sleep(0.001)
        t1 = clock()
        late = t1 - t0 - 0.001
        if late > REPORT_S:
            write(f"STALL {t1:.6f} {late * 1000:.3f}\n"); flush()

plain_run = app.run

async def run_with_ticker(agent):
    task = asyncio.get_running_loop().create_task(ticker())
    try:
        return await plain_run(agent)
    finally:
        task.cancel()

app.run = run_with_ticker
from firmware.__main__ import main
sys.exit(main(["run", "--config", sys.argv[1], "--log-level", "WARNING"]))
"""


def result(name: str, value: float, unit: str, baseline: float) -> dict:
    return {"name": name, "value": round(value, 3), "unit": unit,
            "baseline": round(baseline, 3),
            "ratio": round(value / baseline, 3) if baseline else None}


def messages(total: int = TOTAL, per_message: int = PER_MESSAGE) -> list[dict]:
    """Full first, then Differentials with increasing versions; ~130 bytes per entry."""
    out = []
    for version, start in enumerate(range(0, total, per_message), start=1):
        out.append({"listVersion": version,
                    "updateType": "Full" if version == 1 else "Differential",
                    "localAuthorizationList": [
                        {"idTag": f"{i * 2654435761 % (1 << 64):016X}",
                         "idTagInfo": {"status": "Accepted" if i % 10 else "Blocked",
                                       "expiryDate": "2030-01-01T00:00:00Z",
                                       "parentIdTag": f"FLEET{i % 50}"}}
                        for i in range(start, start + per_message)]})
    return out


def write_site(directory: Path, csms_url: str) -> Path:
    return sitefile.write_site(directory, csms_url, station_id=STATION,
                               ocpp={"call_timeout_s": 30.0},
                               defaults={"SendLocalListMaxLength": TOTAL})


class StallLog:
    """Reads the child's STALL lines as they come (so its pipe never fills up)."""

    def __init__(self, stream: asyncio.StreamReader):
        self.stalls: list[tuple[float, float]] = []  # (end monotonic s, ms late)
        self.ticking = asyncio.Event()
        self._stream = stream

    async def run(self) -> None:
        while line := await self._stream.readline():
            parts = line.decode().split()
            if parts[:1] == ["TICKER"]:
                self.ticking.set()
            elif parts[:1] == ["STALL"]:
                self.stalls.append((float(parts[1]), float(parts[2])))

    def longest_ms(self, start_s: float, end_s: float) -> float:
        """The longest stall overlapping [start_s, end_s]; 0 if none was reported."""
        return max((ms for end, ms in self.stalls
                    if end >= start_s and end - ms / 1000 <= end_s), default=0.0)


async def push(csms: DevCsms, batch: list[dict]) -> tuple[float, float]:
    """Send the messages one after the other; (first send, last reply) monotonic s."""
    started = time.monotonic()
    for message in batch:
        reply = await csms.call(STATION, ("SendLocalList", message), timeout_s=120,
                                validate=False)
        assert reply == {"status": "Accepted"}, reply
    return started, time.monotonic()


async def agent_figures(directory: Path, chunked: list[dict]) -> dict:
    async with DevCsms(ping_interval_s=None) as csms:
        site = write_site(directory, csms.url)
        log_path = directory / "agent.log"
        with open(log_path, "wb") as log:
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-c", AGENT_WITH_TICKER, str(site), str(STALL_REPORT_MS),
                cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=log)
        assert child.stdout is not None
        stall_log = StallLog(child.stdout)
        reader = asyncio.ensure_future(stall_log.run())
        try:
            try:
                await asyncio.wait_for(stall_log.ticking.wait(), 30)
            except TimeoutError:
                raise RuntimeError("the agent did not start: "
                                   + log_path.read_text("utf-8", "replace")[-2000:]) from None
            await csms.wait_for("StatusNotification", timeout_s=30)
            # Warm-up (first use of the worker, the tables, the code paths); then a quiet
            # second to see the loop's noise floor with nothing to do.
            warm_up = chunked[0]["localAuthorizationList"][:100]
            await push(csms, [{"listVersion": 1, "updateType": "Full",
                               "localAuthorizationList": warm_up}])
            quiet_start = time.monotonic()
            await asyncio.sleep(1.0)
            idle_ms = stall_log.longest_ms(quiet_start, time.monotonic())

            started, replied = await push(csms, chunked)
            version = (await csms.call(STATION, ("GetLocalListVersion", {})))["listVersion"]
            assert version == len(chunked), version
        finally:
            if child.returncode is None:
                child.send_signal(signal.SIGTERM)
            await asyncio.wait_for(child.wait(), 30)
            await reader
        assert csms.violations == [], csms.violations
    db = sqlite3.connect(directory / "state" / "borne.db")
    count, = db.execute("SELECT list_count FROM auth_state").fetchone()
    db.close()
    assert count == TOTAL, count
    return {"chunked_s": replied - started,
            "chunked_stall_ms": stall_log.longest_ms(started, replied),
            "idle_stall_ms": idle_ms}


async def library_figures(frames: list[str]) -> dict:
    """The ocpp library's path for the same frames: unpack on the loop + jsonschema."""
    from ocpp.messages import unpack, validate_payload

    stalls: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            t0 = time.monotonic()
            await asyncio.sleep(0.001)
            stalls.append((time.monotonic() - t0 - 0.001) * 1000)

    warm = json.dumps([2, "w", "SendLocalList", {"listVersion": 1, "updateType": "Full"}])
    await validate_payload(unpack(warm), "1.6")  # loads and compiles the schema
    task = asyncio.ensure_future(ticker())
    await asyncio.sleep(0.01)
    started = time.monotonic()
    for frame in frames:
        await validate_payload(unpack(frame), "1.6")
    elapsed = time.monotonic() - started
    done.set()
    await task
    return {"s": elapsed, "stall_ms": max(stalls)}


def run(results: list) -> None:
    chunked = messages()
    frames = [json.dumps([2, f"b{n}", "SendLocalList", m]) for n, m in enumerate(chunked)]
    library = asyncio.run(library_figures(frames))
    with tempfile.TemporaryDirectory(prefix="borne-auth-ws-bench-") as directory:
        agent = asyncio.run(agent_figures(Path(directory), chunked))
    library_rate = TOTAL / library["s"]
    results.append(result("auth ws: SendLocalList 100k (Full + 9 Differential x 10k) "
                          "until last reply", TOTAL / agent["chunked_s"], "entries/s",
                          library_rate))
    results.append(result("auth ws: longest agent loop stall during that push",
                          agent["chunked_stall_ms"], "ms", library["stall_ms"]))
    print(f"# agent loop idle noise floor: longest stall {agent['idle_stall_ms']:.1f} ms in 1 s;"
          f" ocpp library validation: {library['s'] / len(frames):.2f} s per 10k message",
          file=sys.stderr)


if __name__ == "__main__":
    from bench import run_alone

    run_alone(run)
