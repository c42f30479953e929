"""The MCU's interlock: pilot, contactor, faults and host supervision (sans-I/O).

Runs unchanged on MicroPython and CPython (no typing, no dataclasses, integers only). The
caller feeds readings and host commands with the time in ms (monotonic, not wrapping), then
applies the outputs it reads back after every call:

- ``contactor``: True = energise the coil.
- ``duty_permyriad``: pilot PWM duty, 0..10000 (0 = state F, steady -12 V; 10000 = no
  energy offered, steady +12 V, pilot B1 with an EV connected).
- ``state_f``: the pilot is held at -12 V (then duty_permyriad is 0).
- ``take_events()``: (TYPE, payload) pairs of protocol messages for the host.

Rules it enforces by itself (hardware.md §3.3, IEC 61851-1:2017 Tables A.5/A.6):
- boots with the contactor open and no energy allowed;
- closes only when the host allowed energy, offers a current, the pilot is C or D, the
  last diode check (PWM low phase at -12 V, hardware.md §3.1) passed and no fault is
  latched (the host's permission is a permission, not an order, as on Yeti);
- opens in the same call that sees the cause: C/D -> any other state, a fault (diode check,
  E, F, mirror mismatch, RCD, pilot samples stopping), FORBID, host silence, and an offer of
  0 A when the EV has not left C within 6 s (seq. 10.2). The pilot debounce (debounce_ms)
  plus the sample period is the worst-case C->B reaction; with the defaults and a sample at
  least every 10 ms it is 30 ms, within the 100 ms of seq. 8.1;
- drives state F for at least 300 ms after any fault (Table A.5), and while the RCD, a
  mirror mismatch or a pilot-sample loss persists; a fault revokes the host's permission,
  so energy flows again only after the host allowed it anew;
- host silent for more than keepalive_timeout_ms: contactor open, offer and permission
  dropped (pilot B1), FAULT_HOST_SILENT until the host speaks again.

Time going backwards is ignored (the latest time seen is kept), so a clock glitch can
never extend a timer; a jump forward expires timers, which fails safe.
"""

from firmware.mcu import pilot as cp
from firmware.mcu import protocol as p

HARD_FAULTS = (
    p.FAULT_DIODE | p.FAULT_PILOT_E | p.FAULT_PILOT_F | p.FAULT_MIRROR | p.FAULT_RCD
    | p.FAULT_PILOT_LOST | p.FAULT_SELF_TEST
)
# Faults whose condition can still be seen while the pilot is held at -12 V; state F
# lasts as long as they do. E, F and the diode check can only be re-checked after F.
_SEEN_IN_F = p.FAULT_RCD | p.FAULT_MIRROR | p.FAULT_PILOT_LOST

SELF_TEST_MS = 30


