"""What the driver is told about price and cost when the CSMS knows it (issue 12 items 4
and 5), sans-I/O: a part composed into the ``Station``.

The core knows charging, not a protocol: an adapter turns the CSMS's message into
``CsmsCostReported(ref, local_tx_id, total_cost, final)`` (OCPP 2.0.1 block I: CostUpdated
is a running cost, TransactionEventResponse.totalCost the final one; ocpp201-rules.md
§7 "I", [S201]). Each shown text goes out as ``ShowPaymentMessage`` (the indicator/display
hook and the console's event line, as the card payment's texts do) and stays in
``lines()`` (console ``status``) until the connector's next transaction starts.

- Running (``final`` False): only for a transaction running on a connector now; any other
  is Ignored (Reply ``{"status": "Ignored", "why": ...}``) and changes nothing.
- Final: ``total_cost`` 0 = free, a value = the total, None = the CSMS sent none
  ("absent = not free", [S201]) → TotalCostFallbackMessage, unless the station computed
  the cost itself (a card payment: its own total is what was captured and shown).
- Amounts: finite, 0 ≤ total ≤ ``MAX_COST`` (main unit of TariffCostCtrlr.Currency); a
  negative or absurd one is Ignored (the frame layers refuse NaN/Infinity already).
- CostEnabled false: a report is answered and Ignored (nothing shown).
- TariffFallbackMessage (TariffEnabled true, non-empty) replaces the station's own price
  text before a start (``tariff_message``); empty: the station's tariff is shown.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Callable

from . import effects as fx
from . import events as ev
from .configuration import Configuration
from .connector import Connector

MAX_COST = Decimal("1000000")   # main unit; more is no charging session's cost
_STARTS_KEPT = 64               # transactions whose connector a final cost may still find


def cost_problem(total: Decimal | None) -> str | None:
    """Why ``total`` cannot be a session's cost, or None (None itself: "no cost sent")."""
    if total is None:
        return None
    if not total.is_finite():
        return "not a finite number"
    if total < 0:
        return "negative"
    if total > MAX_COST:
        return f"above {MAX_COST}"
    return None


def cost_from_json(value: object) -> Decimal | None:
    """A JSON number as an exact Decimal (its shortest decimal text); None stays None
    (no cost sent); anything else is NaN, which ``cost_problem`` refuses."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return Decimal("NaN")
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def money(total: Decimal, currency: str) -> str:
    return f"{total.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)} {currency}"


class CsmsCosts:
    """``currency()``: the tariff's currency; ``station_settles(local_tx_id)``: the
    station computed that transaction's cost itself (a card payment)."""

    def __init__(self, connectors: dict[int, Connector], config: Configuration,
                 currency: Callable[[], str],
                 station_settles: Callable[[int], bool]) -> None:
        self._connectors = connectors
        self._config = config
        self._currency = currency
        self._station_settles = station_settles
        self._connector_of: dict[int, int] = {}   # local tx id → connector (recent starts)
        self.shown: dict[int, str] = {}           # connector id (0: unknown) → cost text

    def tariff_message(self) -> str:
        """The CSMS's price text (empty: show the station's own tariff)."""
        if not self._config.get_bool("TariffEnabled"):
            return ""
        return self._config.get("TariffFallbackMessage")

    def lines(self) -> list[str]:
        return [f"{'connector ' + str(cid) if cid else 'station'}: {text}"
                for cid, text in sorted(self.shown.items())]

    def reported(self, event: ev.CsmsCostReported, now: float) -> list[fx.Effect]:
        def ignored(why: str) -> list[fx.Effect]:
            return [fx.Reply(event.ref, {"status": "Ignored", "why": why})]

        if not self._config.get_bool("CostEnabled"):
            return ignored("CostEnabled is false")
        problem = cost_problem(event.total_cost)
        if problem is not None:
            return ignored(f"total cost {problem}")
        running = next((c for c in self._connectors.values()
                        if c.tx is not None and c.tx.local_tx_id == event.local_tx_id), None)
        currency = self._currency()
        if not event.final:
            if running is None or event.total_cost is None:
                return ignored(f"transaction {event.local_tx_id} is not running")
            return self._show(event, running.connector_id,
                              f"Cost so far {money(event.total_cost, currency)}")
        connector_id = (running.connector_id if running is not None
                        else self._connector_of.get(event.local_tx_id, 0))
        if event.total_cost is None:
            if self._station_settles(event.local_tx_id):
                return ignored("the station computed this cost itself")
            return self._show(event, connector_id,
                              self._config.get("TotalCostFallbackMessage"))
        if event.total_cost == 0:
            return self._show(event, connector_id,
                              f"Charging was free ({money(Decimal(0), currency)})")
        return self._show(event, connector_id,
                          f"Total cost {money(event.total_cost, currency)}")

    def _show(self, event: ev.CsmsCostReported, connector_id: int,
              text: str) -> list[fx.Effect]:
        out: list[fx.Effect] = [fx.Reply(event.ref, {"status": "Accepted"})]
        if text:
            self.shown[connector_id] = text
            out.append(fx.ShowPaymentMessage(connector_id, text))
        return out

    def after(self, effects: list[fx.Effect]) -> None:
        """A start forgets the connector's last cost and remembers where it runs."""
        for effect in effects:
            if isinstance(effect, fx.SendTransactionStarted):
                self.shown.pop(effect.connector_id, None)
                self._connector_of[effect.local_tx_id] = effect.connector_id
                while len(self._connector_of) > _STARTS_KEPT:
                    del self._connector_of[next(iter(self._connector_of))]
