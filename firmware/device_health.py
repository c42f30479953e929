"""What the owner of a device has seen of its failures: one record per device.

Drivers raise; whoever catches a device's error (the reader task for a card reader,
the connector's hardware tasks for its pilot, contactor, meter, lock and indicator)
records it here with its time, and records the recovery at the next success. The
console's ``hw`` shows the record, so a reader whose serial port vanished shows the
error, when it happened and that it is being retried — and, once it is back, when it
recovered. One mechanism for every device: a driver keeps no timing of its own, and a
device shared by several views (an OpenEVSE's pilot, contactor and meter on one link)
gets one record per view, each kept by the task that uses that view.

Times are the agent's wall clock (epoch s, the clock event timestamps use) so they
can be compared with the CSMS's record; the record never schedules anything on them.

The error text is the exception's message as the driver wrote it (drivers never put
card data or credentials in an exception message), made one line, with control
characters removed and at most ``MAX_ERROR_CHARS`` long.
"""

from __future__ import annotations

from typing import Callable, Literal

MAX_ERROR_CHARS = 200

State = Literal["ok", "retrying", "failed"]


def error_text(error: BaseException | str) -> str:
    """One bounded, printable line for ``error`` (its type name when it has no message)."""
    text = error if isinstance(error, str) else (str(error) or type(error).__name__)
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = " ".join(text.split()) or "unknown error"
    if len(text) > MAX_ERROR_CHARS:
        text = text[:MAX_ERROR_CHARS - 1] + "…"
    return text


class DeviceHealth:
    """The last error of one device, when it happened, and when the device recovered.

    - ``failed(error)``: the owner caught ``error``. ``retrying`` says whether the owner
      tries again by itself (a poll, a reconnect loop: state "retrying") or the failed
      operation waits for the next command (a lock that did not lock: state "failed").
      Returns True when it starts a failure episode (the device was ok), so the owner
      can log the first failure loudly and the retries quietly.
    - ``succeeded()``: the device did what was asked. Ends a failure episode (records
      ``recovered_at_s``) and returns True when there was one; otherwise does nothing.

    ``last_error``/``last_error_at_s`` are the latest failure and its time;
    ``failing_since_s`` is when the latest episode began; ``failures`` counts the
    failures of the current episode (0 when ok). The last error stays after a
    recovery: that is what a technician comes to see.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.last_error = ""
        self.last_error_at_s: float | None = None
        self.failing_since_s: float | None = None
        self.recovered_at_s: float | None = None
        self.failures = 0
        self._retrying = True

    @property
    def failing(self) -> bool:
        return self.failures > 0

    @property
    def state(self) -> State:
        if not self.failing:
            return "ok"
        return "retrying" if self._retrying else "failed"

    def failed(self, error: BaseException | str, *, retrying: bool = True) -> bool:
        now_s = self._clock()
        starts = not self.failing
        if starts:
            self.failing_since_s = now_s
        self.failures += 1
        self.last_error = error_text(error)
        self.last_error_at_s = now_s
        self._retrying = retrying
        return starts

    def succeeded(self) -> bool:
        if not self.failing:
            return False
        self.failures = 0
        self.recovered_at_s = self._clock()
        return True
