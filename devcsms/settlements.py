"""The NotifySettlements (OCPP 2.1 C18/C24) the CSMS accepted, rebuilt from the frame record on every
access, like `devcsms.transactions`.

A settlement counts once the CSMS answered its NotifySettlement CALL with a CALLRESULT: a refused one
(CALLERROR, e.g. a missing pspRef) changed nothing and is not listed, though it stays in the record and
in the violations. A re-sent CALL (after a lost CALLRESULT) is listed again: judge duplicates by `psp_ref`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devcsms.recording import FROM_CP, TO_CP, Frame
from devcsms.validation import CALL, CALLRESULT


@dataclass(frozen=True)
class SettlementView:
    """One accepted NotifySettlementRequest (`request`) and the CSMS answer (`reply`).

    `settlement_amount` is the JSON number as sent (the schema gives no unit; the currency is the
    tariff's), `settlement_time` the RFC 3339 text, `transaction_id` None when the payment was canceled
    before an OCPP transaction existed. A field is None when absent: a scripted `Reply` can accept a
    request the schema refuses."""

    station: str
    request: Frame
    reply: Frame

    @property
    def payload(self) -> dict[str, Any]:
        payload = self.request.payload
        return payload if isinstance(payload, dict) else {}

    @property
    def psp_ref(self) -> str | None:
        return self.payload.get("pspRef")

    @property
    def status(self) -> str | None:
        return self.payload.get("status")

    @property
    def settlement_amount(self) -> float | None:
        return self.payload.get("settlementAmount")

    @property
    def settlement_time(self) -> str | None:
        return self.payload.get("settlementTime")

    @property
    def transaction_id(self) -> str | None:
        return self.payload.get("transactionId")

    @property
    def receipt_url(self) -> str | None:
        return self.payload.get("receiptUrl")


def build_settlements(frames: list[Frame]) -> list[SettlementView]:
    """The accepted NotifySettlements of all stations, in the order the CSMS answered them."""
    by_seq = {frame.seq: frame for frame in frames}
    settlements: list[SettlementView] = []
    for frame in frames:
        if frame.action != "NotifySettlement" or frame.direction != TO_CP or frame.message_type != CALLRESULT:
            continue
        request = by_seq.get(frame.request_seq) if frame.request_seq is not None else None
        if (
            request is None
            or request.direction != FROM_CP
            or request.message_type != CALL
            or not isinstance(request.payload, dict)
        ):
            continue
        settlements.append(SettlementView(request.station, request, frame))
    return settlements
