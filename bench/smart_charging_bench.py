"""Smart charging (issue 10): GetCompositeSchedule for 8 profiles × 24 periods over 7 days,
p99, against a straight reference computation; and a period boundary → the controller's
new offer on the wire, p99, against the bare offer.

``run(results)`` appends {"name", "value", "unit", "baseline", "ratio"} dicts;
``python -m bench.smart_charging_bench`` prints them.

Method:
- Composite: eight installed A profiles of all three purposes (station maximum Absolute and
  Recurring Daily, TxDefault Recurring Weekly, Recurring Daily with a duration and Absolute
  with validFrom/validTo, TxProfiles Relative from the transaction start), 24 periods each,
  seeded random limits 6..32 A on whole minutes. Figure: the core's
  ``composite_schedule`` for 7 days from the request (what GetCompositeSchedule runs), p99
  over the repetitions. Baseline: a straight computation written here, independent of the
  core: the limit evaluated minute by minute over the 7 days (10,080 instants; every
  boundary is on a whole minute, so it is exact), each instant by the rules in their
  plainest form (per purpose the highest valid stack level with a period, Tx over
  TxDefault, the minimum over purposes and the hardware). The two results are compared:
  the figure ``composite disagreements`` must be 0.
- Boundary → offer: the production driver of an OpenEVSE controller (``openevse`` pilot
  over RAPI on a real pseudo-terminal, the fake controller of the driver tests on the
  other side) behind the core's Station with a running transaction and a TxDefault
  stepping between 16 and 10 A every minute. A sample: t0 = the boundary's timer event
  handed to the Station; t1 = the controller has read the ``$SC`` command. Baseline: the
  same driver's bare ``offer()`` to the same controller (t0 = the call). Both in one
  event loop, so the clocks agree.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from firmware.core import effects as fx  # noqa: E402
from firmware.core import events as ev  # noqa: E402
from firmware.core import smart_charging as sc  # noqa: E402
from firmware.core.smart_charging_flow import SMART_CHARGING_TIMER  # noqa: E402

DAY_S = 86_400
WEEK_S = 7 * DAY_S
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, a Thursday
ELECTRICAL = sc.Electrical(230.0, 32.0, 3)
REPEATS = 60
OFFERS = 200


def _periods(rng: random.Random, step_s: int) -> tuple[sc.SchedulePeriod, ...]:
    return tuple(sc.SchedulePeriod(i * step_s, float(rng.randrange(6, 33)))
                 for i in range(24))


def profiles(seed: int = 10) -> tuple[list[sc.ChargingProfile], float]:
    """Eight profiles × 24 periods and the transaction's start (s)."""
    rng = random.Random(seed)
    tx_start = T0 + 1800
    return [
        sc.ChargingProfile(1, 0, sc.STATION_MAX, sc.ABSOLUTE, "A", _periods(rng, 3600),
                           start_schedule_s=T0),
        sc.ChargingProfile(2, 1, sc.STATION_MAX, sc.RECURRING, "A", _periods(rng, 1800),
                           recurrency="Daily", start_schedule_s=T0 + 6 * 3600,
                           duration_s=12 * 3600),
        sc.ChargingProfile(3, 0, sc.TX_DEFAULT, sc.RECURRING, "A", _periods(rng, 7 * 3600),
                           connector_id=1, recurrency="Weekly", start_schedule_s=T0),
        sc.ChargingProfile(4, 1, sc.TX_DEFAULT, sc.RECURRING, "A", _periods(rng, 1200),
                           connector_id=1, recurrency="Daily", start_schedule_s=T0 + 3600,
                           duration_s=6 * 3600),
        sc.ChargingProfile(5, 2, sc.TX_DEFAULT, sc.ABSOLUTE, "A", _periods(rng, 2 * 3600),
                           connector_id=1, start_schedule_s=T0 + DAY_S,
                           valid_from_s=T0 + DAY_S, valid_to_s=T0 + 4 * DAY_S),
        sc.ChargingProfile(6, 0, sc.TX, sc.RELATIVE, "A", _periods(rng, 900),
                           connector_id=1, transaction_id=1, duration_s=6 * 3600),
        sc.ChargingProfile(7, 1, sc.TX, sc.RELATIVE, "A", _periods(rng, 300),
                           connector_id=1, transaction_id=1, duration_s=2 * 3600),
        sc.ChargingProfile(8, 2, sc.TX, sc.ABSOLUTE, "A", _periods(rng, 600),
                           connector_id=1, transaction_id=1, start_schedule_s=T0 + 2 * DAY_S,
                           duration_s=4 * 3600),
    ], tx_start


