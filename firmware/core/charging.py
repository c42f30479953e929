"""Cards, authorization and transactions ([16] §3.5, §4.1, §4.8, §4.10, §5.11).

A tap first tries to stop: the same idTag stops its own transaction without an
Authorize (§4.1), a tag of the same parentIdTag group stops it too. Otherwise it
authorizes a start on a connector: the plugged one waiting for a card, else the first
free one (tap before plug; ConnectionTimeOut then cancels it if no cable comes).
A transaction starts when the connector is authorized and the EV is plugged in, and
energy flows only while the safety rule in ``Connector.contactor_should_close`` holds.
"""

from __future__ import annotations

from hal.interfaces import PilotState

from . import effects as fx
from . import events as ev
from .authorization_flow import AuthorizationFlowMixin
from .connector import (Authorization, Connector, Fault, PendingStop, Transaction,
                        TransactionRecord)
from .effects import MeterSample
from .metering import sample
from .sampling import SamplingMixin
from .timers import (AlignedSample, ConnectionTimeout, FirmwareUpdateWake, KeepAlive,
                     OfferRetry, PeriodicSample, ProfileBoundary, RegistrationRetry,
                     ReservationExpiry, StopMeterRead)


STOP_METER_TIMEOUT_S = 5.0


def connection_timeout_timer(connector_id: int) -> ConnectionTimeout:
    return ConnectionTimeout(connector_id)


def stop_meter_timer(connector_id: int) -> StopMeterRead:
    return StopMeterRead(connector_id)


