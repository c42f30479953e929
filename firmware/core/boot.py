"""Registration, heartbeat and link state ([16] §4.2, §4.6; [E16] 3.22).

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

from . import effects as fx
from . import events as ev
from .metering import seconds_to_next_aligned
from .parts import StationParts
from .timers import AlignedSample, KeepAlive, RegistrationRetry

BOOT_TIMER = RegistrationRetry()
HEARTBEAT_TIMER = KeepAlive()
ALIGNED_TIMER = AlignedSample()

DEFAULT_BOOT_RETRY_S = 60  # when the CSMS answers Pending/Rejected with interval 0
BOOT_FAILURE_RETRY_S = 30  # when the registration got an error or no answer


class BootMixin(StationParts):
    def _on_started(self, event: ev.AgentStarted, now: float) -> list[fx.Effect]:
        return self._arm_aligned_timer(now)

    def _on_link_connected(self, event: ev.LinkConnected, now: float) -> list[fx.Effect]:
        self.connected = True
        if self.boot_state == "Accepted":
            # Reconnected: report what changed while we were away, nothing more.
            out: list[fx.Effect] = self._report_station_status(now)
            for c in self.connectors.values():
                out.extend(self._report_status(c, now))
            return out
        if self.boot_retry_pending:
            return []  # Pending/Rejected interval still running: wait for it.
        return [fx.SendRegistration()]

    def _on_link_disconnected(self, event: ev.LinkDisconnected, now: float) -> list[fx.Effect]:
        """No answer can come on a closed connection: every Authorize still waiting is
        decided by the offline rules now (a late CallFailed for it is then ignored), so a
        tap never holds a connector across an outage (issue #8 item 3)."""
        self.connected = False
        out: list[fx.Effect] = []
        for ref, pending in list(self._pending_authorize.items()):
            out.extend(self._on_call_failed(
                ev.CallFailed(ref, fx.SendAuthorizationRequest(ref, pending.id_tag,
                                                               pending.token_type),
                              "offline"), now))
        return out

    def _on_boot_responded(self, event: ev.RegistrationAnswered, now: float) -> list[fx.Effect]:
        out: list[fx.Effect] = []
        self.boot_state = event.status
        if event.status == "Accepted":
            self.boot_retry_pending = False
            out.append(fx.CancelTimer(BOOT_TIMER))
            if event.interval_s > 0:
                result = self.config.change("HeartbeatInterval", str(event.interval_s))
                if result.status == "Accepted":
                    out.append(fx.PersistConfiguration("HeartbeatInterval", str(event.interval_s)))
            out.extend(self._arm_heartbeat())
            out.extend(self.report_all_statuses(now))
            return out
        # Pending or Rejected: wait at least the interval before the next registration.
        self.boot_retry_pending = True
        delay = event.interval_s if event.interval_s > 0 else DEFAULT_BOOT_RETRY_S
        out.append(fx.StartTimer(BOOT_TIMER, delay))
        return out

    def _on_heartbeat_responded(self, event: ev.KeepAliveAnswered,
                                now: float) -> list[fx.Effect]:
        # The link applied event.csms_time_s to the agent clock at receipt (half the
        # round trip corrected, slewed or stepped: firmware/agent_clock.py).
        return []

    def _on_boot_failed(self, event: ev.CallFailed, now: float) -> list[fx.Effect]:
        if event.reason == "offline":
            return []  # LinkConnected will send it again.
        self.boot_retry_pending = True
        return [fx.StartTimer(BOOT_TIMER, BOOT_FAILURE_RETRY_S)]

    def _on_boot_timer(self, now: float) -> list[fx.Effect]:
        self.boot_retry_pending = False
        if self.connected and self.boot_state != "Accepted":
            return [fx.SendRegistration()]
        return []

    def _arm_heartbeat(self) -> list[fx.Effect]:
        interval_s = self.config.get_int("HeartbeatInterval")
        if interval_s <= 0:
            return [fx.CancelTimer(HEARTBEAT_TIMER)]
        return [fx.StartTimer(HEARTBEAT_TIMER, interval_s)]

    def _on_heartbeat_timer(self, now: float) -> list[fx.Effect]:
        out = self._arm_heartbeat()
        if self.online:
            out.insert(0, fx.SendKeepAlive())
        return out

    def _arm_aligned_timer(self, now: float) -> list[fx.Effect]:
        interval_s = self.config.get_int("ClockAlignedDataInterval")
        if interval_s <= 0:
            return [fx.CancelTimer(ALIGNED_TIMER)]
        return [fx.StartTimer(ALIGNED_TIMER, seconds_to_next_aligned(now, interval_s))]