# ------------------------------------------------------------------ the straight reference
def _limit_of(p: sc.ChargingProfile, t: float, tx_start: float) -> float | None:
    if p.valid_from_s is not None and t < p.valid_from_s:
        return None
    if p.valid_to_s is not None and t >= p.valid_to_s:
        return None
    if p.kind == sc.RELATIVE:
        start = tx_start
    elif p.kind == sc.ABSOLUTE:
        start = p.start_schedule_s or 0.0
    else:
        every = WEEK_S if p.recurrency == "Weekly" else DAY_S
        first = p.start_schedule_s or 0.0
        if t < first:
            return None
        start = first + ((t - first) // every) * every
    offset = t - start
    length = p.duration_s
    if p.kind == sc.RECURRING:
        every = WEEK_S if p.recurrency == "Weekly" else DAY_S
        length = every if length is None else min(length, every)
    if offset < 0 or (length is not None and offset >= length):
        return None
    limit = None
    for period in p.periods:
        if period.start_period_s <= offset:
            limit = period.limit
    return limit


def _prevailing(group: list[sc.ChargingProfile], t: float, tx_start: float) -> float | None:
    for p in sorted(group, key=lambda p: -p.stack_level):
        limit = _limit_of(p, t, tx_start)
        if limit is not None:
            return limit
    return None


def reference(all_profiles: list[sc.ChargingProfile], request_s: float, duration_s: int,
              tx_start: float) -> list[tuple[int, float]]:
    station = [p for p in all_profiles if p.purpose == sc.STATION_MAX]
    tx = [p for p in all_profiles if p.purpose == sc.TX]
    default = [p for p in all_profiles if p.purpose == sc.TX_DEFAULT]
    out: list[tuple[int, float]] = []
    for minute in range(duration_s // 60):
        t = request_s + minute * 60
        limits = [ELECTRICAL.max_current_a]
        for limit in (_prevailing(station, t, tx_start),
                      _prevailing(tx, t, tx_start) or _prevailing(default, t, tx_start)):
            if limit is not None:
                limits.append(limit)
        value = min(limits)
        if not out or out[-1][1] != value:
            out.append((minute * 60, value))
    return out


def _p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def composite_figures(results: list[dict]) -> None:
    installed, tx_start = profiles()
    request_s = T0 + 900
    core_s: list[float] = []
    reference_s: list[float] = []
    core = ref = None
    for _ in range(REPEATS):
        started = time.perf_counter()
        core = sc.composite_schedule(installed, request_s, WEEK_S, "A", ELECTRICAL,
                                     tx_start_s=tx_start)
        core_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        ref = reference(installed, request_s, WEEK_S, tx_start)
        reference_s.append(time.perf_counter() - started)
    assert core is not None and ref is not None
    core_pairs = [(p.start_period_s, p.limit) for p in core]
    disagreements = len(set(core_pairs) ^ set(ref))
    value, baseline = _p99(core_s) * 1000, _p99(reference_s) * 1000
    results.append({"name": "composite 8x24 over 7 days p99", "value": value, "unit": "ms",
                    "baseline": baseline, "ratio": value / baseline})
    results.append({"name": "composite disagreements with the reference",
                    "value": float(disagreements), "unit": "periods",
                    "baseline": float(len(ref)), "ratio": None})


# ------------------------------------------------------------------ boundary → offer
async def _offer_figures(results: list[dict]) -> None:
    from drivers.pilot.openevse import PILOT_SPEC
    from drivers.registry import BuildContext
    from hal.options import validate_table
    from tests.core.harness import Harness
    from tests.drivers.openevse_peer import FakeOpenEvse
    from tests.drivers.ptys import PtyPeer

    peer = PtyPeer()
    arrived = asyncio.Event()

    class Controller(FakeOpenEvse):
        def handle(self, msg) -> None:  # type: ignore[no-untyped-def]
            super().handle(msg)
            if self.commands and self.commands[-1][0] == "SC":
                arrived.set()

    fake = Controller(peer)
    values, problems = validate_table({"port": peer.path}, PILOT_SPEC.options,
                                      "connector[1].pilot")
    assert not problems, problems
    pilot = PILOT_SPEC.build(BuildContext(name="bench pilot", connector_id=1, shared={}),
                             values)
    async with asyncio.TaskGroup() as tasks:
        controller = tasks.create_task(fake.run())
        try:
            await pilot.open()
            # A board that allows schedules of OFFERS + 2 periods (read-only, 1..1000).
            h = Harness(config={"ChargingScheduleMaxPeriods": str(OFFERS + 2)})
            h.boot()
            h.start_session()
            step = sc.ChargingProfile(
                9, 0, sc.TX_DEFAULT, sc.RELATIVE, "A",
                tuple(sc.SchedulePeriod(i * 60, 16.0 if i % 2 == 0 else 10.0)
                      for i in range(OFFERS + 2)))
            installed = h.reply(h.handle(ev.ChargingProfileInstallRequested(
                ("bench", "1"), profile=step)))
            assert installed["status"] == "Accepted", installed
            start_s = h.station.connectors[1].tx.record.started_at_s
            through_core: list[float] = []
            bare: list[float] = []
            for i in range(1, OFFERS + 1):
                h.now = start_s + i * 60
                arrived.clear()
                started = time.perf_counter()
                out = h.handle(ev.TimerFired(SMART_CHARGING_TIMER))
                offers = [e for e in out if isinstance(e, fx.OfferEnergy)]
                assert offers, "the boundary changed no offer"
                await pilot.offer(offers[-1].max_current_a)
                await arrived.wait()
                through_core.append(time.perf_counter() - started)
                arrived.clear()
                started = time.perf_counter()
                await pilot.offer(offers[-1].max_current_a)
                await arrived.wait()
                bare.append(time.perf_counter() - started)
        finally:
            await pilot.close()
            controller.cancel()
    value, baseline = _p99(through_core) * 1000, _p99(bare) * 1000
    results.append({"name": "period boundary -> controller $SC p99", "value": value,
                    "unit": "ms", "baseline": baseline, "ratio": value / baseline})


def run(results: list[dict]) -> None:
    composite_figures(results)
    asyncio.run(_offer_figures(results))


if __name__ == "__main__":
    from bench import print_table

    figures: list[dict] = []
    run(figures)
    print_table(figures)
