"""The payment facts of the core as OCPP 2.1 messages (use case C18, a payment terminal
connected to the station; ocpp201-rules.md §9). 2.0.1 has no such messages and sends
both as the documented DataTransfer (``firmware.ocpp.payment_messages``).

- "PaymentCost" (the cost the station computed, just before its transaction's end)
  becomes the Ended TransactionEvent's ``costDetails`` (2.1 local cost calculation,
  I12): totalCost in the tariff's currency, net and gross, typeOfCost NormalCost (the
  cap at the reserved amount is noted as MaxCost); totalUsage energy in Wh (the schema
  names no unit; Wh is the unit of OCPP's meter values), chargingTime the session's
  seconds, idleTime 0 (the station does not measure time without energy flow).
- "PaymentSettled" becomes **NotifySettlement**: pspRef = the payment idTag the session
  ran under ("the payment reference received from the payment terminal and is used as
  the value for idToken", [S21]), status Settled / Canceled / Failed (a declined card is
  never settled and never reported), settlementAmount in currency units,
  settlementTime, the transactionId (absent when no transaction ran: canceled before
  start), the terminal's receipt number as receiptId and the receipt URL.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

_STATUSES = frozenset({"Settled", "Canceled", "Rejected", "Failed"})


def _amount(cents: object) -> float:
    """Currency units of a cent count (exact for any amount a terminal books)."""
    return float(Decimal(int(cents) if isinstance(cents, int) else 0) / 100)


def cost_details(data: dict[str, Any]) -> dict[str, Any]:
    """TransactionEvent.costDetails from a PaymentCost report's ``data``."""
    return {
        "totalCost": {
            "currency": str(data.get("currency", "EUR"))[:3],
            "typeOfCost": "MaxCost" if data.get("capped") else "NormalCost",
            "total": {"exclTax": _amount(data.get("netCents")),
                      "inclTax": _amount(data.get("totalCents"))},
        },
        "totalUsage": {"energy": int(data.get("energyWh", 0) or 0),
                       "chargingTime": max(0, int(data.get("durationS", 0) or 0)),
                       "idleTime": 0},
    }


def notify_settlement(data: dict[str, Any], transaction_id: str | None) -> dict[str, Any]:
    """NotifySettlementRequest from a PaymentSettled report's ``data``."""
    status = str(data.get("status", "Failed"))
    payload: dict[str, Any] = {
        "pspRef": str(data.get("idTag") or data.get("paymentId", ""))[:255],
        "status": status if status in _STATUSES else "Failed",
        "settlementAmount": _amount(data.get("settledCents")),
        "settlementTime": str(data.get("settledAt", "")),
    }
    if transaction_id:
        payload["transactionId"] = transaction_id[:36]
    if data.get("info"):
        payload["statusInfo"] = str(data["info"])[:500]
    if data.get("receiptNumber") is not None:
        payload["receiptId"] = str(data["receiptNumber"])[:50]
    if data.get("receiptUrl"):
        payload["receiptUrl"] = str(data["receiptUrl"])[:2000]
    return payload
