"""Transactions as the CSMS saw them, rebuilt from the frame record on every access.

The view is derived, never maintained separately, so it cannot disagree with the record: a transaction
exists once a StartTransaction CALL was answered with a CALLRESULT carrying a transactionId. Stops and
meter values are attached by transactionId; one whose id no start produced (e.g. queued in a previous CSMS
run) gets an entry with `start` None. Chaos tests check the invariants from it: exactly one stop per
transaction (`len(stops) == 1`), meter values ordered, no transaction lost.

OCPP 2.0.1 stations choose their own string transactionId and report a transaction as TransactionEvent
Started / Updated / Ended: a `TransactionEventsView` per (string) id holds those CALLs and the CSMS answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from devcsms.recording import FROM_CP, TO_CP, Frame
from devcsms.v21 import OCPP2_SUBPROTOCOLS
from devcsms.validation import CALL, CALLRESULT


@dataclass
class TransactionView:
    """One transaction: its StartTransaction CALL (`start`), the CSMS answer (`start_reply`), every
    StopTransaction CALL naming it (`stops`, more than one means a duplicate) and every MeterValues CALL
    naming it (`meter_values`), all in record order."""

    transaction_id: int
    station: str
    start: Frame | None = None
    start_reply: Frame | None = None
    stops: list[Frame] = field(default_factory=list)
    meter_values: list[Frame] = field(default_factory=list)

    @property
    def connector_id(self) -> int | None:
        return self.start.payload.get("connectorId") if self.start else None

    @property
    def id_tag(self) -> str | None:
        return self.start.payload.get("idTag") if self.start else None

    @property
    def meter_start_wh(self) -> int | None:
        return self.start.payload.get("meterStart") if self.start else None

    @property
    def start_status(self) -> str | None:
        """idTagInfo.status the CSMS answered to the StartTransaction."""
        if self.start_reply is None or not isinstance(self.start_reply.payload, dict):
            return None
        return (self.start_reply.payload.get("idTagInfo") or {}).get("status")

    @property
    def stopped(self) -> bool:
        return bool(self.stops)

    @property
    def meter_stop_wh(self) -> int | None:
        """meterStop of the first StopTransaction, None while running."""
        return self.stops[0].payload.get("meterStop") if self.stops else None

    @property
    def stop_reason(self) -> str | None:
        """Reason of the first StopTransaction; OCPP 1.6 §7.36: absent means Local."""
        if not self.stops:
            return None
        return self.stops[0].payload.get("reason", "Local")

    @property
    def energy_wh(self) -> int | None:
        if self.meter_start_wh is None or self.meter_stop_wh is None:
            return None
        return self.meter_stop_wh - self.meter_start_wh


@dataclass
class TransactionEventsView:
    """One 2.0.1 transaction: every TransactionEvent CALL naming it (`events`, record order, retries
    included) and the CSMS answers to them (`replies`)."""

    transaction_id: str
    station: str
    events: list[Frame] = field(default_factory=list)
    replies: list[Frame] = field(default_factory=list)

    def _first(self, event_type: str) -> Frame | None:
        return next((frame for frame in self.events if frame.payload.get("eventType") == event_type), None)

    @property
    def started(self) -> Frame | None:
        """The first Started event, None when the record has none (it began before this CSMS watched)."""
        return self._first("Started")

    @property
    def ended(self) -> Frame | None:
        """The first Ended event, None while running."""
        return self._first("Ended")

    @property
    def stopped(self) -> bool:
        return self.ended is not None

    @property
    def ends(self) -> list[Frame]:
        """Every Ended event (more than one: a retry or a duplicate)."""
        return [frame for frame in self.events if frame.payload.get("eventType") == "Ended"]

    @property
    def seq_nos(self) -> list[int]:
        return [frame.payload.get("seqNo") for frame in self.events]

    @property
    def evse_id(self) -> int | None:
        return next((e["evse"].get("id") for e in self._payloads() if isinstance(e.get("evse"), dict)), None)

    @property
    def connector_id(self) -> int | None:
        evses = [e["evse"] for e in self._payloads() if isinstance(e.get("evse"), dict)]
        return next((evse["connectorId"] for evse in evses if "connectorId" in evse), None)

    @property
    def id_token(self) -> str | None:
        """The first idToken string any event carried."""
        tokens = [e["idToken"] for e in self._payloads() if isinstance(e.get("idToken"), dict)]
        return tokens[0].get("idToken") if tokens else None

    @property
    def stopped_reason(self) -> str | None:
        """transactionInfo.stoppedReason of the first Ended; absent means Local (local stop, [TC201 GR])."""
        ended = self.ended
        if ended is None:
            return None
        info = ended.payload.get("transactionInfo")
        return info.get("stoppedReason", "Local") if isinstance(info, dict) else None

    @property
    def energy_wh(self) -> float | None:
        """Energy.Active.Import.Register at the first Ended minus at the Started, when both carry it."""
        start = _energy_register_wh(self.started.payload) if self.started else None
        end = _energy_register_wh(self.ended.payload) if self.ended else None
        return None if start is None or end is None else end - start

    def _payloads(self) -> list[dict]:
        return [frame.payload for frame in self.events]


def _energy_register_wh(payload: dict) -> float | None:
    """The last Energy.Active.Import.Register sample (Wh, kWh converted) of an event's meterValue."""
    found = None
    meter_values = [value for value in payload.get("meterValue") or [] if isinstance(value, dict)]
    for meter_value in meter_values:
        for sample in meter_value.get("sampledValue") or []:
            if not isinstance(sample, dict) or sample.get("phase"):
                continue
            if sample.get("measurand", "Energy.Active.Import.Register") != "Energy.Active.Import.Register":
                continue
            value: Any = sample.get("value")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                unit = (sample.get("unitOfMeasure") or {}).get("unit", "Wh")
                found = float(value) * (1000.0 if unit == "kWh" else 1.0)
    return found


