"""The ad-hoc tariff and the cost of one paid session, in integer cents.

Prices are **net** (before VAT) in the currency's main unit, kept as ``Decimal`` so that
"0.49" is 0.49 and not 0.48999...; the cost is computed exactly and rounded **once**:

    minutes  = ceil(max(0, duration_s - time_grace_min * 60) / 60)   (started minutes)
    net      = session_fee + energy_wh / 1000 * energy_per_kwh + minutes * time_fee_per_min
    gross    = net * (1 + vat_percent / 100)
    total_cents = round_half_up(gross * 100)
    net_cents   = round_half_up(net * 100);  vat_cents = total_cents - net_cents

so the receipt's net + VAT always equals the total captured. A zero-energy session costs
nothing (no session fee, no time fee): the pre-authorisation is reversed in full (a
driver whose car took no energy is not charged; documented in README "Paying by card").
The total is capped at the pre-authorised amount (a terminal cannot capture more; the
session stops when the running cost reaches it, ``PaymentFlow``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

MAX_PRICE = Decimal("1000")  # per kWh, per minute or per session, main unit


def parse_amount(value: object, what: str, *, max_places: int = 4,
                 maximum: Decimal = MAX_PRICE) -> Decimal:
    """A non-negative decimal amount from TOML/JSON (a string "0.49", an int, or a float
    written with at most ``max_places`` decimals); ``ValueError`` says why not."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"{what} must be a number such as \"0.49\", got {value!r}")
    if isinstance(value, str) and len(value) > 32:
        raise ValueError(f"{what}: too long to be a price")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{what} must be a number such as \"0.49\", got {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    if amount < 0 or amount > maximum:
        raise ValueError(f"{what} must be between 0 and {maximum}, got {value!r}")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > max_places:
        raise ValueError(f"{what} has more than {max_places} decimal places: {value!r}")
    return amount


def round_cents(amount: Decimal) -> int:
    """``amount`` in the main unit, rounded half up to whole cents."""
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Cost:
    energy_wh: int
    minutes_billed: int
    net_cents: int
    vat_cents: int
    total_cents: int
    capped: bool = False  # the total was cut to the pre-authorised amount

    def as_dict(self) -> dict[str, int | bool]:
        return {"energyWh": self.energy_wh, "minutesBilled": self.minutes_billed,
                "netCents": self.net_cents, "vatCents": self.vat_cents,
                "totalCents": self.total_cents, "capped": self.capped}


@dataclass(frozen=True)
class Tariff:
    currency: str = "EUR"              # ISO 4217 alpha code, shown with prices
    energy_per_kwh: Decimal = Decimal("0.40")
    session_fee: Decimal = Decimal("0")
    time_fee_per_min: Decimal = Decimal("0")
    time_grace_min: int = 0
    vat_percent: Decimal = Decimal("19")

    def cost(self, energy_wh: int, duration_s: float, cap_cents: int | None = None) -> Cost:
        """The cost of a session of ``energy_wh`` (>= 0) lasting ``duration_s``."""
        energy_wh = max(0, int(energy_wh))
        if energy_wh == 0:
            return Cost(0, 0, 0, 0, 0)
        billable_s = max(0.0, float(duration_s) - self.time_grace_min * 60)
        minutes = math.ceil(billable_s / 60) if math.isfinite(billable_s) else 0
        net = (self.session_fee + Decimal(energy_wh) / 1000 * self.energy_per_kwh
               + minutes * self.time_fee_per_min)
        total = round_cents(net * (1 + self.vat_percent / 100))
        net_cents = round_cents(net)
        if cap_cents is not None and total > cap_cents:
            # keep the VAT share of the capped total (round half up, as above)
            ratio = Decimal(cap_cents) / (1 + self.vat_percent / 100)
            net_cents = int(ratio.quantize(Decimal(1), rounding=ROUND_HALF_UP))
            return Cost(energy_wh, minutes, net_cents, cap_cents - net_cents, cap_cents, True)
        return Cost(energy_wh, minutes, net_cents, total - net_cents, total)

    def gross(self, amount: Decimal) -> Decimal:
        return amount * (1 + self.vat_percent / 100)

    def price_text(self) -> str:
        """The price as a driver reads it before the start (AFIR Art. 5: incl. VAT)."""
        def money(amount: Decimal) -> str:
            return f"{self.gross(amount).quantize(Decimal('0.01'), ROUND_HALF_UP)} {self.currency}"
        parts = [f"{money(self.energy_per_kwh)}/kWh"]
        if self.session_fee:
            parts.append(f"{money(self.session_fee)}/session")
        if self.time_fee_per_min:
            grace = f" after {self.time_grace_min} min" if self.time_grace_min else ""
            parts.append(f"{money(self.time_fee_per_min)}/min{grace}")
        return ", ".join(parts) + f" (incl. {self.vat_percent.normalize()}% VAT)"

    # ----------------------------------------------------------------- JSON form
    def as_dict(self) -> dict[str, Any]:
        """The documented JSON form (DataTransfer SetTariff, the store)."""
        return {"currency": self.currency, "energyPerKwh": str(self.energy_per_kwh),
                "sessionFee": str(self.session_fee),
                "timeFeePerMin": str(self.time_fee_per_min),
                "timeGraceMin": self.time_grace_min, "vatPercent": str(self.vat_percent)}

    @classmethod
    def from_dict(cls, data: object) -> Tariff:
        """A tariff from its JSON form; ``ValueError`` naming the bad field. Every field
        is required except those with a default above (then kept as the default)."""
        if not isinstance(data, dict):
            raise ValueError("the tariff must be a JSON object")
        known = {"currency", "energyPerKwh", "sessionFee", "timeFeePerMin", "timeGraceMin",
                 "vatPercent"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown tariff field {unknown[0]!r}"[:120])
        base = cls()
        currency = data.get("currency", base.currency)
        if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()
                and currency.isupper()):
            raise ValueError("currency must be an ISO 4217 code such as \"EUR\"")
        grace = data.get("timeGraceMin", base.time_grace_min)
        if isinstance(grace, bool) or not isinstance(grace, int) or not 0 <= grace <= 1440:
            raise ValueError("timeGraceMin must be a whole number of minutes, 0..1440")
        return cls(
            currency=currency,
            energy_per_kwh=parse_amount(data.get("energyPerKwh", base.energy_per_kwh),
                                        "energyPerKwh"),
            session_fee=parse_amount(data.get("sessionFee", base.session_fee), "sessionFee",
                                     max_places=2),
            time_fee_per_min=parse_amount(data.get("timeFeePerMin", base.time_fee_per_min),
                                          "timeFeePerMin"),
            time_grace_min=grace,
            vat_percent=parse_amount(data.get("vatPercent", base.vat_percent), "vatPercent",
                                     max_places=2, maximum=Decimal("100")))
