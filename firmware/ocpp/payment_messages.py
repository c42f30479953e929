"""The payment messages as OCPP DataTransfer, the same in 1.6 and 2.0.1 (README
"Paying by card" documents the format).

Station -> CSMS, queued durably with the transaction messages (``SendPaymentReport``):
``DataTransfer(vendorId=[payment] vendor_id, messageId="PaymentCost" | "PaymentSettled",
data=JSON)``; in 1.6 ``data`` is the JSON text (1.6 types it as a string), in 2.0.1 the
JSON object. "PaymentCost" goes just before its transaction's end and carries the
transaction's ``transactionId`` (1.6: the CSMS's integer, filled in when the message
leaves; 2.0.1: the station's id string).

CSMS -> station: ``messageId="SetTariff"``, ``data`` the tariff's JSON form
(``firmware.core.tariff.Tariff.as_dict``; 1.6: as text) -> Accepted, or Rejected with the
reason in ``data``; ``messageId="GetTariff"`` -> Accepted with the tariff in ``data``.
Another vendorId: UnknownVendorId; another messageId: UnknownMessageId.
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

from firmware.core import effects as fx
from firmware.core import events as ev

MAX_DATA_CHARS = 10_000


def encode(effect: fx.SendPaymentReport, *, as_text: bool,
           transaction_id: int | str | None = None) -> tuple[str, dict[str, Any]]:
    data = dict(effect.data)
    if "transactionId" in data and transaction_id is not None:
        data["transactionId"] = transaction_id
    body: Any = json.dumps(data, separators=(",", ":"), sort_keys=True) if as_text else data
    return "DataTransfer", {"vendorId": effect.vendor_id, "messageId": effect.message_id,
                            "data": body}


def with_transaction_id_16(payload: dict[str, Any], transaction_id: int) -> dict[str, Any]:
    """Fill the CSMS's transactionId into a queued 1.6 PaymentCost (its data is text)."""
    try:
        data = json.loads(payload.get("data", ""))
    except (TypeError, ValueError):
        return payload
    if not isinstance(data, dict) or "transactionId" not in data:
        return payload
    data["transactionId"] = transaction_id
    return {**payload, "data": json.dumps(data, separators=(",", ":"), sort_keys=True)}


Request = Callable[[ev.Event], Awaitable[dict[str, Any]]]


async def answer(payload: dict[str, Any], vendor_id: str | None, tariff: dict[str, Any] | None,
                 request: Request, ref: Any, *, as_text: bool) -> dict[str, Any]:
    """The answer to a CSMS DataTransfer; ``vendor_id`` None: no payment terminal."""
    if vendor_id is None or payload.get("vendorId") != vendor_id:
        return {"status": "UnknownVendorId"}
    message_id = payload.get("messageId")
    if message_id == "GetTariff":
        return {"status": "Accepted",
                "data": json.dumps(tariff, sort_keys=True) if as_text else tariff}
    if message_id != "SetTariff":
        return {"status": "UnknownMessageId"}
    data = payload.get("data")
    if isinstance(data, str):
        if len(data) > MAX_DATA_CHARS:
            return {"status": "Rejected", "data": "tariff too long"}
        try:
            data = json.loads(data)
        except ValueError as error:
            return {"status": "Rejected", "data": f"data is not JSON: {error}"[:200]}
    fields = await request(ev.TariffChangeRequested(ref, data))
    out: dict[str, Any] = {"status": fields.get("status", "Rejected")}
    if fields.get("info"):
        out["data"] = str(fields["info"])
    return out
