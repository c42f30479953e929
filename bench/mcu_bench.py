"""Safety MCU: worst-case simulated time from a cause to the contactor coil off, against the
limits (hardware.md §3.3: IEC 61851-1:2017 seq. 8.1, off within 100 ms of C->B and of a
fault; docs/mcu-protocol.md: the 2 s keep-alive timeout for a silent host).

``run(results)`` appends {"name", "value", "unit", "baseline", "ratio"} dicts;
``python -m bench.mcu_bench`` prints them.

Method: firmware/mcu/main.py's ``Firmware`` runs turn by turn on the simulated Pico of
tests/mcu/micropython/sim.py (pilot circuit with an EV and its diode, the ADC divider, a
contactor whose mirror follows the coil after 20 ms, an RCD input, a host on the UART;
each ADC read costs 12 µs of simulated time, so a turn takes what its burst takes). Each
seeded run starts a charge (random offer 6..32 A, ADC noise up to ±20 mV at the node), then
injects one cause at a random simulated microsecond, possibly in the middle of a turn:
- C->B: the EV stops asking (C or D -> B);
- RCD: the RCD input trips;
- mirror: the mirror contact opens while the coil is on (contacts dropped out or the
  auxiliary wire cut; the controller allows mirror_settle_ms = 50 ms before calling it a
  mismatch, which counts against the 100 ms);
- host silent: the host stops writing; measured from its last frame to the coil off.
The figure is the worst case over the runs; the baseline is the limit; ratio = worst /
limit (below 1 is within the rule). Simulated time: the figure does not depend on this
machine's speed (it depends on the loop period and the controller's debounce).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.mcu.micropython import sim  # noqa: E402

RUNS = 100
SILENCE_RUNS = 15
LIMIT_MS = 100


def _charging(rng: random.Random) -> sim.Sim:
    s = sim.Sim(seed=rng.randrange(1, 1 << 31), noise_mv=rng.randrange(0, 21))
    s.run_ms(300)
    s.start_charging(offer_da=rng.randrange(60, 321))
    s.run_ms(rng.randrange(0, 200))
    return s


def _cause_to_off_us(s: sim.Sim, rng: random.Random, cause: str) -> int:
    w = s.world
    at_us = w.us + rng.randrange(0, 20_000)

    def inject() -> None:
        if cause == "c_to_b":
            w.ev = "B"
        elif cause == "rcd":
            w.rcd_tripped = True
        elif cause == "mirror":
            w.stuck_open = True

    w.at(at_us, inject)
    s.run_until(lambda: w.us > at_us and w.coil == 0, 1000)
    return s.coil_off_after(at_us)


def _silence_to_off_us(s: sim.Sim, rng: random.Random) -> int:
    s.run_ms(rng.randrange(0, 600))
    s.host.alive = False
    s.run_until(lambda: s.world.coil == 0, 5000)
    return s.coil_off_after(s.host.last_sent_us)


def run(results: list) -> None:
    rng = random.Random(13)
    worst_us = {"c_to_b": 0, "rcd": 0, "mirror": 0}
    for i in range(RUNS):
        for cause in worst_us:
            s = _charging(rng)
            if cause == "c_to_b" and i % 2:
                s.world.ev = "D"  # D -> B as well
                s.run_ms(100)
            took = _cause_to_off_us(s, rng, cause)
            assert took >= 0, "the coil never opened"
            worst_us[cause] = max(worst_us[cause], took)
    labels = {"c_to_b": "pilot C/D->B", "rcd": "RCD trip", "mirror": "mirror mismatch"}
    for cause, took_us in worst_us.items():
        value_ms = took_us / 1000
        results.append({
            "name": f"mcu {labels[cause]} -> coil off, worst of {RUNS} (sim ms)",
            "value": value_ms, "unit": "ms", "baseline": float(LIMIT_MS),
            "ratio": value_ms / LIMIT_MS,
        })
    silence_us = 0
    timeout_ms = 0
    for _ in range(SILENCE_RUNS):
        s = _charging(rng)
        timeout_ms = s.fw.controller.keepalive_timeout_ms
        took = _silence_to_off_us(s, rng)
        assert took >= 0, "the coil never opened"
        silence_us = max(silence_us, took)
    value_ms = silence_us / 1000
    results.append({
        "name": f"mcu host silent -> coil off, worst of {SILENCE_RUNS} (sim ms)",
        "value": value_ms, "unit": "ms", "baseline": float(timeout_ms),
        "ratio": value_ms / timeout_ms,
    })


if __name__ == "__main__":
    from bench import run_alone

    run_alone(run)
