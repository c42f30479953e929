"""Ad-hoc card payment (AFIR Art. 5), sans-I/O: a part composed into the ``Station``.

The flow of one payment (``PaymentRecord.state``), every step persisted
(``PersistPayment``) in the same commit as the effects it causes and *before* the
terminal call it asks for:

    requested   price shown, PreAuthorisePayment sent; waiting for the card
    authorised  the terminal reserved ``pre_authorised_cents`` under ``receipt_number``;
                the connector is authorised for the payment idTag
    charging    a transaction (``local_tx_id``) started under that idTag
    settling    the transaction ended: the cost is fixed (``capture_cents``, 0 = reverse
                everything) and SettlePayment sent (``attempts`` counts the sends)
    done | declined | failed | lost    final

The payment idTag is derived from the card token (``id_tag_for``): the same card tapped
again stops its own session (its pre-authorisation then is reversed at once). It is
authorised **locally** by the terminal's reservation, never by an Authorize.req: the
money is the authorisation (like a local list entry, [16] §3.5); the CSMS still learns
the idTag in the StartTransaction and may refuse it there, and then the usual
StopTransactionOnInvalidId rule applies.

Exactly once: the settle intent (amount or reversal) is written before it is sent and
never changed; after a power cut the next start sends the same intent again. A terminal
books a receipt at most once and refuses a second capture/reversal of it, so a refusal
of a *repeated* attempt means the earlier one went through (``done``), never a second
booking. An interrupted pre-authorisation whose receipt was never stored cannot be
reversed by receipt: it is recorded as ``lost`` (fault shown; the issuer releases it).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Callable, Protocol

from . import effects as fx
from . import events as ev
from .connector import Authorization, Connector
from .tariff import Cost, Tariff
from .payment_records import (FINAL, ID_TAG_SCHEMES, PaymentRecord, PaymentSettings,
                              id_tag_for, receipt_text, receipt_url, settled_report)
from .timers import PaymentEndOfDay, PaymentRetry

__all__ = ["FINAL", "ID_TAG_SCHEMES", "PaymentFlow", "PaymentHost", "PaymentRecord",
           "PaymentSettings", "id_tag_for"]

RETRY_S = (5.0, 15.0, 60.0, 300.0)
TERMINAL_CHECK_S = 60.0
END_OF_DAY_BUSY_RETRY_S = 300.0


class PaymentHost(Protocol):
    """What the payment part uses of the station."""

    connectors: dict[int, Connector]

    @property
    def online(self) -> bool: ...

    def _authorize_connector(self, c: Connector, auth: Authorization,
                             now: float) -> list[fx.Effect]: ...

    def _stop_transaction(self, c: Connector, reason: str, id_tag: str | None,
                          now: float, read_meter: bool = True) -> list[fx.Effect]: ...


class PaymentFlow:
    def __init__(self, host: PaymentHost, settings: PaymentSettings,
                 records: list[PaymentRecord] | None = None,
                 tariff: Tariff | None = None, *,
                 message: Callable[[], str] = lambda: "") -> None:
        """``message()``: a price text the CSMS set (empty: the tariff's own)."""
        self.host = host
        self._message = message
        self.settings = settings
        self.tariff = tariff or settings.tariff
        self.records: dict[int, PaymentRecord] = {}
        self.next_payment_id = 1
        for r in records or []:
            self.next_payment_id = max(self.next_payment_id, r.payment_id + 1)
            if r.state not in FINAL:
                self.records[r.payment_id] = r
        self.terminal_fault = ""
        self.end_of_day_running = False
        self.last_message = ""
        self.finished: list[PaymentRecord] = []   # the last final records (console)

    # ------------------------------------------------------------------ helpers
    def _save(self, r: PaymentRecord) -> fx.Effect:
        if r.state in FINAL:
            self.records.pop(r.payment_id, None)
            self.finished = ([f for f in self.finished if f.payment_id != r.payment_id]
                             + [r])[-10:]
        else:
            self.records[r.payment_id] = r
        return fx.PersistPayment(r)

    def _say(self, connector_id: int, text: str) -> fx.Effect:
        self.last_message = text
        return fx.ShowPaymentMessage(connector_id, text)

    def _served(self) -> list[Connector]:
        ids = self.settings.connectors or tuple(self.host.connectors)
        return [self.host.connectors[i] for i in ids if i in self.host.connectors]

    def _free(self, c: Connector, mine: int = 0) -> bool:
        """Nothing runs or waits on ``c`` (payment ``mine``'s own claim aside)."""
        return (c.tx is None and c.stopping is None and c.authorization is None
                and c.operative and not c.faults
                and not any(r.connector_id == c.connector_id and r.payment_id != mine
                            and r.state in ("requested", "authorised", "charging")
                            for r in self.records.values()))

    def _target(self, connector_id: int, mine: int = 0) -> Connector | None:
        served = self._served()
        if connector_id:
            chosen = [c for c in served if c.connector_id == connector_id]
            return chosen[0] if chosen and self._free(chosen[0], mine) else None
        free = [c for c in served if self._free(c, mine)]
        plugged = [c for c in free if c.ev_plugged]
        chosen_list = plugged or free
        return chosen_list[0] if chosen_list else None

    def busy(self) -> bool:
        """A terminal operation is running: a pre-authorisation waits for its card or a
        settlement is on its way (end-of-day waits for both)."""
        return self.end_of_day_running or any(
            r.state in ("requested", "settling") for r in self.records.values())

    def settles(self, local_tx_id: int) -> bool:
        """The cost of transaction ``local_tx_id`` is this flow's (a paid session)."""
        return any(r.local_tx_id == local_tx_id
                   for r in [*self.records.values(), *self.finished])

    def price_text(self) -> str:
        return (f"Pay by card: {self._message() or self.tariff.price_text()}; "
                f"{self.settings.pre_authorisation_cents / 100:.2f} "
                f"{self.tariff.currency} reserved, only the cost is charged")

    def running_cost(self, c: Connector) -> Cost | None:
        """The cost so far of the paid session on ``c`` (None: not a paid session)."""
        for r in self.records.values():
            if r.state == "charging" and r.connector_id == c.connector_id and c.tx is not None:
                energy = (c.energy_wh() or r.meter_start_wh) - r.meter_start_wh
                tariff = Tariff.from_dict(r.tariff)
                return tariff.cost(energy, c.reading_at_s - r.started_at_s
                                   if c.reading_at_s else 0.0, r.pre_authorised_cents)
        return None

    # ------------------------------------------------------------------ events
    def on_requested(self, event: ev.PaymentRequested, now: float) -> list[fx.Effect]:
        return self._request(event.connector_id, now)

    def _request(self, connector_id: int, now: float, armed: bool = False) -> list[fx.Effect]:
        if self.terminal_fault:
            return [self._say(connector_id, f"Card payment out of order: {self.terminal_fault}")]
        if self.busy():
            return [self._say(connector_id, "Payment terminal busy, please wait")]
        target = self._target(connector_id)
        if connector_id and target is None:
            return [self._say(connector_id, f"Connector {connector_id} is not free for a "
                                            "card payment")]
        # Without a free connector the tap may still stop a paid session (same card).
        r = PaymentRecord(self.next_payment_id, "requested", now, self.tariff.as_dict(),
                          self.settings.pre_authorisation_cents,
                          target.connector_id if target is not None else 0,
                          armed_on_plug=armed)
        self.next_payment_id += 1
        return [self._save(r), self._say(r.connector_id, self.price_text()),
                fx.PreAuthorisePayment(r.payment_id, r.pre_authorised_cents)]

    def on_cancel(self, event: ev.PaymentCancelRequested, now: float) -> list[fx.Effect]:
        return [fx.AbortPayment(r.payment_id) for r in self.records.values()
                if r.state == "requested"]

    def on_release(self, event: ev.PaymentReleaseRequested, now: float) -> list[fx.Effect]:
        """Reverse a ``lost`` pre-authorisation by the receipt number a technician read
        off the terminal: the same persisted settle path as any reversal (exactly once; a
        terminal that refuses a receipt it never booked fails it visibly). Anything but a
        lost record, or a receipt another payment holds, changes nothing."""
        r = event.record
        receipt = event.receipt_number
        if r.state != "lost":
            return [self._say(0, "Only a lost payment can be released")]
        if not 1 <= receipt <= 9999:
            return [self._say(r.connector_id, "A receipt number is 1-9999")]
        if any(o.receipt_number == receipt for o in self.records.values()):
            return [self._say(r.connector_id, f"Receipt {receipt} belongs to a running "
                                              "payment")]
        r = replace(r, receipt_number=receipt, note="released by a technician")
        return self._settle(r, 0, None) + [self._say(
            r.connector_id, f"Releasing the reservation of receipt {receipt}")]

    def on_pre_authorised(self, event: ev.PaymentPreAuthorised,
                          now: float) -> list[fx.Effect]:
        r = self.records.get(event.payment_id)
        if r is None or r.state != "requested":
            return []
        id_tag = id_tag_for(event.card_token or event.pan_masked, self.settings.id_tag_scheme,
                            self.settings.id_tag_prefix)
        r = replace(r, state="authorised", receipt_number=event.receipt_number,
                    pre_authorised_cents=event.amount_cents or r.pre_authorised_cents,
                    id_tag=id_tag, pan_masked=event.pan_masked, card_name=event.card_name)
        for c in self.host.connectors.values():
            if c.tx is not None and c.tx.id_tag == id_tag:
                # The same card again: it stops its own session; this new reservation
                # is released at once.
                out = self.host._stop_transaction(c, "Local", id_tag, now)
                return out + self._settle(replace(r, connector_id=c.connector_id,
                                                  note="stop tap"), 0, None)
        target = self._target(r.connector_id, r.payment_id)
        if target is None:
            return self._settle(replace(r, note="no free connector"), 0, None) + [
                self._say(r.connector_id, "No free connector: the reservation is released")]
        r = replace(r, connector_id=target.connector_id)
        out = self.host._authorize_connector(target, Authorization(
            id_tag, None, "payment", now, token_type="DirectPayment"), now)
        if target.authorization is None or target.authorization.id_tag != id_tag:
            return out + self._settle(replace(r, note="connector refused the start"), 0, None)
        return out + [self._save(r), self._say(target.connector_id, (
            f"Card accepted ({event.card_name or 'card'} {event.pan_masked[-4:]}): "
            f"{'charging starts' if target.ev_plugged else 'plug in to start'}"))]

    def on_refused(self, event: ev.PaymentRefused, now: float) -> list[fx.Effect]:
        r = self.records.get(event.payment_id)
        if r is None:
            return []
        if event.operation == "pre_authorise" and r.state == "requested":
            r = replace(r, state="declined", note=event.reason[:200])
            return [self._save(r), self._say(r.connector_id,
                                             f"Card payment declined: {event.reason}"[:200])]
        if event.operation == "settle" and r.state == "settling":
            if r.attempts > 1:
                # a repeated attempt: the terminal already booked this receipt
                return self._finish(replace(r, note=f"already settled at the terminal "
                                                    f"({event.reason})"[:200]), now)
            r = replace(r, state="failed", note=event.reason[:200])
            return [self._save(r), self._report(r, "Failed", now),
                    self._say(r.connector_id, f"Payment could not be settled: {event.reason}"
                              f" (receipt {r.receipt_number})"[:200])]
        return []

    def on_settled(self, event: ev.PaymentSettled, now: float) -> list[fx.Effect]:
        r = self.records.get(event.payment_id)
        if r is None or r.state != "settling":
            return []
        return self._finish(r, now)

    def on_receipt_offered(self, event: ev.PaymentReceiptOffered,
                           now: float) -> list[fx.Effect]:
        """Keep and show the CSMS's receipt link of the latest settled payment of that
        idTag (of the last ten final ones: the answer comes right after the settlement);
        an idTag with none changes nothing."""
        done = [r for r in self.finished if r.id_tag == event.id_tag and r.state == "done"]
        url = event.receipt_url[:2000]
        if not done or not url:
            return []
        r = replace(max(done, key=lambda r: r.payment_id), csms_receipt_url=url)
        return [self._save(r), self._say(r.connector_id, self.receipt_text(r))]

    def on_terminal_failed(self, event: ev.PaymentTerminalFailed,
                           now: float) -> list[fx.Effect]:
        self.terminal_fault = event.reason[:120] or "no answer"
        out: list[fx.Effect] = [fx.StartTimer(PaymentRetry(0), TERMINAL_CHECK_S)]
        r = self.records.get(event.payment_id)
        if event.operation == "end_of_day":
            self.end_of_day_running = False
            out += self._arm_end_of_day(now, retry_s=END_OF_DAY_BUSY_RETRY_S)
        if r is None:
            return out + [self._say(0, f"Payment terminal fault: {self.terminal_fault}")]
        if r.state == "requested":
            r = replace(r, state="lost", note=f"pre-authorisation outcome unknown: "
                                               f"{event.reason}"[:200])
            out += [self._save(r)]
        elif r.state == "settling":
            delay = RETRY_S[min(r.attempts, len(RETRY_S)) - 1] if r.attempts else RETRY_S[0]
            out += [fx.StartTimer(PaymentRetry(r.payment_id), delay)]
        return out + [self._say(r.connector_id, f"Payment terminal fault: {self.terminal_fault}")]

    def on_terminal_checked(self, event: ev.PaymentTerminalChecked,
                            now: float) -> list[fx.Effect]:
        if event.ready:
            self.terminal_fault = ""
            return []
        self.terminal_fault = event.text[:120] or "not ready"
        return [fx.StartTimer(PaymentRetry(0), TERMINAL_CHECK_S)]

    def on_end_of_day(self, event: ev.PaymentEndOfDayFinished, now: float) -> list[fx.Effect]:
        self.end_of_day_running = False
        text = (f"End-of-day done: {(event.total_cents or 0) / 100:.2f} {self.tariff.currency}"
                if event.ok else f"End-of-day failed: {event.text}")
        return [self._say(0, text[:200])] + self._arm_end_of_day(now)

    def on_timer(self, key: PaymentRetry | PaymentEndOfDay, now: float) -> list[fx.Effect]:
        if isinstance(key, PaymentEndOfDay):
            if self.busy():
                return self._arm_end_of_day(now, retry_s=END_OF_DAY_BUSY_RETRY_S)
            self.end_of_day_running = True
            return [fx.RunEndOfDay()]
        if key.payment_id == 0:
            return [fx.CheckPaymentTerminal()]
        r = self.records.get(key.payment_id)
        if r is None or r.state != "settling":
            return []
        return self._send_settle(r)

    def on_tariff(self, event: ev.TariffChangeRequested, now: float) -> list[fx.Effect]:
        try:
            tariff = Tariff.from_dict(event.tariff)
        except ValueError as error:
            return [fx.Reply(event.ref, {"status": "Rejected", "info": str(error)[:200]})]
        self.tariff = tariff
        # a session already started keeps the tariff shown before its start
        return [fx.PersistTariff(tariff.as_dict()), fx.Reply(event.ref, {"status": "Accepted"}),
                self._say(0, self.price_text())]

    def on_started(self, now: float) -> list[fx.Effect]:
        """After a restart: settle what was settling, release what never started, say
        what was lost; check the terminal; arm the end-of-day."""
        out: list[fx.Effect] = [fx.CheckPaymentTerminal()]
        for r in list(self.records.values()):
            if r.state == "settling":
                out += self._send_settle(r)
            elif r.state == "authorised":
                out += self._settle(replace(r, note="restarted before the start"), 0, None)
            elif r.state == "requested":
                out += [self._save(replace(r, state="lost", note=(
                    "agent restarted while the pre-authorisation ran; no receipt stored")))]
            # "charging": its transaction comes back as RecoveredTransaction (PowerLoss),
            # whose end settles it (after())
        return out + self._arm_end_of_day(now)

    def on_plugged(self, c: Connector, now: float) -> list[fx.Effect]:
        if (self.settings.arm_on_plug and c in self._served() and self._free(c)
                and not self.busy() and not self.terminal_fault):
            return self._request(c.connector_id, now, armed=True)
        return []

    # ------------------------------------------------------------------ budget, links
    def before_sync(self, now: float) -> list[fx.Effect]:
        """Stop a paid session whose running cost reached its reservation (before the
        station derives its outputs: the contactor opens in this same batch)."""
        out: list[fx.Effect] = []
        for c in self._served():
            cost = self.running_cost(c)
            if cost is not None and cost.capped:
                out += self.host._stop_transaction(c, "Local", None, now)
                out.append(self._say(c.connector_id, "Reserved amount reached: charging stopped"))
        return out

    def after(self, effects: list[fx.Effect], now: float) -> list[fx.Effect]:
        """Link starts to payments, settle ended ones (the cost report is queued just
        before the transaction's end, so both OCPP versions still know the transaction),
        release reservations whose authorisation went away."""
        if not self.records:
            return effects
        out: list[fx.Effect] = []
        for effect in effects:
            if isinstance(effect, fx.SendTransactionEnded):
                r = self._record_of_tx(effect.local_tx_id)
                if r is not None:
                    settle = self._on_ended(r, effect, now)
                    out += [e for e in settle if isinstance(e, fx.SendPaymentReport)]
                    out.append(effect)
                    out += [e for e in settle if not isinstance(e, fx.SendPaymentReport)]
                    continue
            out.append(effect)
            if isinstance(effect, fx.SendTransactionStarted):
                for r in list(self.records.values()):
                    if (r.state == "authorised" and r.connector_id == effect.connector_id
                            and r.id_tag == effect.id_tag):
                        out.append(self._save(replace(
                            r, state="charging", local_tx_id=effect.local_tx_id,
                            meter_start_wh=effect.meter_start_wh,
                            started_at_s=effect.timestamp_s)))
        for r in list(self.records.values()):
            c = self.host.connectors.get(r.connector_id)
            if r.state == "authorised" and c is not None and (
                    c.authorization is None or c.authorization.id_tag != r.id_tag):
                out += self._settle(replace(r, note="not started (connection timeout)"), 0,
                                    None)
                out.append(self._say(c.connector_id, "No charging started: the reservation "
                                                     "is released"))
            elif (r.state == "requested" and c is not None and not r.note
                  and (c.tx is not None or c.authorization is not None
                       or (r.armed_on_plug and not c.ev_plugged))):
                # RFID or a remote start took the connector, or the EV left before the
                # card came: stop waiting for a card (answered by PaymentRefused)
                out.append(fx.AbortPayment(r.payment_id))
                self.records[r.payment_id] = replace(r, note="aborting")
        return out

    def _record_of_tx(self, local_tx_id: int) -> PaymentRecord | None:
        for r in self.records.values():
            if r.state == "charging" and r.local_tx_id == local_tx_id:
                return r
        return None

    def _on_ended(self, r: PaymentRecord, ended: fx.SendTransactionEnded,
                  now: float) -> list[fx.Effect]:
        tariff = Tariff.from_dict(r.tariff)
        cost = tariff.cost(ended.meter_stop_wh - r.meter_start_wh,
                           ended.timestamp_s - r.started_at_s, r.pre_authorised_cents)
        report = fx.SendPaymentReport(self.settings.vendor_id, "PaymentCost", {
            "transactionId": None, "paymentId": r.payment_id,
            "idTag": r.id_tag, "receiptNumber": r.receipt_number,
            "currency": tariff.currency, "preAuthorisedCents": r.pre_authorised_cents,
            "durationS": max(0, int(ended.timestamp_s - r.started_at_s)),
            **cost.as_dict(), "tariff": r.tariff}, ended.local_tx_id)
        settled = self._settle(replace(r, cost=cost.as_dict()), cost.total_cents, cost)
        return [report] + settled

    def _settle(self, r: PaymentRecord, capture_cents: int,
                cost: Cost | None) -> list[fx.Effect]:
        r = replace(r, state="settling", capture_cents=capture_cents, attempts=0)
        out = self._send_settle(r)
        if cost is not None:
            out.append(self._say(r.connector_id, (
                f"Total {cost.total_cents / 100:.2f} {Tariff.from_dict(r.tariff).currency} "
                f"for {cost.energy_wh / 1000:.3f} kWh (VAT {cost.vat_cents / 100:.2f})")))
        return out

    def _send_settle(self, r: PaymentRecord) -> list[fx.Effect]:
        receipt = r.receipt_number
        if receipt is None:  # nothing reserved by receipt: nothing to settle
            return [self._save(replace(r, state="lost", note="no receipt number"))]
        r = replace(r, attempts=r.attempts + 1)
        return [self._save(r), fx.CancelTimer(PaymentRetry(r.payment_id)),
                fx.SettlePayment(r.payment_id, receipt, r.capture_cents or 0,
                                 r.pre_authorised_cents)]

    def _finish(self, r: PaymentRecord, now: float) -> list[fx.Effect]:
        r = replace(r, state="done")
        out: list[fx.Effect] = [self._save(r), self._report(r, "Settled" if r.capture_cents
                                                            else "Canceled", now)]
        if r.capture_cents:
            out.append(self._say(r.connector_id, self.receipt_text(r)))
        elif r.note != "stop tap":
            out.append(self._say(r.connector_id, "Reservation released: nothing charged"))
        return out
    def receipt_url(self, r: PaymentRecord) -> str:
        return receipt_url(self.settings, r)

    def receipt_text(self, r: PaymentRecord) -> str:
        return receipt_text(self.settings, r)

    def _report(self, r: PaymentRecord, status: str, now: float) -> fx.SendPaymentReport:
        return settled_report(self.settings, r, status, now)

    def _arm_end_of_day(self, now: float, retry_s: float | None = None) -> list[fx.Effect]:
        if not self.settings.end_of_day_utc:
            return []
        if retry_s is not None:
            return [fx.StartTimer(PaymentEndOfDay(), retry_s)]
        hours, minutes = (int(x) for x in self.settings.end_of_day_utc.split(":"))
        day_s = 86400.0
        at = math.floor(now / day_s) * day_s + hours * 3600 + minutes * 60
        if at <= now:
            at += day_s
        return [fx.StartTimer(PaymentEndOfDay(), at - now)]
