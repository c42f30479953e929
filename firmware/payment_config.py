"""``[payment]`` in the site config: the ad-hoc tariff and how card payments run.

Prices are written as strings ("0.49") so they are exact (``firmware.core.tariff``);
they are **net**, VAT is added once on the total. Only used on a board with a
``[[payment]]`` terminal; without one the section is validated and ignored.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from firmware.core.payment import ID_TAG_SCHEMES, PaymentSettings
from firmware.core.tariff import Tariff, parse_amount
from hal.options import Option, optional

_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_VENDOR_ID = re.compile(r"^[A-Za-z0-9._:-]{1,255}$")


def _price(places: int, maximum: str = "1000") -> Any:
    def check(value: str) -> str | None:
        try:
            parse_amount(value, "price", max_places=places, maximum=Decimal(maximum))
        except ValueError as error:
            return str(error).removeprefix("price ").removeprefix("price: ")
        return None
    return check


def _currency(value: str) -> str | None:
    ok = len(value) == 3 and value.isalpha() and value.isupper()
    return None if ok else "must be an ISO 4217 code such as \"EUR\""


def _end_of_day(value: str) -> str | None:
    return None if value == "" or _HHMM.match(value) else "must be \"HH:MM\" (UTC) or \"\""


def _receipt_url(value: str) -> str | None:
    if value == "":
        return None
    if not value.startswith(("https://", "http://")) or len(value) > 500:
        return "must be an http(s):// URL template of at most 500 characters"
    try:
        value.format(station="S", payment_id=1, receipt=1, total_cents=1)
    except (KeyError, IndexError, ValueError) as error:
        return (f"unknown placeholder {error}: use {{station}}, {{payment_id}}, {{receipt}}, "
                "{total_cents}")
    return None


PAYMENT_OPTIONS: tuple[Option, ...] = (
    optional("currency", str, "EUR", "ISO 4217 code shown with prices", check=_currency),
    optional("energy_price_per_kwh", str, "0.40", "net price per kWh, e.g. \"0.40\" "
             "(a string: exact)", check=_price(4)),
    optional("session_fee", str, "0", "net fee per session (charged only when energy "
             "flowed)", check=_price(2)),
    optional("time_fee_per_min", str, "0", "net fee per started minute after the grace",
             check=_price(4)),
    optional("time_fee_grace_min", int, 0, "minutes of a session free of the time fee",
             minimum=0, maximum=1440),
    optional("vat_percent", str, "19", "VAT rate added to the net total, %",
             check=_price(2, "100")),
    optional("pre_authorisation_cents", int, 5000, "amount reserved on the card before "
             "the start, cents; the session stops when its cost reaches it",
             minimum=100, maximum=1_000_000),
    optional("id_tag_scheme", str, "hash", "payment idTag from the card token: 'hash' "
             "(prefix + SHA-256 digits) or 'pan' (prefix + masked PAN digits)",
             choices=ID_TAG_SCHEMES),
    optional("id_tag_prefix", str, "PAY-", "prefix of every payment idTag (<= 8 characters)",
             check=lambda v: None if len(v) <= 8 and v.isprintable() else
             "must be at most 8 printable characters"),
    optional("vendor_id", str, "org.borne.payment", "DataTransfer vendorId of the payment "
             "messages (both directions)",
             check=lambda v: None if _VENDOR_ID.match(v) else
             "must be 1-255 characters: letters, digits, . _ : -"),
    optional("receipt_url", str, "", "receipt link shown and sent after the capture; "
             "placeholders {station} {payment_id} {receipt} {total_cents}",
             check=_receipt_url),
    optional("end_of_day_utc", str, "", "time of the daily end-of-day, \"HH:MM\" UTC "
             "(empty: never); postponed while a payment runs", check=_end_of_day),
    optional("arm_on_plug", bool, True, "a plug-in on a served connector starts waiting "
             "for a card at once (an unattended ad-hoc charger: plug in, tap the card; an "
             "RFID tap or a remote start instead aborts the wait); false: a payment starts "
             "with console `pay` / `sim card` only (a charger whose display starts it)"),
)


def tariff_of(values: dict[str, Any]) -> Tariff:
    return Tariff(currency=values["currency"],
                  energy_per_kwh=Decimal(values["energy_price_per_kwh"]),
                  session_fee=Decimal(values["session_fee"]),
                  time_fee_per_min=Decimal(values["time_fee_per_min"]),
                  time_grace_min=values["time_fee_grace_min"],
                  vat_percent=Decimal(values["vat_percent"]))


def payment_settings(values: dict[str, Any], connectors: tuple[int, ...],
                     station_id: str) -> PaymentSettings:
    return PaymentSettings(
        tariff=tariff_of(values), pre_authorisation_cents=values["pre_authorisation_cents"],
        id_tag_scheme=values["id_tag_scheme"], id_tag_prefix=values["id_tag_prefix"],
        vendor_id=values["vendor_id"], receipt_url=values["receipt_url"],
        end_of_day_utc=values["end_of_day_utc"], arm_on_plug=values["arm_on_plug"],
        connectors=connectors, station_id=station_id)