class SafetyController:
    """One connector's pilot and contactor interlock. Every method takes now_ms."""

    def __init__(
        self, now_ms: int = 0, max_current_da: int = 320, debounce_ms: int = 20,
        keepalive_timeout_ms: int = 2000, state_f_min_ms: int = 300,
        mirror_settle_ms: int = 50, pilot_sample_timeout_ms: int = 50,
        no_pwm_force_off_ms: int = 6000, pp_present: bool = False,
    ) -> None:
        self.max_current_da = max_current_da
        self.keepalive_timeout_ms = keepalive_timeout_ms
        self.state_f_min_ms = state_f_min_ms
        self.mirror_settle_ms = mirror_settle_ms
        self.pilot_sample_timeout_ms = pilot_sample_timeout_ms
        self.no_pwm_force_off_ms = no_pwm_force_off_ms
        self.debounce_ms = debounce_ms
        self.pp_present = pp_present
        self._now = now_ms
        self._classifier = cp.PilotClassifier(debounce_ms, None)
        self._last_sample_ms = now_ms
        self._last_host_ms = -1  # never heard
        self._diode_bad_since = -1
        self._diode_bad = False
        self._diode_seen_ok = False  # a good diode check since boot, F or unplug
        self._mismatch_since = -1
        self._offer_zero_since = now_ms
        self._f_until = now_ms
        self._self_test_until = -1
        self._self_test_ok = True
        self._self_test_seen = False
        self._self_test_failed = False
        self._events = []
        self._reported_pilot = "F"
        self._reported_faults = -1
        self._reported_contactor = None
        # inputs
        self.mirror = False
        self.rcd_tripped = False
        self.cable_a = 0
        # host's wishes
        self.offer_da = 0
        self.energy_allowed = False
        # outputs and latched state
        self.contactor = False
        self.state_f = False
        self.faults = p.FAULT_HOST_SILENT
        self.duty_permyriad = cp.DUTY_FULL
        self._evaluate(now_ms)

    # ---- inputs -------------------------------------------------------------------------

    def pilot_sample(self, high_mv: int, low_mv, now_ms: int) -> None:
        """One CP reading: high phase in mV, low phase in mV (None when the PWM has no low
        phase, i.e. at 100 % duty or in state F)."""
        now = self._time(now_ms)
        self._last_sample_ms = now
        if self._self_test_until >= 0:
            self._self_test_seen = True
            if high_mv >= cp.BOUNDARY_EF_MV:
                self._self_test_ok = False
        elif not self.state_f:
            if self._classifier.sample(high_mv, now) and self._classifier.state == "A":
                self.energy_allowed = False  # unplugged: a new session needs a new permission
                self._diode_seen_ok = False  # and the next EV's diode is checked anew
            self._check_diode(low_mv, now)
        self._evaluate(now)

    def _check_diode(self, low_mv, now: int) -> None:
        oscillating = cp.DUTY_STATE_F < self.duty_permyriad < cp.DUTY_FULL
        if low_mv is None or not oscillating or self._classifier.state not in ("B", "C", "D"):
            return
        if low_mv <= cp.DIODE_LOW_MAX_MV:
            self._diode_bad_since = -1
            self._diode_seen_ok = True
            return
        self._diode_seen_ok = False
        if self._diode_bad_since < 0:
            self._diode_bad_since = now
        if now - self._diode_bad_since >= self.debounce_ms:
            self._diode_bad = True

    def mirror_reading(self, closed: bool, now_ms: int) -> None:
        now = self._time(now_ms)
        self.mirror = bool(closed)
        if self.mirror == self.contactor:
            self._mismatch_since = -1
        elif self._mismatch_since < 0:
            self._mismatch_since = now
        self._evaluate(now)

    def rcd_reading(self, tripped: bool, now_ms: int) -> None:
        now = self._time(now_ms)
        self.rcd_tripped = bool(tripped)
        self._evaluate(now)

    def pp_reading(self, pp_ohm: int, now_ms: int) -> None:
        """Proximity pilot resistance; limits the offer to the cable's rating (0 = no cable)."""
        now = self._time(now_ms)
        rating = cp.cable_rating_a(pp_ohm)
        self.cable_a = rating if rating > 0 else 0
        self._evaluate(now)

    def tick(self, now_ms: int) -> None:
        """Advance timers (keep-alive, state F, mirror settle, sample loss)."""
        self._evaluate(self._time(now_ms))

    # ---- host commands (each returns an ACK status) -------------------------------------

    def host_heard(self, now_ms: int) -> None:
        """Any valid frame from the host: it is alive (keep-alive)."""
        now = self._time(now_ms)
        self._last_host_ms = now
        self._evaluate(now)

    def offer_current(self, offer_da: int, now_ms: int) -> int:
        """Offer `offer_da` deciamps (0 = none). 1..59 and > 800 are refused, unchanged."""
        now = self._time(now_ms)
        if offer_da != 0 and not cp.MIN_OFFER_DA <= offer_da <= cp.MAX_OFFER_DA:
            return p.ACK_REFUSED
        if offer_da == 0 and self.offer_da != 0:
            self._offer_zero_since = now
        self.offer_da = offer_da
        self._evaluate(now)
        return p.ACK_OK

    def allow_energy(self, now_ms: int) -> int:
        """Permission to close when the EV asks; refused while a fault is latched."""
        now = self._time(now_ms)
        self._evaluate(now)
        if self.faults & HARD_FAULTS or self.state_f:
            return p.ACK_REFUSED
        self.energy_allowed = True
        self._evaluate(now)
        return p.ACK_OK

    def forbid_energy(self, now_ms: int) -> int:
        now = self._time(now_ms)
        self.energy_allowed = False
        self._evaluate(now)
        return p.ACK_OK

    def self_test(self, now_ms: int) -> int:
        """Hold the pilot at -12 V for SELF_TEST_MS and check that the ADC reads state F
        (proves the PWM output stage and the ADC path). Refused while the contactor is closed.
        Emits MSG_SELF_TEST when done; a failure latches FAULT_SELF_TEST until a test passes."""
        now = self._time(now_ms)
        if self.contactor or self._self_test_until >= 0:
            return p.ACK_REFUSED
        self._self_test_until = now + SELF_TEST_MS
        self._self_test_ok = True
        self._self_test_seen = False
        self.state_f = True
        self._evaluate(now)
        return p.ACK_OK

    # ---- outputs ------------------------------------------------------------------------

    @property
    def pilot(self) -> str:
        """The CP state letter as reported (F while held at -12 V or not yet classified)."""
        state = self._classifier.state
        if self.state_f or state is None:
            return "F"
        return state

    def effective_offer_da(self) -> int:
        offer = self.offer_da
        if offer > self.max_current_da:
            offer = self.max_current_da
        if self.pp_present:
            cable_da = self.cable_a * 10
            if offer > cable_da:
                offer = cable_da
        if 0 < offer < cp.MIN_OFFER_DA:
            offer = 0
        return offer

    def take_events(self) -> list:
        events = self._events
        self._events = []
        return events

    def state_payload(self, uptime_s: int) -> bytes:
        return p.encode_state(
            self.pilot, self.contactor, self.mirror, self.energy_allowed, self.faults,
            self.effective_offer_da(), self.cable_a, uptime_s,
        )

    # ---- the rules ----------------------------------------------------------------------

    def _time(self, now_ms: int) -> int:
        if now_ms > self._now:
            self._now = now_ms
        return self._now

    def _present_faults(self, now: int) -> int:
        bits = 0
        if self.rcd_tripped:
            bits |= p.FAULT_RCD
        if self._mismatch_since >= 0 and now - self._mismatch_since >= self.mirror_settle_ms:
            bits |= p.FAULT_MIRROR
        if now - self._last_sample_ms > self.pilot_sample_timeout_ms:
            bits |= p.FAULT_PILOT_LOST
        if self._self_test_failed:
            bits |= p.FAULT_SELF_TEST
        if not self.state_f:
            if self._diode_bad:
                bits |= p.FAULT_DIODE
            if self._classifier.state == "E":
                bits |= p.FAULT_PILOT_E
            elif self._classifier.state == "F":
                bits |= p.FAULT_PILOT_F
        return bits

    def _evaluate(self, now: int) -> None:
        # host supervision
        if self._last_host_ms < 0 or now - self._last_host_ms > self.keepalive_timeout_ms:
            if not self.faults & p.FAULT_HOST_SILENT:
                self.faults |= p.FAULT_HOST_SILENT
            self.energy_allowed = False
            if self.offer_da:
                self.offer_da = 0
                self._offer_zero_since = now
        else:
            self.faults &= ~p.FAULT_HOST_SILENT

        # self-test end
        if self._self_test_until >= 0 and now >= self._self_test_until:
            passed = self._self_test_ok and self._self_test_seen
            self._self_test_until = -1
            self._self_test_failed = not passed
            if passed:
                self.faults &= ~p.FAULT_SELF_TEST
            self._events.append(
                (p.MSG_SELF_TEST, bytes([1 if passed else 0]) + p.encode_u16(self.faults))
            )

        # faults: a new one opens, revokes, and starts (or restarts) >= 300 ms of state F
        present = self._present_faults(now)
        new = present & ~self.faults
        if new:
            self.faults |= new
            self.energy_allowed = False
            self.state_f = True
            self._f_until = now + self.state_f_min_ms
        if (
            self.state_f and now >= self._f_until and self._self_test_until < 0
            and not present & _SEEN_IN_F
        ):
            # leave F: what can only be seen outside F is re-checked from fresh samples
            self.state_f = False
            self.faults &= ~HARD_FAULTS | (present & p.FAULT_SELF_TEST)
            self._classifier.reset(None)
            self._diode_bad = False
            self._diode_bad_since = -1
            self._diode_seen_ok = False

        # contactor
        offer = self.effective_offer_da()
        close = (
            self.energy_allowed and not self.faults and not self.state_f
            and self._classifier.state in ("C", "D") and self._diode_seen_ok
            and (offer > 0 or (self.contactor
                               and now - self._offer_zero_since < self.no_pwm_force_off_ms))
        )
        if close != self.contactor:
            self.contactor = close
            self._mismatch_since = now if self.mirror != close else -1

        # pilot output
        if self.state_f:
            self.duty_permyriad = cp.DUTY_STATE_F
        else:
            self.duty_permyriad = cp.duty_for(offer)

        # events for the host
        letter = self.pilot
        if letter != self._reported_pilot:
            self._reported_pilot = letter
            self._events.append((p.MSG_PILOT_CHANGED, bytes([ord(letter)])))
        contactor = (self.contactor, self.mirror)
        if contactor != self._reported_contactor:
            self._reported_contactor = contactor
            self._events.append(
                (p.MSG_CONTACTOR_CHANGED, bytes([int(self.contactor), int(self.mirror)]))
            )
        if self.faults != self._reported_faults:
            self._reported_faults = self.faults
            self._events.append((p.MSG_FAULT, p.encode_u16(self.faults)))
