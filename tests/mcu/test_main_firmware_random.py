"""Seeded random runs of firmware/mcu/main.py on the simulated Pico: random EV states,
RCD trips, shorted diodes, host ALLOW/FORBID/OFFER and host silence, each landing at a
random microsecond; while the host wants energy it re-sends ALLOW every 250 ms (as the
host driver re-applies its wishes). After every turn: the coil is on only while no cause to open has
lasted longer than its limit (100 ms for C/D left, RCD, FORBID and the diode check,
IEC 61851-1 seq. 8.1 / hardware.md §3.3; the keep-alive timeout for host silence), and
never without an ALLOW since the last FORBID."""

from __future__ import annotations

import random

import pytest

from firmware.mcu import protocol as p
from tests.mcu.micropython import sim

LIMIT_US = 100_000
SILENCE_SLACK_US = 10_000  # two loop turns past the keep-alive timeout


def _run(seed: int, sim_ms: int) -> int:
    rng = random.Random(seed)
    s = sim.Sim(seed=seed + 1, noise_mv=rng.randrange(0, 21))
    w, host = s.world, s.host
    bad_since = {"ev": 0, "rcd": -1, "forbid": 0, "diode": -1}
    closes = 0
    was_on = False
    silent_until_us = -1
    next_action_us = 0
    wants = False
    next_allow_us = 0
    end_us = sim_ms * 1000

    def rcd_reset() -> None:
        w.rcd_tripped = False
        bad_since["rcd"] = -1

    def diode_fixed() -> None:
        w.diode_ok = True
        bad_since["diode"] = -1

    while w.us < end_us:
        if w.us >= next_action_us:
            next_action_us = w.us + rng.randrange(20_000, 400_000)
            action = rng.choice(["ev", "ev", "ev", "allow", "allow", "allow", "offer",
                                 "forbid", "rcd", "diode", "silence"])
            at_us = w.us + rng.randrange(0, 5000)

            def act(action: str = action) -> None:
                if action == "ev":
                    w.ev = rng.choice("ABBCCCCCDE")
                    bad = w.ev not in ("C", "D")
                elif action == "rcd":
                    w.rcd_tripped = True
                    bad = True
                    w.at(w.us + rng.randrange(10_000, 600_000), rcd_reset)
                else:
                    w.diode_ok = False
                    bad = True
                    w.at(w.us + rng.randrange(10_000, 600_000), diode_fixed)
                # the exact simulated microsecond of the cause, mid-turn or not
                if not bad:
                    bad_since[action] = -1
                elif bad_since[action] < 0:
                    bad_since[action] = w.us

            if action in ("ev", "rcd", "diode"):
                w.at(at_us, act)
            elif host.alive and action == "allow":
                wants = True  # like the host driver, it re-sends ALLOW while it wants energy
                host.send(p.CMD_OFFER_CURRENT, p.encode_u16(rng.randrange(60, 321)))
            elif host.alive and action == "offer":
                host.send(p.CMD_OFFER_CURRENT, p.encode_u16(rng.choice([0, 60, 160, 320])))
            elif host.alive and action == "forbid":
                wants = False
                host.send(p.CMD_FORBID_ENERGY)
            elif action == "silence" and host.alive and rng.random() < 0.4:
                host.alive = False
                silent_until_us = w.us + rng.randrange(1_000_000, 3_000_000)
        if not host.alive and w.us >= silent_until_us:
            host.alive = True
        if wants and host.alive and w.us >= next_allow_us:
            next_allow_us = w.us + 250_000
            host.send(p.CMD_ALLOW_ENERGY)
        s.turn()
        now = w.us
        if host.frames_sent_last_kind() == p.CMD_FORBID_ENERGY:
            if bad_since["forbid"] < 0:
                bad_since["forbid"] = host.last_sent_us
        elif host.frames_sent_last_kind() == p.CMD_ALLOW_ENERGY:
            bad_since["forbid"] = -1
        if w.coil:
            for name, since in bad_since.items():
                assert since < 0 or now - since <= LIMIT_US, (
                    "seed %d: coil on %d us after %s" % (seed, now - since, name))
            timeout_us = s.fw.controller.keepalive_timeout_ms * 1000
            assert now - host.last_sent_us <= timeout_us + SILENCE_SLACK_US, (
                "seed %d: coil on %d us after the host fell silent" % (seed, now - host.last_sent_us))
            if not was_on:
                closes += 1
        was_on = w.coil == 1
    return closes


@pytest.mark.parametrize("seed", range(10))
def test_random_causes_never_leave_the_coil_on_past_their_limit(seed):
    _run(seed, 8000)


def test_random_runs_do_close_the_contactor():
    """The invariant above is not vacuous: these runs charge."""
    assert sum(_run(seed, 8000) for seed in range(10)) >= 20
