"""Meter readings, meter-sample timers, and the hardware's own events.

- Sampled values every MeterValueSampleInterval from the start of each transaction
  (context Sample.Periodic), clock-aligned values every ClockAlignedDataInterval from
  00:00 UTC (Sample.Clock; with the transactionId of the transaction running at that
  moment, [E16] 3.16). Both are recorded offline too: transaction-related MeterValues
  go through the durable outbox.
- StopTxnSampledData / StopTxnAlignedData samples are kept for the StopTransaction.
- The meter reading of a running transaction is persisted every
  ``METER_CHECKPOINT_S`` so a power cut loses at most that much (PowerLoss stop).
- A contactor or meter failure becomes a connector fault (Faulted, contactor opened by
  the safety rule); clearing it re-derives the status.
"""

from __future__ import annotations

from . import effects as fx
from . import events as ev
from .connector import Connector, Fault
from .metering import sample, seconds_to_next_aligned
from .parts import StationParts
from .timers import AlignedSample, OfferRetry, PeriodicSample

ALIGNED_TIMER = AlignedSample()

# How long after a refused offer the pilot is offered again (s).
OFFER_RETRY_S = 10.0

# A running transaction's meter reading is saved when it has advanced this much or this
# long since the last save: a power cut loses at most ~10 Wh (or 5 s of energy, whichever
# comes first), plus one meter poll.
METER_CHECKPOINT_WH = 10
METER_CHECKPOINT_S = 5.0
ALIGNMENT_TOLERANCE_S = 2.0


def sample_timer(connector_id: int) -> PeriodicSample:
    return PeriodicSample(connector_id)


