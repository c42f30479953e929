"""Simulated payment terminal: the ``PaymentTerminal`` role with the obligations kept.

It books like a real terminal would: a pre-authorisation opens a reservation under a new
receipt number; a capture books at most the reserved amount once; a reversal releases
it once; a second capture or reversal of the same receipt is refused like a terminal
refuses it (``PaymentDeclined``, result code 0xB4 "already reversed" / 0xB8 "amount
wrong"). ``ledger`` records every booking so tests can check "exactly once".

What the next card does is set by ``outcome`` ("approve", "decline", "abort",
"no_answer"); with ``wait_for_card`` a pre-authorisation waits for ``present_card()``
(the console's simulated tap) or ``abort()``, at most ``card_timeout_s``. "no_answer" and
``available = False`` make every call raise ``PaymentTerminalUnavailable`` after
``timeout_s`` (bounded, like the real driver's T2/T4), never hang.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from hal.errors import PaymentDeclined, PaymentTerminalUnavailable
from hal.interfaces import DeviceInfo, EndOfDayResult, PaymentResult, PaymentTerminalStatus

OUTCOMES = ("approve", "decline", "abort", "no_answer")
RESULT_DECLINED = 0x6E          # ZVT "card in blocked list"
RESULT_ABORTED = 0x6C           # ZVT "abort via timeout or abort key"
RESULT_ALREADY_DONE = 0xB4      # ZVT "already reversed"
RESULT_AMOUNT_WRONG = 0xB8      # ZVT "pre-authorisation incorrect or amount wrong"


@dataclass(frozen=True)
class SimCard:
    pan_masked: str = "999999******0001"
    card_name: str = "SimCard"
    card_type: int = 6


@dataclass(frozen=True)
class Booking:
    """One entry of the simulated terminal's ledger."""

    kind: str               # "pre_authorise", "capture", "reverse"
    receipt_number: int
    amount_cents: int


