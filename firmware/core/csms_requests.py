"""CSMS-initiated requests of the Core and RemoteTrigger profiles.

Every handler returns a ``Reply`` first (the runtime sends it before executing the
other effects, so e.g. TriggerMessage's conf precedes the triggered message, [16]
§5.17), except UnlockConnector, whose reply waits for the lock (``CableUnlocked``).
"""

from __future__ import annotations

from dataclasses import replace

from . import effects as fx
from . import events as ev
from .configuration import definition
from . import security_events
from .connector import Connector
from .metering import sample
from .parts import StationParts
from . import security_profile
from .timers import ConnectionTimeout

TRIGGERABLE = {"BootNotification", "DiagnosticsStatusNotification", "FirmwareStatusNotification",
               "Heartbeat", "MeterValues", "StatusNotification", "LogStatusNotification",
               "SignedFirmwareStatusNotification"}


def _from_console(event: ev.Request) -> bool:
    """The console's requests carry refs ("console", n) (``firmware.console``)."""
    return isinstance(event.ref, tuple) and bool(event.ref) and event.ref[0] == "console"


def _reply(event: ev.Request, status: str, **fields: object) -> fx.Reply:
    return fx.Reply(event.ref, {"status": status, **fields})


class RequestsMixin(StationParts):
    reset_when_idle: str | None  # a scheduled reset's kind (the station applies it)
    security_prerequisites: security_profile.PrerequisitesCheck

    # ------------------------------------------------------------------ remote start/stop
    def _on_remote_start(self, event: ev.RemoteStartRequested, now: float) -> list[fx.Effect]:
        if self.boot_state != "Accepted" or self.reset_accepted:
            # [16] §4.2: not while Pending; nor once a Reset was accepted (restarting).
            return [_reply(event, "Rejected")]
        if event.charging_profile is not None and self.smart_charging.remote_profile_problem(
                event.charging_profile) is not None:
            return [_reply(event, "Rejected")]
        if event.connector_id is not None:
            c = self.connectors.get(event.connector_id)
            if c is None or not c.is_idle():
                return [_reply(event, "Rejected")]
        else:
            c = self._start_target(0, event.id_tag)
            if c is None:
                return [_reply(event, "Rejected")]
        parent = getattr(event.list_entry, "parent_id_tag", None)
        if not self.reservations.may_start(c, event.id_tag, parent) and not (
                c.reservation is not None and c.reservation.parent_id_tag is not None
                and parent is None):
            return [_reply(event, "Rejected")]  # reserved for another driver ([16] §5.13)
        return [_reply(event, "Accepted")] + self.remote_start(c, event, now)

    def _on_remote_stop(self, event: ev.RemoteStopRequested, now: float) -> list[fx.Effect]:
        if self.boot_state != "Accepted":
            return [_reply(event, "Rejected")]
        c = self.find_transaction(event.transaction_id)
        if c is None:
            return [_reply(event, "Rejected")]
        return [_reply(event, "Accepted")] + self._stop_transaction(c, "Remote", None, now)

    # ------------------------------------------------------------------ reset
    def _on_reset(self, event: ev.ResetRequested, now: float) -> list[fx.Effect]:
        """Stop every transaction with SoftReset/HardReset, then restart ([16] §5.14);
        a when-idle reset with transactions running waits for their end instead."""
        if self.firmware.blocks_restart:
            # The installer runs: a restart now would cut it; the update restarts the
            # agent itself when the install ends.
            return [_reply(event, "Rejected")]
        running = any(c.tx is not None or c.stopping is not None
                      for c in self.connectors.values())
        if event.when_idle and running:
            self.reset_accepted = True  # no new session: the reset would wait forever
            self.reset_when_idle = event.kind
            for c in self.connectors.values():
                c.authorization = None
            return [_reply(event, "Scheduled")]
        out: list[fx.Effect] = [_reply(event, "Accepted")]
        self.reset_accepted = True  # refuse new sessions until the restart
        reason = "HardReset" if event.kind == "Hard" else "SoftReset"
        for c in self.connectors.values():
            c.authorization = None
            out.extend(self._stop_transaction(c, reason, None, now, read_meter=False))
        who = "the console" if _from_console(event) else "the CSMS"
        out.extend(security_events.occurred("ResetOrReboot", f"{event.kind} reset by {who}",
                                            now))
        out.append(fx.RestartAgent(event.kind))
        return out

    # ------------------------------------------------------------------ availability
    def _on_change_availability(self, event: ev.AvailabilityChangeRequested,
                                now: float) -> list[fx.Effect]:
        """[16] §5.2: Scheduled while a transaction runs; connector 0 = all; persisted."""
        operative = event.kind == "Operative"
        if event.connector_id == 0:
            targets = list(self.connectors.values())
        elif event.connector_id in self.connectors:
            targets = [self.connectors[event.connector_id]]
        else:
            return [_reply(event, "Rejected")]
        out: list[fx.Effect] = []
        scheduled = False
        for c in targets:
            out.append(fx.PersistAvailability(c.connector_id, operative))
            if c.tx is not None and c.operative != operative:
                c.scheduled_operative = operative
                scheduled = True
            else:
                out.extend(self._apply_availability(c, operative))
        return [_reply(event, "Scheduled" if scheduled else "Accepted")] + out

    def _apply_availability(self, c: Connector, operative: bool) -> list[fx.Effect]:
        c.operative = operative
        c.scheduled_operative = None
        if not operative and c.authorization is not None:
            tag = c.authorization.id_tag
            c.authorization = None
            return [fx.CancelTimer(ConnectionTimeout(c.connector_id)),
                    fx.RecordDecision(tag, False, "connector-unavailable", c.connector_id)]
        return []

    # ------------------------------------------------------------------ unlock
    def _on_unlock(self, event: ev.CableUnlockRequested, now: float) -> list[fx.Effect]:
        """[16] §5.18: a running transaction is stopped (UnlockCommand) before unlocking."""
        c = self.connectors.get(event.connector_id)
        if c is None or not c.has_lock:
            return [_reply(event, "NotSupported")]
        out = self._stop_transaction(c, "UnlockCommand", None, now)
        c.cable_held_for = None
        c.cable_locked = False
        c.lock_confirmed = False
        out.append(fx.UnlockCable(c.connector_id, event.ref))
        return out

    def _on_cable_unlocked(self, event: ev.CableUnlocked, now: float) -> list[fx.Effect]:
        if event.request_ref is None:
            return []
        return [fx.Reply(event.request_ref, {"status": "Unlocked" if event.ok else "UnlockFailed"})]

    # ------------------------------------------------------------------ configuration
    def _on_get_configuration(self, event: ev.ConfigurationReadRequested,
                              now: float) -> list[fx.Effect]:
        known, unknown = self.config.report(event.keys)
        fields: dict[str, object] = {}
        if known:
            fields["configuration_key"] = known
        if unknown:
            fields["unknown_key"] = unknown
        return [fx.Reply(event.ref, fields)]

    def _on_configuration_report(self, event: ev.ConfigurationReportRequested,
                                 now: float) -> list[fx.Effect]:
        return [_reply(event, "Accepted"),
                fx.SendConfigurationReport(event.request_id, now, self.config.reported())]

    def _on_change_configuration(self, event: ev.ConfigurationChangeRequested,
                                 now: float) -> list[fx.Effect]:
        d = definition(event.key)
        if d is not None and d.name in security_profile.SECURITY_KEYS and security_profile.\
                change_problem(d.name, event.value, self.config,
                               self.security_prerequisites) is not None:
            return [_reply(event, "Rejected")]  # nothing changes (A05.FR.01-.04)
        previous = self.config.get(d.name) if d is not None else ""
        result = self.config.change(event.key, event.value)
        out: list[fx.Effect] = [_reply(event, result.status)]
        if result.status not in ("Accepted", "RebootRequired"):
            return out
        out.append(fx.PersistConfiguration(result.key, self.config.get(result.key)))
        out.extend(self.configuration_changed(result.key, now))
        if result.key in security_profile.SECURITY_KEYS:
            out.extend(security_profile.changed(result.key, previous, self.config, now))
        return out

    def _on_security_profile_connect_failed(self, event: ev.SecurityProfileConnectFailed,
                                            now: float) -> list[fx.Effect]:
        return security_profile.connect_failed(event, self.config, now)

    def configuration_changed(self, key: str, now: float) -> list[fx.Effect]:
        """Re-arm whatever depends on ``key`` (timers take the new interval at once)."""
        if key == "HeartbeatInterval" and self.boot_state == "Accepted":
            return self.registration.arm_heartbeat()
        if key == "MeterValueSampleInterval":
            out: list[fx.Effect] = []
            for c in self.connectors.values():
                if c.tx is not None:
                    out.extend(self._arm_sample_timer(c))
            return out
        if key == "ClockAlignedDataInterval":
            return self._arm_aligned_timer(now)
        return []

    # ------------------------------------------------------------------ trigger
    def _on_trigger(self, event: ev.MessageTriggerRequested, now: float) -> list[fx.Effect]:
        message, connector_id = event.message, event.connector_id
        if message not in TRIGGERABLE:
            return [_reply(event, "NotImplemented")]
        if connector_id not in (None, 0) and connector_id not in self.connectors:
            return [_reply(event, "Rejected")]
        if message == "BootNotification":
            if self.boot_state == "Accepted":
                return [_reply(event, "Rejected")]  # [E16] 3.35
            return [_reply(event, "Accepted"), fx.SendRegistration()]
        out: list[fx.Effect] = [_reply(event, "Accepted")]
        if message == "Heartbeat":
            out.append(fx.SendKeepAlive())
        elif message == "StatusNotification":
            out.extend(self._triggered_statuses(connector_id, now))
        elif message == "MeterValues":
            out.extend(self._triggered_meter_values(connector_id, now))
        elif message == "DiagnosticsStatusNotification":
            out.append(self.log_uploads.diagnostics_status())
        elif message == "LogStatusNotification":
            out.append(self.log_uploads.log_status())
        elif message in ("FirmwareStatusNotification", "SignedFirmwareStatusNotification"):
            # L01.FR.28/.29: Idle after Installed or with no update, else the last status;
            # the whitepaper's ExtendedTriggerMessage asks for the signed message.
            triggered = self.firmware.triggered_status()
            if message == "SignedFirmwareStatusNotification":
                triggered = replace(triggered, signed=True)
            out.append(triggered)
        return out

    def _triggered_statuses(self, connector_id: int | None, now: float) -> list[fx.Effect]:
        # Sent even while Pending (the CSMS asked), so do not go through the online gate.
        targets = [self.connectors[connector_id]] if connector_id else []
        out: list[fx.Effect] = []
        if connector_id in (None, 0):
            out.append(fx.SendConnectorStatus(0, self.station_status(), "NoError", now))
        if connector_id is None:
            targets = list(self.connectors.values())
        for c in targets:
            out.append(self.connector_status_report(c, now))
        return out

    def _triggered_meter_values(self, connector_id: int | None, now: float) -> list[fx.Effect]:
        targets = [self.connectors[connector_id]] if connector_id else list(self.connectors.values())
        measurands = self.config.get_list("MeterValuesSampledData")
        out: list[fx.Effect] = []
        for c in targets:
            triggered = sample(measurands, c.reading, c.offer_a, "Trigger", now)
            if triggered is not None:
                out.append(fx.SendMeterSamples(
                    c.connector_id, (triggered,), None,
                    transaction_id=c.tx.transaction_id if c.tx is not None else None))
        return out
