"""One report per presentation: a card held on (or repeated by) a reader counts once.

A presentation ends when the card has not been seen for ``debounce_s`` seconds. Every
sighting (a repeated frame, a successful poll) extends the presentation, so a card
left on the reader never produces a second token, and a different card is reported
at once. ``clock`` is injectable so tests control time instead of sleeping.
"""

from __future__ import annotations

import time
from typing import Callable


class CardDebouncer:
    def __init__(self, debounce_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if debounce_s < 0:
            raise ValueError("debounce_s must be >= 0")
        self.debounce_s = debounce_s
        self._clock = clock
        self._uid: bytes | None = None
        self._last_seen = 0.0

    def seen(self, uid: bytes) -> bool:
        """Record a sighting of ``uid``; True if it starts a new presentation."""
        now = self._clock()
        new = (uid != self._uid or now - self._last_seen > self.debounce_s)
        self._uid = uid
        self._last_seen = now
        return new

    def reset(self) -> None:
        self._uid = None
