"""Registration, heartbeat and link state ([16] §4.2, §4.6; [E16] 3.22), as one part.

- A registration (``SendRegistration``) at every start and whenever the CSMS has not yet
  accepted us; while Pending or Rejected the next one waits for the interval the CSMS
  gave (or a default when it gave 0) — no earlier retry, no flooding.
- Nothing but the registration is sent before Accepted (the runtime's link enforces the
  same gate for queued transaction messages).
- On Accepted: the heartbeat interval from the answer, a status report for the station
  and every connector.
- After a reconnect (already Accepted in this process's life) no new registration:
  only the statuses that changed while offline are reported.
"""

from __future__ import annotations

from typing import Callable

from . import effects as fx
from . import events as ev
from .configuration import Configuration
from .timers import KeepAlive, RegistrationRetry

BOOT_TIMER = RegistrationRetry()
HEARTBEAT_TIMER = KeepAlive()

DEFAULT_BOOT_RETRY_S = 60  # when the CSMS answers Pending/Rejected with interval 0
BOOT_FAILURE_RETRY_S = 30  # when the registration got an error or no answer

Reports = Callable[[float], list[fx.Effect]]


class Registration:
    """The station's standing with the CSMS.

    ``config``: the station's configuration (HeartbeatInterval is read and, from an
    Accepted answer, changed); ``report_all(now)``: a status report of the station and
    every connector; ``report_changed(now)``: of what changed since the last report.
    State: ``connected`` (the link is up), ``boot_state`` (None, Pending, Accepted,
    Rejected), ``retry_pending`` (a Pending/Rejected/failed registration waits for its
    timer). Every method returns the effects of one event."""

    def __init__(self, config: Configuration, report_all: Reports,
                 report_changed: Reports) -> None:
        self._config = config
        self._report_all = report_all
        self._report_changed = report_changed
        self.connected = False
        self.boot_state = "None"
        self.retry_pending = False

    @property
    def online(self) -> bool:
        """Connected and registered: only then does the CSMS decide authorizations."""
        return self.connected and self.boot_state == "Accepted"

    def link_connected(self, now: float) -> list[fx.Effect]:
        self.connected = True
        if self.boot_state == "Accepted":
            # Reconnected: report what changed while we were away, nothing more.
            return self._report_changed(now)
        if self.retry_pending:
            return []  # Pending/Rejected interval still running: wait for it.
        return [fx.SendRegistration()]

    def link_disconnected(self) -> None:
        self.connected = False

    def answered(self, event: ev.RegistrationAnswered, now: float) -> list[fx.Effect]:
        out: list[fx.Effect] = []
        self.boot_state = event.status
        if event.status == "Accepted":
            self.retry_pending = False
            out.append(fx.CancelTimer(BOOT_TIMER))
            if event.interval_s > 0:
                result = self._config.change("HeartbeatInterval", str(event.interval_s))
                if result.status == "Accepted":
                    out.append(fx.PersistConfiguration("HeartbeatInterval", str(event.interval_s)))
            out.extend(self.arm_heartbeat())
            out.extend(self._report_all(now))
            return out
        # Pending or Rejected: wait at least the interval before the next registration.
        self.retry_pending = True
        delay = event.interval_s if event.interval_s > 0 else DEFAULT_BOOT_RETRY_S
        out.append(fx.StartTimer(BOOT_TIMER, delay))
        return out

    def failed(self, event: ev.CallFailed) -> list[fx.Effect]:
        if event.reason == "offline":
            return []  # LinkConnected will send it again.
        self.retry_pending = True
        return [fx.StartTimer(BOOT_TIMER, BOOT_FAILURE_RETRY_S)]

    def retry_timer(self) -> list[fx.Effect]:
        self.retry_pending = False
        if self.connected and self.boot_state != "Accepted":
            return [fx.SendRegistration()]
        return []

    def arm_heartbeat(self) -> list[fx.Effect]:
        interval_s = self._config.get_int("HeartbeatInterval")
        if interval_s <= 0:
            return [fx.CancelTimer(HEARTBEAT_TIMER)]
        return [fx.StartTimer(HEARTBEAT_TIMER, interval_s)]

    def heartbeat_timer(self) -> list[fx.Effect]:
        out = self.arm_heartbeat()
        if self.online:
            out.insert(0, fx.SendKeepAlive())
        return out
