"""The agent's wall clock: system time corrected by OCPP clock sync (issue 8 items 2, 14).

Every event timestamp (``Runtime.dispatch``'s ``now``) is read from here. The CSMS's
``currentTime`` (BootNotification.conf, Heartbeat.conf) is applied by the link *at
receipt*, with the monotonic times the CALL was sent and its answer received:

- The CSMS stamped ``currentTime`` somewhere between our send and our receipt, so at
  receipt its clock read within ``[t, t + rtt + resolution]`` (``resolution`` is 1 s when
  the CSMS sends whole seconds). If our clock already reads inside that window nothing
  changes (no jitter from heartbeat to heartbeat); otherwise the target is the window's
  middle, ``t + (rtt + resolution) / 2`` (half the round trip).
- A forward correction steps at once: timestamps still never go backwards.
- A backward correction of at most ``SLEW_THRESHOLD_S`` is slewed: the clock runs at
  ``1 - SLEW_RATE`` of real time until it is absorbed (1 s takes 20 s), so event
  timestamps never step backwards.
- A larger backward correction steps, and is logged (a warning): slewing an hour
  would take 20 hours of wrong timestamps.

Forward or backward, a change of more than ``SLEW_THRESHOLD_S`` is a *step*: the clock
calls its step listeners (the runtime re-arms wall-clock timers on it). Timers and
retry waits never read this clock for their delays; they run on the monotonic clock.

The system clock itself (NTP) is followed as it is; only the CSMS offset is ours.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

log = logging.getLogger(__name__)

SLEW_THRESHOLD_S = 1.0
"""Backward corrections up to this are slewed; anything larger (either way) is a step."""

SLEW_RATE = 0.05
"""While slewing back, the clock loses this many seconds per second (50 ms/s)."""


class AgentClock:
    """Wall clock as the CSMS sees it: system time plus the offset from clock sync.

    ``source`` is the system wall clock (epoch s), ``monotonic`` a monotonic clock (s);
    both injectable for tests. ``now()`` never decreases across a slew.
    """

    def __init__(self, source: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic):
        self._source = source
        self._monotonic = monotonic
        self._base_offset_s = 0.0       # the offset when the current slew started
        self._slew_left_s = 0.0         # <= 0: the backward correction still to absorb
        self._slew_from_s = monotonic()  # monotonic start of the current slew
        self._step_listeners: list[Callable[[float], None]] = []
        self.steps = 0

    @property
    def offset_s(self) -> float:
        """The correction applied now (s): agent time minus system time."""
        return self._offset_at(self._monotonic())

    @property
    def slewing(self) -> bool:
        return self._offset_at(self._monotonic()) != self._base_offset_s + self._slew_left_s

    def now(self) -> float:
        return self._source() + self._offset_at(self._monotonic())

    def on_step(self, listener: Callable[[float], None]) -> None:
        """Call ``listener(step_s)`` after every step (a change of more than the threshold)."""
        self._step_listeners.append(listener)

    def sync(self, csms_time_s: float, sent_mono_s: float, received_mono_s: float,
             resolution_s: float = 0.0) -> float:
        """Apply a CSMS ``currentTime`` received in the answer to a CALL sent at
        ``sent_mono_s`` and answered at ``received_mono_s`` (monotonic s). Returns the
        step applied at once (s, 0.0 when nothing changed or the change is slewed)."""
        mono_s = self._monotonic()
        rtt_s = max(0.0, received_mono_s - sent_mono_s)
        since_receipt_s = max(0.0, mono_s - received_mono_s)
        earliest_s = csms_time_s + since_receipt_s
        latest_s = earliest_s + rtt_s + max(0.0, resolution_s)
        current_offset_s = self._offset_at(mono_s)
        ours_s = self._source() + current_offset_s
        if earliest_s <= ours_s <= latest_s:
            return 0.0
        correction_s = (earliest_s + latest_s) / 2 - ours_s
        # Settle the slew so far before starting anything new.
        self._base_offset_s, self._slew_left_s, self._slew_from_s = current_offset_s, 0.0, mono_s
        if -SLEW_THRESHOLD_S <= correction_s < 0:
            self._slew_left_s = correction_s
            log.debug("clock: slewing %.3f s back (CSMS round trip %.3f s)", correction_s, rtt_s)
            return 0.0
        self._base_offset_s = current_offset_s + correction_s
        if abs(correction_s) <= SLEW_THRESHOLD_S:
            log.debug("clock: %.3f s forward (CSMS round trip %.3f s)", correction_s, rtt_s)
            return correction_s
        self.steps += 1
        log.warning("clock: stepped %+.3f s to the CSMS's time (round trip %.3f s)",
                    correction_s, rtt_s)
        for listener in self._step_listeners:
            listener(correction_s)
        return correction_s

    def _offset_at(self, mono_s: float) -> float:
        if self._slew_left_s == 0.0:
            return self._base_offset_s
        absorbed_s = min(-self._slew_left_s, max(0.0, mono_s - self._slew_from_s) * SLEW_RATE)
        return self._base_offset_s - absorbed_s