def build_transactions(frames: list[Frame]) -> dict[int | str, TransactionView | TransactionEventsView]:
    """transactionId → view, from recorded frames (any order of arrival is tolerated): 1.6 transactions
    by their integer id, 2.0.1 and 2.1 ones (the same TransactionEvent shape) by their string id."""
    views: dict[int | str, TransactionView | TransactionEventsView] = {}
    for number, view16 in build_transactions16([f for f in frames if f.protocol not in OCPP2_SUBPROTOCOLS]).items():
        views[number] = view16
    for text, view201 in build_transaction_events([f for f in frames if f.protocol in OCPP2_SUBPROTOCOLS]).items():
        views[text] = view201
    return views


def build_transaction_events(frames: list[Frame]) -> dict[str, TransactionEventsView]:
    """2.0.1/2.1 transactionId → TransactionEventsView, from the frames of 2.0.1 and 2.1 stations."""
    views: dict[str, TransactionEventsView] = {}
    by_seq = {frame.seq: frame for frame in frames}
    for frame in frames:
        if frame.action != "TransactionEvent" or not isinstance(frame.payload, dict):
            continue
        if frame.message_type == CALL:
            request: Frame | None = frame
        else:
            request = by_seq.get(frame.request_seq) if frame.request_seq is not None else None
        if request is None or request.direction != FROM_CP or not isinstance(request.payload, dict):
            continue
        info = request.payload.get("transactionInfo")
        transaction_id = info.get("transactionId") if isinstance(info, dict) else None
        if not isinstance(transaction_id, str):
            continue
        view = views.setdefault(transaction_id, TransactionEventsView(transaction_id, frame.station))
        if frame is request:
            view.events.append(frame)
        elif frame.direction == TO_CP and frame.message_type == CALLRESULT:
            view.replies.append(frame)
    return views


def build_transactions16(frames: list[Frame]) -> dict[int, TransactionView]:
    """1.6 transactionId → TransactionView, from the frames of 1.6 stations."""
    by_seq = {frame.seq: frame for frame in frames}
    views: dict[int, TransactionView] = {}

    def view_for(transaction_id: int, station: str) -> TransactionView:
        if transaction_id not in views:
            views[transaction_id] = TransactionView(transaction_id, station)
        return views[transaction_id]

    for frame in frames:
        payload = frame.payload if isinstance(frame.payload, dict) else {}
        if frame.direction == TO_CP and frame.message_type == CALLRESULT and frame.action == "StartTransaction":
            transaction_id = payload.get("transactionId")
            if isinstance(transaction_id, int):
                view = view_for(transaction_id, frame.station)
                view.start = by_seq.get(frame.request_seq) if frame.request_seq is not None else None
                view.start_reply = frame
        elif frame.direction == FROM_CP and frame.message_type == CALL:
            transaction_id = payload.get("transactionId")
            if not isinstance(transaction_id, int):
                continue
            if frame.action == "StopTransaction":
                view_for(transaction_id, frame.station).stops.append(frame)
            elif frame.action == "MeterValues":
                view_for(transaction_id, frame.station).meter_values.append(frame)
    return views
