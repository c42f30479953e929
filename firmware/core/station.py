"""The charge point as a sans-I/O state machine: ``effects = station.handle(event, now)``.

``now`` is UTC epoch seconds as the agent's (CSMS-synchronised) clock says; the station
never reads a clock, never awaits and never touches I/O. The work is split into parts:
composed ones with their own interface (``boot.Registration``: registration, heartbeat,
link; ``reservations.Reservations``; ``smart_charging_flow.SmartCharging``) and mixins by
topic declared in ``parts`` (``charging``: cards, authorization, transactions, metering;
``csms_requests``: CSMS-initiated calls). After every
event the station re-derives each connector's outputs and status (``_sync``), so the
safety rule and StatusNotification-on-every-change hold whatever the event was.
"""

from __future__ import annotations

from typing import Callable, Hashable

from . import events as ev
from . import effects as fx
from . import security_events
from .authorization_flow import PendingAuthorization
from .boot import Registration
from .charging import ChargingMixin
from .configuration import Configuration
from .connector import Connector
from .csms_cost import CsmsCosts
from .csms_requests import RequestsMixin
from .payment import PaymentFlow, PaymentRecord, PaymentSettings
from .security_profile import PrerequisitesCheck, none_installed
from .firmware_update import FirmwareUpdate, FirmwareUpdateRecord
from .log_uploads import LogUploads
from .reservations import Reservation, Reservations
from .smart_charging import ChargingProfile
from .smart_charging_flow import SmartCharging
from .tariff import Tariff
from .timers import PaymentEndOfDay, PaymentRetry