class SamplingMixin(StationParts):
    # ------------------------------------------------------------------ meter
    def _on_meter_sampled(self, event: ev.MeterSampled, now: float) -> list[fx.Effect]:
        c = self.connectors.get(event.connector_id)
        if c is None:
            return []
        c.reading = event.reading
        c.reading_at_s = now
        c.faults.pop("meter", None)
        tx = c.tx
        if tx is None:
            return []
        energy_wh = c.energy_wh()
        if energy_wh is None:
            return []
        force = False
        if tx.energy_limit_wh is not None and not tx.record.suspended_by_evse \
                and energy_wh - tx.record.meter_start_wh >= tx.energy_limit_wh:
            # MaxEnergyOnInvalidId reached: withhold energy from now on.
            tx.update(suspended_by_evse=True)
            force = True
        last_wh = tx.record.last_meter_wh if tx.record.last_meter_wh is not None else energy_wh
        changed = energy_wh != tx.record.last_meter_wh
        if force or (changed and (energy_wh - last_wh >= METER_CHECKPOINT_WH
                                  or now - tx.last_persisted_s >= METER_CHECKPOINT_S)):
            tx.last_persisted_s = now
            return [fx.PersistTransaction(tx.update(last_meter_wh=energy_wh,
                                                    last_meter_at_s=now))]
        return []

    def _on_meter_failed(self, event: ev.MeterFailed, now: float) -> list[fx.Effect]:
        c = self.connectors.get(event.connector_id)
        if c is not None:
            c.faults["meter"] = Fault("meter", "PowerMeterFailure", "MeterNoAnswer",
                                      event.info)
            # Its last reading is history now: sampling it again with a new timestamp would
            # be an invented value. A stop uses the transaction's last persisted reading.
            c.reading = None
        return []

    # ------------------------------------------------------------------ contactor, faults
    def _on_contactor_switched(self, event: ev.ContactorSwitched,
                               now: float) -> list[fx.Effect]:
        return []

    def _on_contactor_failed(self, event: ev.ContactorFailed, now: float) -> list[fx.Effect]:
        c = self.connectors.get(event.connector_id)
        if c is not None:
            c.faults["contactor"] = Fault("contactor", "PowerSwitchFailure",
                                          event.vendor_error_code, event.info)
            # The driver has already opened what it could; keep our command in step.
            c.contactor_closed = False
            c.contactor_needs_check = True
        return []

    def _on_contactor_checked(self, event: ev.ContactorChecked,
                              now: float) -> list[fx.Effect]:
        c = self.connectors.get(event.connector_id)
        if c is not None:
            self._contactor_check_passed(c)
        return []

    @staticmethod
    def _contactor_check_passed(c: Connector) -> None:
        """Only a check passed with no vehicle connected restores a faulted contactor."""
        if not c.ev_plugged and not c.pilot.is_error:
            c.contactor_needs_check = False

    def _on_offer_failed(self, event: ev.OfferFailed, now: float) -> list[fx.Effect]:
        """The limit cannot be enforced: a transient fault withholds energy (the
        contactor opens in this batch, ``Station._sync``) and nothing is offered until
        the retry, which offers what is due then."""
        c = self.connectors.get(event.connector_id)
        if c is None:
            return []
        c.faults["offer"] = Fault("offer", "EVCommunicationError", "OfferFailed",
                                  f"{event.max_current_a:g} A: {event.why}"[:50])
        return [fx.StartTimer(OfferRetry(c.connector_id), OFFER_RETRY_S)]

    def _on_offer_retry(self, c: Connector) -> list[fx.Effect]:
        if c.faults.pop("offer", None) is not None:
            c.offer_resend = True
        return []

    # ------------------------------------------------------------------ cable lock
    def _on_cable_locked(self, event: ev.CableLocked, now: float) -> list[fx.Effect]:
        c = self.connectors.get(event.connector_id)
        if c is not None and c.cable_locked:
            c.lock_confirmed = True
        return []

    def _on_lock_failed(self, event: ev.LockFailed, now: float) -> list[fx.Effect]:
        c = self.connectors.get(event.connector_id)
        if c is not None and c.cable_locked:
            c.lock_confirmed = False
            c.faults["lock"] = Fault("lock", "ConnectorLockFailure", "LockFailed", event.info)
        return []

    def _on_hardware_fault(self, event: ev.HardwareFaultChanged, now: float) -> list[fx.Effect]:
        c = self.connectors.get(event.connector_id)
        if c is None:
            return []
        if event.active:
            c.faults[event.kind] = Fault(event.kind, event.error_code,
                                         event.vendor_error_code, event.info)
        else:
            c.faults.pop(event.kind, None)
            if event.kind == "contactor":
                self._contactor_check_passed(c)
        return []

    # ------------------------------------------------------------------ MeterValues
    def _arm_sample_timer(self, c: Connector) -> list[fx.Effect]:
        interval_s = self.config.get_int("MeterValueSampleInterval")
        if interval_s <= 0 or c.tx is None:
            return [fx.CancelTimer(sample_timer(c.connector_id))]
        return [fx.StartTimer(sample_timer(c.connector_id), interval_s)]

    def _on_sample_timer(self, c: Connector, now: float) -> list[fx.Effect]:
        if c.tx is None:
            return []
        out = self._arm_sample_timer(c)
        periodic = sample(self.config.get_list("MeterValuesSampledData"), c.reading, c.offer_a,
                          "Sample.Periodic", now)
        if periodic is not None:
            out.append(fx.SendMeterSamples(c.connector_id, (periodic,), c.tx.local_tx_id))
        stop_measurands = self.config.get_list("StopTxnSampledData")
        if stop_measurands:
            out.extend(self._keep_stop_sample(c, sample(stop_measurands, c.reading, c.offer_a,
                                                        "Sample.Periodic", now)))
        if c.reading is not None:
            c.tx.last_persisted_s = now
            out.append(fx.PersistTransaction(c.tx.update(last_meter_wh=c.energy_wh(),
                                                         last_meter_at_s=now)))
        return out

    def _arm_aligned_timer(self, now: float) -> list[fx.Effect]:
        interval_s = self.config.get_int("ClockAlignedDataInterval")
        if interval_s <= 0:
            return [fx.CancelTimer(ALIGNED_TIMER)]
        return [fx.StartTimer(ALIGNED_TIMER, seconds_to_next_aligned(now, interval_s))]

    def _on_aligned_timer(self, now: float) -> list[fx.Effect]:
        interval_s = self.config.get_int("ClockAlignedDataInterval")
        if interval_s <= 0:
            return []
        # Timestamp the slot the timer was for, not the few ms the loop took to get here.
        slot_s = round(now / interval_s) * interval_s
        stamp_s = slot_s if abs(slot_s - now) <= ALIGNMENT_TOLERANCE_S else now
        # Re-arm for the slot after this one, even if the timer fired a little early
        # (skip ahead by half an interval, at most 0.5 s, before looking for the next slot).
        skip_s = min(0.5, interval_s / 2)
        out: list[fx.Effect] = [fx.StartTimer(
            ALIGNED_TIMER, seconds_to_next_aligned(now + skip_s, interval_s) + skip_s)]
        measurands = self.config.get_list("MeterValuesAlignedData")
        stop_measurands = self.config.get_list("StopTxnAlignedData")
        for c in self.connectors.values():
            aligned = sample(measurands, c.reading, c.offer_a, "Sample.Clock", stamp_s)
            local_tx_id = c.tx.local_tx_id if c.tx is not None else None
            if aligned is not None and (local_tx_id is not None or self.online):
                out.append(fx.SendMeterSamples(c.connector_id, (aligned,), local_tx_id))
            if c.tx is not None and c.reading is not None:
                # Checkpoint with the queued value, in the same commit: a PowerLoss stop
                # must never report less than a MeterValues already queued.
                c.tx.last_persisted_s = now
                out.append(fx.PersistTransaction(c.tx.update(
                    last_meter_wh=c.energy_wh(), last_meter_at_s=max(now, stamp_s))))
            if stop_measurands:
                out.extend(self._keep_stop_sample(c, sample(stop_measurands, c.reading,
                                                            c.offer_a, "Sample.Clock", stamp_s)))
        return out
