"""The payment's persisted record, its settings, the payment idTag scheme and the
receipt/report texts (``firmware.core.payment`` runs the flow)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from dataclasses import asdict, dataclass
from typing import Any

from . import effects as fx
from .tariff import Tariff

FINAL = ("done", "declined", "failed", "lost")
ID_TAG_SCHEMES = ("hash", "pan")


def id_tag_for(card_token: str, scheme: str, prefix: str) -> str:
    """The payment idTag of a card (<= 20 characters, OCPP 1.6 CiString20).

    ``hash``: ``prefix`` + the first hex digits of SHA-256(token) (a stable, non-reversible
    id; the default). ``pan``: ``prefix`` + the masked PAN's last digits (readable on a
    CSMS, but two cards may share them)."""
    room = max(4, 20 - len(prefix))
    if scheme == "pan":
        digits = "".join(ch for ch in card_token if ch.isdigit())
        return (prefix + digits[-room:])[:20]
    return (prefix + hashlib.sha256(card_token.encode()).hexdigest().upper()[:room])[:20]


@dataclass(frozen=True)
class PaymentSettings:
    """The site's ``[payment]`` (firmware.config) plus the board's terminal."""

    tariff: Tariff
    pre_authorisation_cents: int = 5000
    id_tag_scheme: str = "hash"
    id_tag_prefix: str = "PAY-"
    vendor_id: str = "org.borne.payment"
    receipt_url: str = ""            # e.g. "https://pay.example/r/{station}/{payment_id}"
    end_of_day_utc: str = ""          # "HH:MM", empty: never
    arm_on_plug: bool = False
    connectors: tuple[int, ...] = ()  # those the terminal serves (empty: all)
    station_id: str = ""


@dataclass(frozen=True)
class PaymentRecord:
    payment_id: int
    state: str
    created_at_s: float
    tariff: dict[str, Any]           # the tariff shown before the start: the one billed
    pre_authorised_cents: int
    connector_id: int = 0
    receipt_number: int | None = None
    id_tag: str = ""
    pan_masked: str = ""
    card_name: str = ""
    local_tx_id: int | None = None
    meter_start_wh: int = 0
    started_at_s: float = 0.0
    capture_cents: int | None = None
    cost: dict[str, Any] | None = None
    attempts: int = 0
    note: str = ""
    armed_on_plug: bool = False
    csms_receipt_url: str = ""       # the receipt the CSMS made (2.1), shown instead of ours

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PaymentRecord:
        return cls(**data)


def receipt_url(settings: PaymentSettings, r: PaymentRecord) -> str:
    """The receipt link of a settled payment: the CSMS's when it made one, else the
    configured template's (empty: none configured)."""
    if r.csms_receipt_url:
        return r.csms_receipt_url
    template = settings.receipt_url
    if not template:
        return ""
    try:
        return template.format(station=settings.station_id, payment_id=r.payment_id,
                               receipt=r.receipt_number or 0,
                               total_cents=r.capture_cents or 0)[:2000]
    except (KeyError, IndexError, ValueError):
        return ""


def receipt_text(settings: PaymentSettings, r: PaymentRecord) -> str:
    currency = Tariff.from_dict(r.tariff).currency
    cost = r.cost or {}
    url = receipt_url(settings, r)
    return (f"Receipt {r.receipt_number}: {(r.capture_cents or 0) / 100:.2f} {currency} "
            f"({cost.get('energyWh', 0) / 1000:.3f} kWh, VAT "
            f"{cost.get('vatCents', 0) / 100:.2f}) {r.card_name} {r.pan_masked}"
            + (f" {url}" if url else ""))[:300]


def settled_report(settings: PaymentSettings, r: PaymentRecord, status: str,
                   now: float) -> fx.SendPaymentReport:
    """DataTransfer "PaymentSettled" (README "Paying by card")."""
    data: dict[str, Any] = {
        "paymentId": r.payment_id, "status": status, "idTag": r.id_tag,
        "receiptNumber": r.receipt_number,
        "settledCents": (r.capture_cents or 0) if status != "Failed" else 0,
        "preAuthorisedCents": r.pre_authorised_cents,
        "currency": Tariff.from_dict(r.tariff).currency,
        "settledAt": datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if r.note:
        data["info"] = r.note[:200]
    url = receipt_url(settings, r)
    if url:
        data["receiptUrl"] = url
    paid = (r.local_tx_id, r.started_at_s) if r.local_tx_id is not None else None
    return fx.SendPaymentReport(settings.vendor_id, "PaymentSettled", data,
                                paid_transaction=paid)
