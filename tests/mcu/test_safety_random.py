"""Seeded, shrinking random sequences against the MCU interlock (firmware/mcu/safety.py).

Random pilot levels with noise and glitches, diode faults, mirror welds and stuck contacts,
RCD trips, host commands (valid and not), host silence and clock jumps. After every single
call the interlock invariant is checked against this file's own bookkeeping:

- closed only if: the host's last permission command was an accepted ALLOW, the host spoke
  within 2 s, the RCD input is not tripped, pilot C/D, no fault, not in F (#13, hardware.md
  §3.5);
- closed never 100 ms or more after the start of a run of samples that are certainly not
  C/D, of a mirror mismatch, or of failed diode checks (hardware.md §3.3, seq. 8.1);
- state F (duty 0) for 300 ms after every new fault (IEC 61851-1:2017 Table A.5);
- closed with no offer only within 6 s of the offer going to 0 (seq. 10.2);
- the duty is the §3.2 duty of the effective offer whenever not in F.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from firmware.mcu import pilot as cp
from firmware.mcu import protocol as p
from firmware.mcu.safety import HARD_FAULTS, SafetyController

LEVELS = [12000, 9000, 6000, 3000, 0, -12000]
NOT_CD_LOW_MV = cp.BOUNDARY_DE_MV - cp.HYSTERESIS_MV  # below: certainly not C/D
NOT_CD_HIGH_MV = cp.BOUNDARY_BC_MV + cp.HYSTERESIS_MV  # at or above: certainly not C/D
LIMIT_MS = 100

step = st.one_of(
    st.tuples(st.just("ev"), st.sampled_from(LEVELS), st.integers(0, 1500)),
    st.tuples(st.just("run"), st.integers(1, 40), st.integers(1, 10)),
    st.tuples(st.just("run"), st.integers(1, 250), st.integers(1, 10)),
    st.tuples(st.just("run"), st.integers(200, 700), st.just(10)),  # past the 2 s / 6 s timers
    st.tuples(st.just("glitch"), st.integers(-13000, 13000)),
    st.tuples(st.just("diode"), st.booleans()),
    st.tuples(st.just("mirror"), st.sampled_from(["follow", "follow", "welded", "stuck"])),
    st.tuples(st.just("rcd"), st.booleans()),
    st.tuples(st.just("offer"), st.sampled_from([0, 1, 59, 60, 160, 320, 510, 520, 800, 801])),
    st.tuples(st.just("allow")),
    st.tuples(st.just("allow")),
    st.tuples(st.just("forbid")),
    st.tuples(st.just("selftest")),
    st.tuples(st.just("host"), st.booleans()),
    st.tuples(st.just("jump"), st.integers(0, 3000)),
    st.tuples(st.just("back"), st.integers(1, 5000)),
    st.tuples(st.just("recharge")),  # back to a session: most rules are about closed states
    st.tuples(st.just("recharge")),
)


class World:
    def __init__(self) -> None:
        self.now = 0
        self.sm = SafetyController(now_ms=0)
        self.ev_mv, self.noise_mv = 12000, 0
        self.diode_ok = True
        self.mirror_mode = "follow"
        self.mirror = False
        self.coil = False
        self.coil_changed = 0
        self.rcd = False
        self.host_alive = True
        self.last_host = -10**9
        self.permission = False
        self.offer_zero_since = 0
        self.out_since = -1
        self.diode_bad_since = -1
        self.mismatch_since = -1
        self.f_until = -1
        self.faults = self.sm.faults
        assert not self.sm.contactor  # boots open (#13)

    # the plant
    def sample(self, high: int, now: int) -> None:
        duty = self.sm.duty_permyriad
        low = None
        if cp.DUTY_STATE_F < duty < cp.DUTY_FULL:
            low = -12000 if self.diode_ok else -6000
            bad = not self.diode_ok and NOT_CD_LOW_MV <= high < NOT_CD_HIGH_MV
            if bad and self.diode_bad_since < 0:
                self.diode_bad_since = self.now
            elif not bad:
                self.diode_bad_since = -1
        if duty == cp.DUTY_STATE_F:
            high = -12000
        certainly_not_cd = high < NOT_CD_LOW_MV or high >= NOT_CD_HIGH_MV
        if duty == cp.DUTY_STATE_F:
            pass  # the EV's state is not visible while we drive F; the SM is open anyway
        elif certainly_not_cd:
            if self.out_since < 0:
                self.out_since = self.now
        else:
            self.out_since = -1
        self.call("pilot_sample", high, low, now)

    def follow_mirror(self) -> None:
        if self.mirror_mode == "welded":
            self.mirror = True
        elif self.mirror_mode == "stuck":
            self.mirror = False
        elif self.now - self.coil_changed >= 15:
            self.mirror = self.coil
        self.call("mirror_reading", self.mirror, self.now)

    def heard(self) -> None:
        if self.host_alive:
            self.last_host = self.now
            self.call("host_heard", self.now)

    def call(self, name: str, *args: object) -> object:
        result = getattr(self.sm, name)(*args)
        self.check(name)
        return result

    # the invariant, after every call
    def check(self, name: str) -> None:
        sm, now = self.sm, self.now
        if sm.contactor != self.coil:
            self.coil = sm.contactor
            self.coil_changed = now
        mismatch = sm.contactor and not self.mirror
        if mismatch and self.mismatch_since < 0:
            self.mismatch_since = now
        elif not mismatch:
            self.mismatch_since = -1
        for kind, payload in sm.take_events():
            if kind == p.MSG_FAULT:
                bits = p.decode_u16(payload)
                if bits & HARD_FAULTS & ~self.faults:
                    self.f_until = now + 300
                self.faults = bits
        if now < self.f_until:
            assert sm.state_f and sm.duty_permyriad == cp.DUTY_STATE_F, name
        if not sm.state_f:
            assert sm.duty_permyriad == cp.duty_for(sm.effective_offer_da()), name
        if not sm.contactor:
            return
        assert self.permission and now - self.last_host <= 2000, name
        assert not self.rcd and sm.pilot in "CD" and not sm.faults and not sm.state_f, name
        for since in (self.out_since, self.mismatch_since, self.diode_bad_since):
            assert since < 0 or now - since < LIMIT_MS, (name, since, now)
        assert sm.effective_offer_da() > 0 or now - self.offer_zero_since < 6000, name

    def run(self, op: tuple) -> None:
        kind = op[0]
        if kind == "ev":
            self.ev_mv, self.noise_mv = op[1], op[2]
        elif kind == "run":
            for i in range(op[1]):
                self.now += op[2]
                self.heard()
                noise = ((i * 7919) % (2 * self.noise_mv + 1)) - self.noise_mv
                self.sample(self.ev_mv + noise, self.now)
                self.follow_mirror()
                self.call("tick", self.now)
        elif kind == "glitch":
            self.now += 1
            self.sample(op[1], self.now)
        elif kind == "diode":
            self.diode_ok = op[1]
        elif kind == "mirror":
            self.mirror_mode = op[1]
        elif kind == "rcd":
            self.rcd = op[1]
            self.call("rcd_reading", op[1], self.now)
        elif kind == "offer":
            self.heard()
            before = self.sm.effective_offer_da()
            if self.call("offer_current", op[1], self.now) == p.ACK_OK:
                if before and not self.sm.effective_offer_da():
                    self.offer_zero_since = self.now
        elif kind == "allow":
            self.heard()
            before, self.permission = self.permission, True  # the call may close at once
            if self.call("allow_energy", self.now) != p.ACK_OK:
                self.permission = before
                self.check("allow_energy refused")
        elif kind == "forbid":
            self.heard()
            self.call("forbid_energy", self.now)
            self.permission = False
        elif kind == "selftest":
            self.heard()
            self.call("self_test", self.now)
        elif kind == "host":
            self.host_alive = op[1]
        elif kind == "jump":
            self.now += op[1]
            self.call("tick", self.now)
        elif kind == "recharge":
            self.host_alive = True
            for sub in CHARGING:
                self.run(sub)
        elif kind == "back":
            self.sample(self.ev_mv, self.now - op[1])  # a clock glitch on one sample


CHARGING = [("offer", 160), ("allow",), ("ev", 6000, 300), ("run", 30, 5)]
# Most sequences start from a charging session, so that the rules about opening are exercised
# (from an open contactor, most random steps can only keep it open).
start = st.sampled_from([[], CHARGING, CHARGING, CHARGING])


@seed(61851)
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start, st.lists(step, min_size=1, max_size=40))
def test_random_sequences_never_break_the_interlock(prefix: list, ops: list) -> None:
    world = World()
    for op in prefix + ops:
        world.run(op)


def test_a_charging_session_is_reachable_by_the_generator_steps() -> None:
    """Guards the random test against checking only an always-open contactor."""
    world = World()
    for op in CHARGING:
        world.run(op)
    assert world.sm.contactor