class ChargingMixin(AuthorizationFlowMixin, SamplingMixin):
    next_local_tx_id: int  # owned here: the next transaction's local id
    # ------------------------------------------------------------------ timers
    def _on_timer(self, event: ev.TimerFired, now: float) -> list[fx.Effect]:
        key = event.key
        if isinstance(key, RegistrationRetry):
            return self.registration.retry_timer()
        if isinstance(key, KeepAlive):
            return self.registration.heartbeat_timer()
        if isinstance(key, AlignedSample):
            return self._on_aligned_timer(now)
        if isinstance(key, ProfileBoundary):
            return self.smart_charging.arm_timer(now)  # _sync applies the new limits
        if isinstance(key, FirmwareUpdateWake):
            return self.firmware.on_timer(now)
        if isinstance(key, ReservationExpiry):
            return self.reservations.expire(key.reservation_id, now)
        if isinstance(key, (ConnectionTimeout, PeriodicSample, StopMeterRead, OfferRetry)):
            c = self.connectors.get(key.connector_id)
            if c is None:
                return []
            if isinstance(key, ConnectionTimeout):
                return self._on_connection_timeout(c, now)
            if isinstance(key, PeriodicSample):
                return self._on_sample_timer(c, now)
            if isinstance(key, OfferRetry):
                return self._on_offer_retry(c)
            return self._finish_stop(c)
        return []

    def _on_connection_timeout(self, c: Connector, now: float) -> list[fx.Effect]:
        """An authorization lives ConnectionTimeOut seconds unless a transaction started
        from it, whatever happened in between (a plug while a fault blocked the start, an
        unplug): it is never kept for a later plug."""
        if c.authorization is not None and c.tx is None:
            tag = c.authorization.id_tag
            c.authorization = None
            return [fx.RecordDecision(tag, False, "connection-timeout", c.connector_id)]
        return []

    # ------------------------------------------------------------------ pilot
    def _on_pilot(self, event: ev.PilotChanged, now: float) -> list[fx.Effect]:
        c = self.connectors.get(event.connector_id)
        if c is None:
            return []
        c.pilot = event.state
        out: list[fx.Effect] = []
        if event.state.is_error:
            # E/F is an error of the pilot circuit or the controller, not an unplug: the
            # plug fact stays as it was (a session ends through the fault, never as
            # EVDisconnected while the EV may still be there).
            c.faults["pilot"] = _pilot_fault(event.state)
            return out
        c.faults.pop("pilot", None)
        was_plugged, c.ev_plugged = c.ev_plugged, event.state.ev_connected
        if was_plugged and not c.ev_plugged:
            out.extend(self._on_unplugged(c, now))
        return out

    def _on_unplugged(self, c: Connector, now: float) -> list[fx.Effect]:
        out: list[fx.Effect] = []
        c.finishing = False
        c.faults.pop("lock", None)  # the next plug tries the lock again
        if c.tx is not None and self.config.get_bool("StopTransactionOnEVSideDisconnect"):
            out.extend(self._stop_transaction(c, "EVDisconnected", None, now))
            c.finishing = False
        if c.contactor_needs_check:
            out.append(fx.CheckContactor(c.connector_id))
        return out

    # ------------------------------------------------------------------ transactions
    def _authorize_connector(self, c: Connector, auth: Authorization,
                             now: float) -> list[fx.Effect]:
        if not self.reservations.may_start(c, auth.id_tag, auth.parent_id_tag):
            # [16] §5.13: a reserved connector (or the last ones station-wide
            # reservations need) starts only for the holder or its group.
            return [fx.RecordDecision(auth.id_tag, False, "reserved", c.connector_id)]
        c.authorization = auth
        c.finishing = False
        timeout_s = self.config.get_int("ConnectionTimeOut")
        return [fx.RecordDecision(auth.id_tag, True, auth.why, c.connector_id),
                fx.StartTimer(connection_timeout_timer(c.connector_id), timeout_s)]

    def _maybe_start_transaction(self, c: Connector, now: float) -> list[fx.Effect]:
        auth = c.authorization
        meter_start_wh = c.energy_wh()
        if (auth is None or c.tx is not None or not c.pilot.ev_connected or c.faults
                or meter_start_wh is None or self.reset_accepted):
            return []
        c.authorization = None
        c.finishing = False
        local_tx_id = self.next_local_tx_id
        self.next_local_tx_id += 1
        record = TransactionRecord(
            local_tx_id=local_tx_id, connector_id=c.connector_id, id_tag=auth.id_tag,
            parent_id_tag=auth.parent_id_tag, meter_start_wh=meter_start_wh,
            started_at_s=now, last_meter_wh=meter_start_wh, last_meter_at_s=now)
        c.tx = Transaction(record, last_persisted_s=now)
        reservation_id, ended = self.reservations.started(c, auth.id_tag, auth.parent_id_tag)
        out: list[fx.Effect] = [
            fx.CancelTimer(connection_timeout_timer(c.connector_id)),
            fx.PersistTransaction(record),
            fx.SendTransactionStarted(local_tx_id, c.connector_id, auth.id_tag, meter_start_wh,
                                      now, reservation_id, auth.remote, auth.token_type),
            *ended,
        ]
        measurands = self.config.get_list("StopTxnSampledData")
        if measurands:
            out.extend(self._keep_stop_sample(c, sample(measurands, c.reading, c.max_current_a,
                                                        "Transaction.Begin", now)))
        out.extend(self._arm_sample_timer(c))
        if auth.charging_profile is not None:
            out.extend(self.smart_charging.start_with_profile(c, auth.charging_profile))
        return out

    def _keep_stop_sample(self, c: Connector, kept: MeterSample | None) -> list[fx.Effect]:
        """Keep a StopTxn*Data sample, saved at once: a PowerLoss stop after a crash
        carries the transactionData recorded until then."""
        if c.tx is None or not c.add_stop_sample(kept):
            return []
        return [fx.PersistStopData(c.tx.local_tx_id, tuple(c.tx.stop_data))]

    def _stop_transaction(self, c: Connector, reason: str, id_tag: str | None,
                          now: float, read_meter: bool = True) -> list[fx.Effect]:
        """End the connector's transaction; the contactor opens through ``_sync``.

        While energy flowed (contactor closed) the meterStop is read after the opening
        (``ReadMeter``, then ``MeterRead`` sends the StopTransaction; at most
        ``STOP_METER_TIMEOUT_S`` later the last poll is used). ``read_meter`` False
        (shutdown, reset) sends it at once with the last poll."""
        tx = c.tx
        if tx is None:
            return []
        measurands = self.config.get_list("StopTxnSampledData")
        if measurands:
            c.add_stop_sample(sample(measurands, c.reading, c.offer_a, "Transaction.End", now))
        meter_stop_wh = c.energy_wh()
        if meter_stop_wh is None:
            meter_stop_wh = tx.record.last_meter_wh or tx.record.meter_start_wh
        energised = c.contactor_closed
        c.tx = None
        c.finishing = c.ev_plugged
        if c.has_lock and (reason == "DeAuthorized" or (
                reason == "EVDisconnected"
                and not self.config.get_bool("UnlockConnectorOnEVSideDisconnect"))):
            c.cable_held_for = tx.id_tag
        out: list[fx.Effect] = [fx.CancelTimer(PeriodicSample(c.connector_id))]
        if read_meter and energised and c.reading is not None:
            c.stopping = PendingStop(tx.local_tx_id, reason, id_tag, now,
                                     tuple(tx.stop_data), meter_stop_wh)
            return out + [fx.ReadMeter(c.connector_id),
                          fx.StartTimer(stop_meter_timer(c.connector_id), STOP_METER_TIMEOUT_S)]
        return out + [fx.SendTransactionEnded(tx.local_tx_id, meter_stop_wh, now, reason, id_tag,
                                             tuple(tx.stop_data))]

    def _on_meter_read(self, event: ev.MeterRead, now: float) -> list[fx.Effect]:
        c = self.connectors.get(event.connector_id)
        if c is None:
            return []
        if event.reading is not None:
            c.reading = event.reading
            c.reading_at_s = now
        return self._finish_stop(c)

    def _finish_stop(self, c: Connector) -> list[fx.Effect]:
        stop, c.stopping = c.stopping, None
        if stop is None:
            return []
        meter_stop_wh = c.energy_wh()
        if meter_stop_wh is None or meter_stop_wh < stop.fallback_meter_wh:
            meter_stop_wh = stop.fallback_meter_wh  # never less than already reported
        return [fx.CancelTimer(stop_meter_timer(c.connector_id)),
                fx.SendTransactionEnded(stop.local_tx_id, meter_stop_wh, stop.at_s, stop.reason,
                                       stop.id_tag, stop.stop_data)]

    def _on_start_responded(self, event: ev.TransactionStartAnswered,
                            now: float) -> list[fx.Effect]:
        out: list[fx.Effect] = []
        if event.id_tag:
            out.extend(self._learn_id_tag_info(event.id_tag, event.info, now))
        for c in self.connectors.values():
            tx = c.tx
            if tx is None or tx.local_tx_id != event.local_tx_id:
                continue
            record = tx.update(transaction_id=event.transaction_id)
            out.append(fx.PersistTransaction(record))
            out.extend(self._check_csms_verdict(c, event.info, now))
            break
        return out

    def _on_stop_responded(self, event: ev.TransactionEndAnswered,
                           now: float) -> list[fx.Effect]:
        """[16] §3.5.1: the StopTransaction.conf's IdTagInfo feeds the cache too."""
        if not event.id_tag or event.info is None:
            return []
        return self._learn_id_tag_info(event.id_tag, event.info, now)

    def _on_tx_message_dropped(self, event: ev.TransactionMessageDropped,
                               now: float) -> list[fx.Effect]:
        """The outbox gave up on a message ([16] §3.7.1). A dropped start means the CSMS
        will never know this transaction: say so (console, RemoteStop cannot reach it)
        while the session goes on for the driver."""
        if not event.was_start:
            return []
        for c in self.connectors.values():
            if c.tx is not None and c.tx.local_tx_id == event.local_tx_id:
                c.tx.unknown_to_csms = True
        return []

    def _on_recovered_transaction(self, event: ev.RecoveredTransaction,
                                  now: float) -> list[fx.Effect]:
        """The agent died during this transaction: stop it with PowerLoss ([16] §4.10)."""
        r: TransactionRecord = event.record
        self.next_local_tx_id = max(self.next_local_tx_id, r.local_tx_id + 1)
        meter_stop_wh = r.last_meter_wh if r.last_meter_wh is not None else r.meter_start_wh
        at_s = r.last_meter_at_s if r.last_meter_at_s is not None else r.started_at_s
        return [fx.SendTransactionEnded(r.local_tx_id, meter_stop_wh, at_s, "PowerLoss", r.id_tag,
                                       tuple(event.stop_data))]

    def _on_shutdown(self, event: ev.ShutdownRequested, now: float) -> list[fx.Effect]:
        """Graceful stop: end every transaction with an exact meter value and time."""
        out: list[fx.Effect] = []
        for c in self.connectors.values():
            c.authorization = None
            out.extend(self._stop_transaction(c, event.reason, None, now, read_meter=False))
        return out

    def find_transaction(self, transaction_id: int) -> Connector | None:
        for c in self.connectors.values():
            if c.tx is not None and c.tx.transaction_id == transaction_id:
                return c
        return None


def _pilot_fault(state: PilotState) -> Fault:
    if state is PilotState.E:
        return Fault("pilot", "EVCommunicationError", "PilotStateE", "control pilot shorted (E)")
    return Fault("pilot", "EVCommunicationError", "PilotStateF", "EVSE not available (F)")