class Station(ChargingMixin, RequestsMixin):
    def __init__(self, connectors: list[Connector], configuration: Configuration, *,
                 next_local_tx_id: int = 1, profiles: list[ChargingProfile] | None = None,
                 reservations: list[Reservation] | None = None,
                 payment: PaymentSettings | None = None,
                 payment_records: list[PaymentRecord] | None = None,
                 tariff: Tariff | None = None,
                 security_prerequisites: PrerequisitesCheck = none_installed,
                 firmware_version: str = "",
                 firmware_update: FirmwareUpdateRecord | None = None):
        if not connectors:
            raise ValueError("a station needs at least one connector")
        self.connectors: dict[int, Connector] = {c.connector_id: c for c in connectors}
        self.config = configuration
        # What the certificate store holds (SecurityProfile upgrades, A05.FR.02-.04).
        self.security_prerequisites = security_prerequisites
        self.next_local_tx_id: int = next_local_tx_id
        # Registration with the CSMS, heartbeat and link state (a composed part).
        self.registration = Registration(configuration, self.report_all_statuses,
                                         self._report_changed_statuses)
        self.reported_station_status: str | None = None
        # Installed charging profiles and each connector's limit (a composed part).
        self.smart_charging = SmartCharging(self.connectors, configuration, profiles or [])
        self._tx_running: tuple[int | None, ...] = ()
        self.reset_accepted = False  # a Reset was accepted: no new session until restart
        self.reset_when_idle: str | None = None
        self._authorize_seq = 0
        self.reservations = Reservations(self.connectors, configuration, reservations)
        # Firmware updates (L01): the version this process runs and the update the last
        # run persisted (resumed on AgentStarted).
        self.firmware = FirmwareUpdate(self.connectors, firmware_version, firmware_update)
        self._pending_authorize: dict[Hashable, PendingAuthorization] = {}
        # The costs the CSMS reports and its price text (firmware.core.csms_cost).
        self.csms_costs = CsmsCosts(self.connectors, configuration, self.currency,
                                    self._station_settles)
        # Ad-hoc card payment (firmware.core.payment): only with a payment terminal.
        self.payment = (PaymentFlow(self, payment, payment_records, tariff,
                                    message=self.csms_costs.tariff_message)
                        if payment is not None else None)
        self.log_uploads = LogUploads()
        # The firmware update's last status (hook for the updater, issue 11 item 4):
        # what a triggered (Signed)FirmwareStatusNotification says; Idle when none runs.
        # Each handler takes its own event type: the table is keyed by that type.
        self._handlers: dict[type[ev.Event], Callable[..., list[fx.Effect]]] = {
            ev.AgentStarted: self._on_agent_started,
            ev.SecurityEventOccurred: security_events.report,
            ev.SecurityProfileConnectFailed: self._on_security_profile_connect_failed,
            ev.LogUploadProgressed: self.log_uploads.progressed,
            ev.ShutdownRequested: self._on_shutdown,
            ev.LinkConnected: lambda event, now: self.registration.link_connected(now),
            ev.LinkDisconnected: self._on_link_disconnected,
            ev.RegistrationAnswered: self.registration.answered,
            # The link applied the CSMS's currentTime to the agent clock at receipt (half
            # the round trip corrected, slewed or stepped: firmware/agent_clock.py).
            ev.KeepAliveAnswered: lambda event, now: [],
            ev.CallFailed: self._on_call_failed,
            ev.TimerFired: self._on_timer_or_payment,
            ev.ClockStepped: self._on_clock_stepped,
            ev.PilotChanged: self._on_pilot_or_payment,
            ev.CardPresented: self._on_card,
            ev.ContactorSwitched: self._on_contactor_switched,
            ev.ContactorFailed: self._on_contactor_failed,
            ev.OfferFailed: self._on_offer_failed,
            ev.ContactorChecked: self._on_contactor_checked,
            ev.CableLocked: self._on_cable_locked,
            ev.LockFailed: self._on_lock_failed,
            ev.MeterSampled: self._on_meter_sampled,
            ev.MeterFailed: self._on_meter_failed,
            ev.MeterRead: self._on_meter_read,
            ev.HardwareFaultChanged: self._on_hardware_fault,
            ev.CableUnlocked: self._on_cable_unlocked,
            ev.AuthorizationAnswered: self._on_authorize_responded,
            ev.TransactionStartAnswered: self._on_start_responded,
            ev.TransactionEndAnswered: self._on_stop_responded,
            ev.TransactionMessageDropped: self._on_tx_message_dropped,
            ev.LocalListConflicted: self._on_local_list_conflict,
            ev.RecoveredTransaction: self._on_recovered_transaction,
            ev.RemoteStartRequested: self._on_remote_start,
            ev.RemoteStopRequested: self._on_remote_stop,
            ev.ReservationRequested: self._on_reserve,
            ev.ReservationCancelRequested: self._on_cancel_reservation,
            ev.ResetRequested: self._on_reset,
            ev.AvailabilityChangeRequested: self._on_change_availability,
            ev.CableUnlockRequested: self._on_unlock,
            ev.ConfigurationReadRequested: self._on_get_configuration,
            ev.ConfigurationChangeRequested: self._on_change_configuration,
            ev.ConfigurationReportRequested: self._on_configuration_report,
            ev.MessageTriggerRequested: self._on_trigger,
            ev.ChargingProfileInstallRequested: self.smart_charging.install,
            ev.ChargingProfileClearRequested: self.smart_charging.clear,
            ev.CompositeScheduleRequested: self.smart_charging.composite,
            ev.ChargingProfilesReportRequested: self.smart_charging.report,
            ev.PaymentRequested: self._payment_handler("on_requested"),
            ev.PaymentCancelRequested: self._payment_handler("on_cancel"),
            ev.PaymentReleaseRequested: self._payment_handler("on_release"),
            ev.PaymentPreAuthorised: self._payment_handler("on_pre_authorised"),
            ev.PaymentRefused: self._payment_handler("on_refused"),
            ev.PaymentSettled: self._payment_handler("on_settled"),
            ev.PaymentReceiptOffered: self._payment_handler("on_receipt_offered"),
            ev.PaymentTerminalFailed: self._payment_handler("on_terminal_failed"),
            ev.PaymentTerminalChecked: self._payment_handler("on_terminal_checked"),
            ev.PaymentEndOfDayFinished: self._payment_handler("on_end_of_day"),
            ev.TariffChangeRequested: self._on_tariff_change,
            ev.CsmsCostReported: self.csms_costs.reported,
            ev.FirmwareUpdateRequested: self.firmware.request,
            ev.FirmwareDownloaded: self.firmware.downloaded,
            ev.FirmwareDownloadFailed: self.firmware.download_failed,
            ev.FirmwareVerified: self.firmware.verified,
            ev.FirmwareInstalled: self.firmware.installed,
        }

    # ------------------------------------------------------------------ entry point
    def handle(self, event: ev.Event, now: float) -> list[fx.Effect]:
        handler = self._handlers.get(type(event))
        if handler is None:
            raise TypeError(f"no handler for {type(event).__name__}")
        effects = handler(event, now)
        if self.payment is not None:
            effects += self.payment.before_sync(now)
        safety, reports = self._sync(now)
        # Opening contactors and withdrawing offers go first: nothing may delay them.
        out = safety + effects + reports
        if self.payment is not None:
            out = self.payment.after(out, now)
        self.csms_costs.after(out)
        return out

    # ------------------------------------------------------------------ price and cost
    def currency(self) -> str:
        """TariffCostCtrlr.Currency: the tariff's (no terminal: the default tariff's)."""
        return (self.payment.tariff if self.payment is not None else Tariff()).currency

    def _station_settles(self, local_tx_id: int) -> bool:
        return self.payment is not None and self.payment.settles(local_tx_id)

    def price_text(self) -> str:
        """The price a driver is shown before a start: the card payment's, else the
        CSMS's TariffFallbackMessage (empty: no price known)."""
        if self.payment is not None:
            return self.payment.price_text()
        return self.csms_costs.tariff_message()

    def configuration_changed(self, key: str, now: float) -> list[fx.Effect]:
        out = super().configuration_changed(key, now)
        if key in ("TariffFallbackMessage", "TariffEnabled") and self.price_text():
            out.append(fx.ShowPaymentMessage(0, self.price_text()))  # the new price, shown
        return out

    # ------------------------------------------------------------------ payment
    def _payment_handler(self, name: str) -> Callable[..., list[fx.Effect]]:
        def handle(event: ev.Event, now: float) -> list[fx.Effect]:
            if self.payment is None:
                return []
            method: Callable[[ev.Event, float], list[fx.Effect]] = getattr(self.payment, name)
            return method(event, now)
        return handle

    def _on_tariff_change(self, event: ev.TariffChangeRequested,
                          now: float) -> list[fx.Effect]:
        if self.payment is None:
            return [fx.Reply(event.ref, {"status": "Rejected",
                                         "info": "no payment terminal on this station"})]
        return self.payment.on_tariff(event, now)

    def _on_timer_or_payment(self, event: ev.TimerFired, now: float) -> list[fx.Effect]:
        if isinstance(event.key, (PaymentRetry, PaymentEndOfDay)):
            return self.payment.on_timer(event.key, now) if self.payment is not None else []
        return self._on_timer(event, now)

    def _on_pilot_or_payment(self, event: ev.PilotChanged, now: float) -> list[fx.Effect]:
        c = self.connectors.get(event.connector_id)
        was_plugged = c is not None and c.ev_plugged
        out = self._on_pilot(event, now)
        if self.payment is not None and c is not None and c.ev_plugged and not was_plugged:
            out += self.payment.on_plugged(c, now)
        return out

    def _on_agent_started(self, event: ev.AgentStarted, now: float) -> list[fx.Effect]:
        # A reservation that expired while the agent was down ends now.
        out = security_events.occurred("StartupOfTheDevice",
                                      f"boot reason {event.boot_reason}", now)
        out += self._arm_aligned_timer(now) + self.reservations.rearm(now)
        if self.payment is not None:
            out += self.payment.on_started(now)
        return out + self.firmware.resume(now)

    def _on_reserve(self, event: ev.ReservationRequested, now: float) -> list[fx.Effect]:
        if self.reset_accepted:
            return [fx.Reply(event.ref, {"status": "Rejected"})]
        status, out = self.reservations.reserve(Reservation(
            event.reservation_id, event.connector_id, event.id_tag, event.expiry_s,
            event.parent_id_tag), now)
        return [fx.Reply(event.ref, {"status": status}), *out]

    def _on_cancel_reservation(self, event: ev.ReservationCancelRequested,
                               now: float) -> list[fx.Effect]:
        status, out = self.reservations.cancel(event.reservation_id)
        return [fx.Reply(event.ref, {"status": status}), *out]

    def _on_clock_stepped(self, event: ev.ClockStepped, now: float) -> list[fx.Effect]:
        """Re-arm what counts from the wall clock: clock-aligned slots ([16] §9.1.7:
        from midnight) and smart-charging period boundaries. Durations (heartbeat,
        sampling, ConnectionTimeOut, retries) run on the monotonic clock: untouched."""
        out = self._arm_aligned_timer(now)
        if abs(event.step_s) > security_events.TIME_ADJUSTMENT_REPORTING_THRESHOLD_S:
            out.extend(security_events.occurred(
                "SettingSystemTime", f"clock stepped by {event.step_s:+.0f} s", now))
        if self.profiles:
            out.extend(self.smart_charging.arm_timer(now))
        out.extend(self.reservations.rearm(now))  # expiryDate is a wall-clock time
        out.extend(self.firmware.on_clock_stepped(now))  # retrieve/installDateTime too
        return out

    @property
    def profiles(self) -> list[ChargingProfile]:
        """The installed charging profiles (``SmartCharging``; read them, never assign)."""
        return self.smart_charging.profiles

    @property
    def online(self) -> bool:
        """Connected and registered: only then does the CSMS decide authorizations."""
        return self.registration.online

    @property
    def boot_state(self) -> str:
        """None, Pending, Accepted or Rejected (``Registration``)."""
        return self.registration.boot_state

    @property
    def connected(self) -> bool:
        return self.registration.connected

    def _on_link_disconnected(self, event: ev.LinkDisconnected, now: float) -> list[fx.Effect]:
        """No answer can come on a closed connection: every Authorize still waiting is
        decided by the offline rules now (a late CallFailed for it is then ignored), so a
        tap never holds a connector across an outage (issue #8 item 3)."""
        self.registration.link_disconnected()
        out: list[fx.Effect] = []
        for ref, pending in list(self._pending_authorize.items()):
            out.extend(self._on_call_failed(
                ev.CallFailed(ref, fx.SendAuthorizationRequest(ref, pending.id_tag,
                                                               pending.token_type),
                              "offline"), now))
        return out

    def _report_changed_statuses(self, now: float) -> list[fx.Effect]:
        out = self._report_station_status(now)
        for c in self.connectors.values():
            out.extend(self._report_status(c, now))
        return out

    def connector(self, connector_id: int) -> Connector | None:
        return self.connectors.get(connector_id)

    # ------------------------------------------------------------------ derived outputs
    def _sync(self, now: float) -> tuple[list[fx.Effect], list[fx.Effect]]:
        safety: list[fx.Effect] = []
        later: list[fx.Effect] = self.reservations.end_unusable()
        # Before the statuses: a waiting install starts (and holds every connector) as
        # soon as the last transaction has ended.
        later.extend(self.firmware.on_sync(now))
        for c in self.connectors.values():
            fault = c.session_ending_fault() if c.tx is not None else None
            if fault is not None:
                # [16] §7.6 Reason "Other": a fault ended it; never EVDisconnected.
                later.extend(self._stop_transaction(c, "Other", None, now))
            later.extend(self._maybe_start_transaction(c, now))
            if c.tx is None:
                later.extend(self.smart_charging.end_tx_profiles(c))
            self.smart_charging.apply_limit(c, now)
            if c.scheduled_operative is not None and c.tx is None:
                later.extend(self._apply_availability(c, c.scheduled_operative))
            close = c.contactor_should_close()
            if c.contactor_closed and not close:
                c.contactor_closed = False
                safety.append(fx.OpenContactor(c.connector_id))
            offer = c.desired_offer_a()
            if (offer != c.offer_a or c.offer_resend) and "offer" not in c.faults:
                c.offer_a = offer
                c.offer_resend = False
                (safety if offer == 0 else later).append(fx.OfferEnergy(c.connector_id, offer))
            if close and not c.contactor_closed:
                c.contactor_closed = True
                later.append(fx.CloseContactor(c.connector_id))
            lock = c.cable_should_lock()
            if lock != c.cable_locked:
                c.cable_locked = lock
                c.lock_confirmed = False  # until CableLocked answers this LockCable
                later.append(fx.LockCable(c.connector_id) if lock
                             else fx.UnlockCable(c.connector_id))
            status = c.indicated_status()
            if status != c.shown_status:
                c.shown_status = status
                later.append(fx.ShowStatus(c.connector_id, status))
            later.extend(self._report_status(c, now))
            later.extend(self._report_transaction_state(c, now))
        later.extend(self._report_station_status(now))
        if self.reset_when_idle is not None and all(
                c.tx is None and c.stopping is None for c in self.connectors.values()):
            later.extend(security_events.occurred(
                "ResetOrReboot", f"scheduled {self.reset_when_idle} reset, now idle", now))
            later.append(fx.RestartAgent(self.reset_when_idle, scheduled=True))
            self.reset_when_idle = None
        running = tuple(c.tx.local_tx_id if c.tx is not None else None
                        for c in self.connectors.values())
        if running != self._tx_running:
            # Relative profiles start with a transaction; TxProfiles end with it.
            self._tx_running = running
            if self.profiles:
                later.extend(self.smart_charging.arm_timer(now))
        return safety, later

    def _report_status(self, c: Connector, now: float, force: bool = False) -> list[fx.Effect]:
        if not self.online or c.stopping is not None:
            # A StopTransaction waiting for its meter reading goes first: the CSMS sees
            # the stop, then Finishing/Available, as it would without the wait.
            return []
        notification = self.connector_status_report(c, now)
        if (not force and notification.status == c.reported_status
                and notification.error_code == c.reported_error):
            return []
        c.reported_status = notification.status
        c.reported_error = notification.error_code
        return [notification]

    @staticmethod
    def _report_transaction_state(c: Connector, now: float) -> list[fx.Effect]:
        """A running transaction's state (charging, suspended by the EV or the EVSE) as
        a durable transaction fact whenever it changes, online or not, starting with the
        state it is in right after its start."""
        if c.tx is None or c.stopping is not None:
            c.tx_state_reported = None
            return []
        state = c.status()
        if state == c.tx_state_reported:
            return []
        c.tx_state_reported = state
        return [fx.SendTransactionStateChanged(c.tx.local_tx_id, c.connector_id, state, now)]

    @staticmethod
    def connector_status_report(c: Connector, now: float) -> fx.SendConnectorStatus:
        fault = c.error()
        if fault is None:
            return fx.SendConnectorStatus(c.connector_id, c.status(), "NoError", now)
        return fx.SendConnectorStatus(
            c.connector_id, c.status(), fault.error_code, now,
            info=fault.info[:50] or None, vendor_error_code=fault.vendor_error_code[:50] or None)

    def _on_local_list_conflict(self, event: ev.LocalListConflicted,
                                now: float) -> list[fx.Effect]:
        """[16] §3.5.2: report a list/CSMS conflict on connector 0 with LocalListConflict."""
        if not self.online:
            return []
        info = f"{event.list_status}!={event.csms_status}"[:50]
        return [fx.SendConnectorStatus(0, self.station_status(), "LocalListConflict", now,
                                          info=info)]

    def station_status(self) -> str:
        if all(not c.operative for c in self.connectors.values()):
            return "Unavailable"
        return "Available"

    def _report_station_status(self, now: float, force: bool = False) -> list[fx.Effect]:
        if not self.online:
            return []
        status = self.station_status()
        if not force and status == self.reported_station_status:
            return []
        self.reported_station_status = status
        return [fx.SendConnectorStatus(0, status, "NoError", now)]

    def report_all_statuses(self, now: float) -> list[fx.Effect]:
        """StatusNotification for connector 0 and every connector ([E16] 3.22)."""
        out = self._report_station_status(now, force=True)
        for c in self.connectors.values():
            out.extend(self._report_status(c, now, force=True))
        return out
