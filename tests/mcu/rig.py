"""A fake-clock bench for firmware/mcu/safety.py: an EV on the pilot, a contactor, a host.

The EV is a CP high level (mV) and a diode; the contactor's mirror follows the coil after
`contactor_delay_ms` unless it is welded or stuck open. `run(ms)` advances time in
`sample_period_ms` steps, feeding one pilot sample, one mirror reading and a tick per step.
"""

from __future__ import annotations

from firmware.mcu import pilot as cp
from firmware.mcu import protocol as p
from firmware.mcu.safety import SafetyController

LEVEL_MV = {"A": 12000, "B": 9000, "C": 6000, "D": 3000, "E": 0, "F": -12000}


class Rig:
    def __init__(self, sample_period_ms: int = 5, contactor_delay_ms: int = 20, **kw: int) -> None:
        self.now_ms = 0
        self.sample_period_ms = sample_period_ms
        self.contactor_delay_ms = contactor_delay_ms
        self.sm = SafetyController(now_ms=0, **kw)
        self.ev_mv = LEVEL_MV["A"]
        self.diode_ok = True
        self.welded = False
        self.stuck_open = False
        self._coil_changed_ms = 0
        self._coil = False
        self.mirror = False
        self.events: list[tuple[int, bytes]] = []
        self.host_alive = True
        self.opened_at_ms: list[int] = []
        self.sm.host_heard(0)

    # the EV side
    def ev(self, state: str) -> None:
        self.ev_mv = LEVEL_MV[state]

    def line_mv(self) -> tuple[int, int | None]:
        """What the ADC reads on the pilot given our output and the EV."""
        duty = self.sm.duty_permyriad
        if duty == cp.DUTY_STATE_F:
            return -12000, None
        low = None
        if duty < cp.DUTY_FULL:
            low = -12000 if self.diode_ok else -self.ev_mv
        return self.ev_mv, low

    # one step of the MCU's loop
    def step(self) -> None:
        self.now_ms += self.sample_period_ms
        now = self.now_ms
        if self.host_alive:
            self.sm.host_heard(now)
        high, low = self.line_mv()
        self.sm.pilot_sample(high, low, now)
        if self.sm.contactor != self._coil:
            self._coil = self.sm.contactor
            self._coil_changed_ms = now
            if not self._coil:
                self.opened_at_ms.append(now)
        settled = now - self._coil_changed_ms >= self.contactor_delay_ms
        if self.welded:
            self.mirror = True
        elif self.stuck_open:
            self.mirror = False
        elif settled:
            self.mirror = self._coil
        self.sm.mirror_reading(self.mirror, now)
        self.sm.tick(now)
        self.events.extend(self.sm.take_events())

    def run(self, ms: int) -> None:
        end = self.now_ms + ms
        while self.now_ms < end:
            self.step()

    def run_until(self, predicate, limit_ms: int) -> int:
        """Steps until predicate(); returns the elapsed ms. Fails after limit_ms."""
        start = self.now_ms
        while not predicate():
            assert self.now_ms - start <= limit_ms, "condition not reached in %d ms" % limit_ms
            self.step()
        return self.now_ms - start

    def charging(self, offer_da: int = 160) -> None:
        """Plug in, offer, allow, EV asks: ends with the contactor closed."""
        self.ev("B")
        self.run(100)
        assert self.sm.offer_current(offer_da, self.now_ms) == p.ACK_OK
        assert self.sm.allow_energy(self.now_ms) == p.ACK_OK
        self.ev("C")
        self.run(100)
        assert self.sm.contactor and self.mirror
