"""InvalidMessages security events for malformed frames from the CSMS (whitepaper §8
list; not critical), coalesced so that a flood can neither fill the security log nor
the link: the first malformed frame is reported at once, later ones within
``WINDOW_S`` are counted and reported with the next malformed frame after the window
("N malformed frames in the last ... s, last: why"). At most one event per window,
whatever the CSMS sends. The reason text comes from the codec and never holds the
frame itself (no echo of what the CSMS sent).
"""

from __future__ import annotations

import time
from typing import Callable

from firmware.core import events as ev

WINDOW_S = 60.0


class InvalidMessageReporter:
    def __init__(self, dispatch: Callable[[ev.Event], object],
                 monotonic: Callable[[], float] = time.monotonic,
                 window_s: float = WINDOW_S) -> None:
        self._dispatch = dispatch
        self._monotonic = monotonic
        self._window_s = window_s
        self._last_report_s: float | None = None
        self._unreported = 0

    def saw(self, why: str) -> None:
        """One malformed frame; ``why`` is the codec's reason."""
        now = self._monotonic()
        self._unreported += 1
        if self._last_report_s is not None and now - self._last_report_s < self._window_s:
            return
        count, self._unreported = self._unreported, 0
        self._last_report_s = now
        info = (f"malformed frame from the CSMS: {why}" if count == 1 else
                f"{count} malformed frames from the CSMS since the last report, last: {why}")
        self._dispatch(ev.SecurityEventOccurred("InvalidMessages", info[:255]))
