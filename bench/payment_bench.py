"""Card presented → pre-authorisation on the wire, p99 and p50, against the bare codec in
the same run.

``run(results)`` appends {"name", "value", "unit", "baseline", "ratio"} dicts;
``python -m bench.payment_bench`` prints them.

Method:
- A ZVT terminal peer on a real TCP socket on 127.0.0.1 (``tests/payment/zvt_peer.py``:
  it ACKs every command and answers the 06 22 with 04 FF, 04 0F, 06 0F at once).
- The production agent (``firmware.app.build_agent`` + ``run``) in this process, on a
  board whose connector is simulated and whose ``[[payment]]`` is the real ``zvt_tcp``
  driver pointed at the peer; no CSMS (a payment needs none).
- A sample: t0 = just before ``runtime.dispatch(PaymentRequested(1))`` (the driver asks
  to pay: the price is shown, the record committed to SQLite, the pre-authorisation
  queued for the terminal task); t1 = when the peer has read the whole 06 22 APDU from
  its socket. Between samples the reservation is released (the connector's connection
  timeout fires: a reversal 06 25), outside the measurement.
- Baseline, interleaved with the samples: the bare codec — ``zvt_codec.pre_authorisation``
  encodes the same APDU and a plain asyncio stream writes it to the same peer; t1 as
  above. The ratio is the agent's path over the codec-and-socket path.
All in one process and one event loop, so the clocks agree.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from devcsms import sitefile  # noqa: E402
from drivers.payment import zvt_codec as zvt  # noqa: E402

SAMPLES = int(sys.argv[1]) if __name__ == "__main__" and len(sys.argv) > 1 else 400
WARMUP = 20


def result(name: str, value: float, unit: str, baseline: float) -> dict:
    return {"name": name, "value": round(value, 3), "unit": unit,
            "baseline": round(baseline, 3),
            "ratio": round(value / baseline, 3) if baseline else None}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


class Watch:
    """Wraps the peer's brain: records when each 06 22 has arrived."""

    def __init__(self, brain) -> None:
        self.brain = brain
        self.arrived = asyncio.Event()
        self.at = 0.0
        original = brain.on_apdu

        def on_apdu(raw: bytes) -> list[bytes]:
            if raw[:2] == bytes(zvt.PRE_AUTHORISATION):
                self.at = time.perf_counter()
                self.arrived.set()
            return original(raw)

        brain.on_apdu = on_apdu

    async def wait(self) -> float:
        await asyncio.wait_for(self.arrived.wait(), 10)
        self.arrived.clear()
        return self.at


async def measure() -> dict[str, list[float]]:
    from firmware.app import build_agent, run as run_agent
    from firmware.config import load_site_config
    from firmware.core import events as ev
    from firmware.core.timers import ConnectionTimeout
    from tests.payment.zvt_peer import TcpTerminal, TerminalBrain

    brain = TerminalBrain()
    peer = TcpTerminal(brain)
    await peer.start()
    watch = Watch(brain)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        board = directory / "board.toml"
        board.write_text(
            '[board]\nname = "bench"\nmixed_sim = true\n'
            '[[connector]]\nid = 1\nmax_current_a = 32.0\n'
            '[connector.pilot]\ndriver = "sim"\n[connector.contactor]\ndriver = "sim"\n'
            '[connector.meter]\ndriver = "sim"\n'
            f'[[payment]]\nname = "pt"\ndriver = "zvt_tcp"\nhost = "127.0.0.1"\n'
            f'tcp_port = {peer.port}\nconnectors = [1]\n')
        site = sitefile.write_site(directory, "ws://127.0.0.1:9/ocpp", board=board,
                                   extra='[payment]\npre_authorisation_cents = 2500\n')
        agent = build_agent(load_site_config(site))
        task = asyncio.create_task(run_agent(agent))
        flow = agent.station.payment
        full: list[float] = []
        bare: list[float] = []
        try:
            async with asyncio.timeout(30):           # started: its status check is done
                while agent.payment_worker is None or agent.payment_worker.operations < 1:
                    await asyncio.sleep(0.01)
            reader, writer = await asyncio.open_connection("127.0.0.1", peer.port)
            for i in range(SAMPLES + WARMUP):
                # the agent's path
                while flow.busy() or agent.station.connectors[1].authorization is not None:
                    await asyncio.sleep(0.001)
                t0 = time.perf_counter()
                agent.runtime.dispatch(ev.PaymentRequested(1))
                t1 = await watch.wait()
                while not any(r.state == "authorised" for r in flow.records.values()):
                    await asyncio.sleep(0.001)
                agent.runtime.dispatch(ev.TimerFired(ConnectionTimeout(1)))
                while flow.records:                # the reversal is through
                    await asyncio.sleep(0.001)
                # the bare codec on a socket of its own
                t2 = time.perf_counter()
                writer.write(zvt.pre_authorisation(2500))
                await writer.drain()
                t3 = await watch.wait()
                await reader.read(4096)   # the peer's ACK and first answer
                if i >= WARMUP:
                    full.append((t1 - t0) * 1000)
                    bare.append((t3 - t2) * 1000)
            writer.close()
        finally:
            agent.stop()
            await asyncio.wait_for(task, 30)
            await peer.stop()
    return {"full": full, "bare": bare}


def run(results: list) -> None:
    logging.disable(logging.WARNING)
    try:
        figures = asyncio.run(measure())
    finally:
        logging.disable(logging.NOTSET)
    full, bare = figures["full"], figures["bare"]
    results.append(result("payment: card presented → 06 22 pre-auth on the wire (ZVT/TCP), p99",
                          percentile(full, 0.99), "ms", percentile(bare, 0.99)))
    results.append(result("payment: card presented → 06 22 pre-auth on the wire (ZVT/TCP), p50",
                          percentile(full, 0.50), "ms", percentile(bare, 0.50)))
    print(f"# {len(full)} samples; max agent {max(full):.2f} ms, max bare codec "
          f"{max(bare):.2f} ms", file=sys.stderr)


if __name__ == "__main__":
    from bench import run_alone

    run_alone(run)
