"""Transactions as the CSMS saw them, rebuilt from the frame record on every access.

The view is derived, never maintained separately, so it cannot disagree with the record: a transaction
exists once a StartTransaction CALL was answered with a CALLRESULT carrying a transactionId. Stops and
meter values are attached by transactionId; one whose id no start produced (e.g. queued in a previous CSMS
run) gets an entry with `start` None. Chaos tests check the invariants from it: exactly one stop per
transaction (`len(stops) == 1`), meter values ordered, no transaction lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from devcsms.recording import FROM_CP, TO_CP, Frame
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


def build_transactions(frames: list[Frame]) -> dict[int, TransactionView]:
    """transactionId → TransactionView, from recorded frames (any order of arrival is tolerated)."""
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