class SimPaymentTerminal:
    role = "payment"

    def __init__(self, name: str, *, currency_code: int = 978, timeout_s: float = 2.0,
                 card_timeout_s: float = 60.0, response_delay_s: float = 0.005) -> None:
        self.name = name
        self.currency_code = currency_code
        self.timeout_s = timeout_s
        self.card_timeout_s = card_timeout_s
        self.response_delay_s = response_delay_s
        self.outcome = "approve"
        self.available = True
        self.wait_for_card = False
        self.card = SimCard()
        self.open_reservations: dict[int, int] = {}   # receipt number -> reserved cents
        self.ledger: list[Booking] = []
        self.last_error = ""
        self._receipt = 0
        self._trace = 0
        self._since_end_of_day_cents = 0
        self._lock = asyncio.Lock()
        self._card: asyncio.Queue[tuple[SimCard, str | None]] = asyncio.Queue()
        self._abort = asyncio.Event()
        self._busy = False

    # -- Device -------------------------------------------------------------------
    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    def info(self) -> DeviceInfo:
        return DeviceInfo(self.role, self.name, "sim", "", self.last_error,
                          {"outcome": self.outcome,
                           "open_reservations": str(len(self.open_reservations))})

    # -- what the console's sim commands do ---------------------------------------
    def present_card(self, card: SimCard | None = None, outcome: str | None = None) -> None:
        """Tap ``card`` for the waiting (or next) pre-authorisation; ``outcome`` (one of
        ``OUTCOMES``) applies to that card's pre-authorisation only."""
        if outcome is not None and outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}")
        self._card.put_nowait((card or self.card, outcome))

    @property
    def waiting_for_card(self) -> bool:
        return self._busy

    # -- helpers --------------------------------------------------------------------
    async def _answer(self) -> None:
        if not self.available or self.outcome == "no_answer":
            await asyncio.sleep(self.timeout_s)
            self.last_error = f"payment terminal {self.name}: no answer within {self.timeout_s:g} s"
            raise PaymentTerminalUnavailable(self.last_error)
        await asyncio.sleep(self.response_delay_s)
        self.last_error = ""

    def _result(self, receipt: int, amount_cents: int, card: SimCard) -> PaymentResult:
        self._trace += 1
        return PaymentResult(amount_cents=amount_cents, receipt_number=receipt,
                             trace_number=self._trace, card_type=card.card_type,
                             card_name=card.card_name, pan_masked=card.pan_masked,
                             card_token=card.pan_masked, result_code=0,
                             currency_code=self.currency_code, terminal_id="SIM")

    async def _wait_for_card(self) -> tuple[SimCard, str | None]:
        if not self.wait_for_card:
            return self.card, None
        card_task = asyncio.ensure_future(self._card.get())
        abort_task = asyncio.ensure_future(self._abort.wait())
        try:
            done, _ = await asyncio.wait({card_task, abort_task}, timeout=self.card_timeout_s,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (card_task, abort_task):
                task.cancel()
            await asyncio.gather(card_task, abort_task, return_exceptions=True)
        if card_task in done:
            return card_task.result()
        raise PaymentDeclined("no card presented (aborted or timed out)", RESULT_ABORTED)

    # -- PaymentTerminal --------------------------------------------------------------
    async def pre_authorise(self, amount_cents: int) -> PaymentResult:
        if not isinstance(amount_cents, int) or amount_cents <= 0:
            raise ValueError(f"pre-authorisation amount must be > 0 cents, got {amount_cents!r}")
        async with self._lock:
            self._busy = True
            self._abort.clear()
            try:
                await self._answer()
                card, outcome = await self._wait_for_card()
                outcome = outcome or self.outcome
                if outcome == "no_answer":     # the terminal went silent at the card
                    await asyncio.sleep(self.timeout_s)
                    self.last_error = (f"payment terminal {self.name}: no answer within "
                                       f"{self.timeout_s:g} s")
                    raise PaymentTerminalUnavailable(self.last_error)
                if outcome == "decline":
                    raise PaymentDeclined("card declined (simulated)", RESULT_DECLINED)
                if outcome == "abort":
                    raise PaymentDeclined("aborted at the terminal (simulated)", RESULT_ABORTED)
                self._receipt = self._receipt % 9999 + 1
                self.open_reservations[self._receipt] = amount_cents
                self.ledger.append(Booking("pre_authorise", self._receipt, amount_cents))
                return self._result(self._receipt, amount_cents, card)
            finally:
                self._busy = False

    async def capture(self, receipt_number: int, amount_cents: int,
                      pre_authorised_cents: int) -> PaymentResult:
        if not 0 < amount_cents <= pre_authorised_cents:
            raise ValueError(f"capture of {amount_cents} cents: must be > 0 and <= the "
                             f"pre-authorised {pre_authorised_cents} (0: use reverse)")
        async with self._lock:
            await self._answer()
            reserved = self.open_reservations.get(receipt_number)
            if reserved is None:
                raise PaymentDeclined(f"receipt {receipt_number} is not an open "
                                      f"pre-authorisation", RESULT_ALREADY_DONE)
            if amount_cents > reserved:
                raise PaymentDeclined(f"capture of {amount_cents} cents exceeds the "
                                      f"{reserved} reserved", RESULT_AMOUNT_WRONG)
            del self.open_reservations[receipt_number]
            self.ledger.append(Booking("capture", receipt_number, amount_cents))
            self._since_end_of_day_cents += amount_cents
            return self._result(receipt_number, amount_cents, self.card)

    async def reverse(self, receipt_number: int) -> PaymentResult:
        async with self._lock:
            await self._answer()
            if self.open_reservations.pop(receipt_number, None) is None:
                raise PaymentDeclined(f"receipt {receipt_number} is not an open "
                                      f"pre-authorisation", RESULT_ALREADY_DONE)
            self.ledger.append(Booking("reverse", receipt_number, 0))
            return self._result(receipt_number, 0, self.card)

    async def abort(self) -> None:
        self._abort.set()
        if not self._busy:
            await self._answer()

    async def status(self) -> PaymentTerminalStatus:
        async with self._lock:
            await self._answer()
            return PaymentTerminalStatus(status_code=0, software_version="sim")

    async def end_of_day(self) -> EndOfDayResult:
        async with self._lock:
            await self._answer()
            total, self._since_end_of_day_cents = self._since_end_of_day_cents, 0
            return EndOfDayResult(total_cents=total, result_code=0)
