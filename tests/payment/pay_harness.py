"""A fake-clock station with a payment terminal model, a "disk" and power cuts.

``disk`` keeps what the runtime would have committed (payments, transactions, the
queued payment reports) per handled event, atomically. ``FakeTerminal`` books like a
terminal: a receipt is captured or reversed at most once, a repeated settle is refused
(ZVT 0xB4). ``power_cut()`` throws the station away and builds a new one from the disk,
as the next start does (AgentStarted, then RecoveredTransaction for open transactions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.core.configuration import Configuration
from firmware.core.connector import Connector, TransactionRecord
from firmware.core.payment import PaymentRecord, PaymentSettings
from firmware.core.station import Station
from firmware.core.tariff import Tariff
from tests.core.harness import T0, Harness

TARIFF = Tariff(energy_per_kwh=Decimal("0.45"), session_fee=Decimal("0.50"),
                time_fee_per_min=Decimal("0.05"), time_grace_min=30, vat_percent=Decimal("19"))
SETTINGS = PaymentSettings(tariff=TARIFF, pre_authorisation_cents=3000, arm_on_plug=False,
                           end_of_day_utc="23:30", receipt_url="https://r.example/{payment_id}")


@dataclass
class FakeTerminal:
    open: dict[int, int] = field(default_factory=dict)
    ledger: list[tuple[str, int, int]] = field(default_factory=list)
    next_receipt: int = 100
    card: str = "559884******8074"
    outcome: str = "approve"       # approve | decline | silent

    def run(self, effect: fx.Effect) -> ev.Event | None:
        if self.outcome == "silent":
            pid = getattr(effect, "payment_id", 0)
            return ev.PaymentTerminalFailed(pid, _operation(effect), "no answer within T2")
        if isinstance(effect, fx.PreAuthorisePayment):
            if self.outcome == "decline":
                return ev.PaymentRefused(effect.payment_id, "pre_authorise",
                                         "card in blocked list", 0x6E)
            self.next_receipt += 1
            self.open[self.next_receipt] = effect.amount_cents
            self.ledger.append(("pre_authorise", self.next_receipt, effect.amount_cents))
            return ev.PaymentPreAuthorised(effect.payment_id, self.next_receipt,
                                           effect.amount_cents, self.card, self.card, "MasterCard")
        if isinstance(effect, fx.SettlePayment):
            if self.open.pop(effect.receipt_number, None) is None:
                return ev.PaymentRefused(effect.payment_id, "settle", "already reversed", 0xB4)
            kind = "capture" if effect.capture_cents else "reverse"
            self.ledger.append((kind, effect.receipt_number, effect.capture_cents))
            return ev.PaymentSettled(effect.payment_id, effect.capture_cents)
        if isinstance(effect, fx.CheckPaymentTerminal):
            return ev.PaymentTerminalChecked(True)
        if isinstance(effect, fx.RunEndOfDay):
            self.ledger.append(("end_of_day", 0, 0))
            return ev.PaymentEndOfDayFinished(True, 0)
        if isinstance(effect, fx.AbortPayment):
            return ev.PaymentRefused(effect.payment_id, "pre_authorise", "aborted", 0x6C)
        return None

    def settled(self) -> dict[int, list[tuple[str, int]]]:
        out: dict[int, list[tuple[str, int]]] = {}
        for kind, receipt, amount in self.ledger:
            if kind in ("capture", "reverse"):
                out.setdefault(receipt, []).append((kind, amount))
        return out


def _operation(effect: fx.Effect) -> str:
    if isinstance(effect, fx.PreAuthorisePayment):
        return "pre_authorise"
    if isinstance(effect, fx.SettlePayment):
        return "settle"
    if isinstance(effect, fx.RunEndOfDay):
        return "end_of_day"
    return "status"


TERMINAL_EFFECTS = (fx.PreAuthorisePayment, fx.SettlePayment, fx.CheckPaymentTerminal,
                    fx.RunEndOfDay, fx.AbortPayment)


class PayHarness(Harness):
    def __init__(self, settings: PaymentSettings = SETTINGS, connectors: int = 1) -> None:
        self.settings = settings
        self.n_connectors = connectors
        self.disk_payments: dict[int, PaymentRecord] = {}
        self.disk_transactions: dict[int, TransactionRecord] = {}
        self.reports: list[fx.SendPaymentReport] = []
        self.messages: list[str] = []
        self.terminal = FakeTerminal()
        self.pending: list[fx.Effect] = []   # terminal calls not yet run
        self.next_local_tx_id = 1
        self._boot_station()

    def _boot_station(self) -> None:
        self.now = getattr(self, "now", T0)
        self.auto_lock = True
        self.auto_meter = True
        self.log = []
        self._ref = 0
        n = self.n_connectors
        self.energy_wh = getattr(self, "energy_wh", {i: 1000.0 for i in range(1, n + 1)})
        self.station = Station(
            [Connector(i, 32.0, has_lock=True) for i in range(1, n + 1)],
            Configuration.initial({}, {}, {"NumberOfConnectors": str(n)}),
            next_local_tx_id=self.next_local_tx_id, payment=self.settings,
            payment_records=list(self.disk_payments.values()))
        core_handle = self.station.handle

        def committed(event: ev.Event, now: float) -> list[fx.Effect]:
            out = core_handle(event, now)
            self._commit(out)          # one event's effects commit together
            return out

        self.station.handle = committed  # type: ignore[method-assign]
        self.handle(ev.AgentStarted())
        for record in list(self.disk_transactions.values()):
            self.handle(ev.RecoveredTransaction(record, ()))
        for i in range(1, n + 1):
            self.meter(i)

    def power_cut(self) -> None:
        """The agent dies: what was not committed is gone, unrun terminal calls too."""
        self.pending = []
        self._boot_station()

    def _commit(self, out: list[fx.Effect]) -> None:
        for e in out:
            if isinstance(e, fx.PersistPayment):
                self.disk_payments[e.record.payment_id] = e.record
            elif isinstance(e, fx.PersistTransaction):
                self.disk_transactions[e.record.local_tx_id] = e.record
                self.next_local_tx_id = max(self.next_local_tx_id, e.record.local_tx_id + 1)
            elif isinstance(e, fx.SendTransactionEnded):
                self.disk_transactions.pop(e.local_tx_id, None)
            elif isinstance(e, fx.SendPaymentReport):
                self.reports.append(e)
            elif isinstance(e, fx.ShowPaymentMessage):
                self.messages.append(e.text)
            if isinstance(e, TERMINAL_EFFECTS):
                self.pending.append(e)

    def run_terminal(self, steps: int = 100) -> None:
        """Run the terminal calls, feeding the answers back, until none is left."""
        for _ in range(steps):
            if not self.pending:
                return
            effect = self.pending.pop(0)
            answer = self.terminal.run(effect)
            if answer is not None:
                self.handle(answer)

    def pay(self, connector_id: int = 0) -> None:
        self.handle(ev.PaymentRequested(connector_id))
        self.run_terminal()

    def record(self, payment_id: int = 1) -> PaymentRecord:
        return self.disk_payments[payment_id]
