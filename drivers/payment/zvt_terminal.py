"""``ZvtPaymentTerminal``: the ``PaymentTerminal`` role over ZVT (serial or TCP).

A thin async device: it runs one ``ZvtDialogue`` (sans-I/O) at a time over a
``ZvtLink``, sends what the dialogue says, and bounds every wait (T2 for the terminal's
first answer, T4 for each later message, ``transaction_timeout_s`` for the whole
operation). The terminal is registered (06 00, which locks its own admin menus) before
the first operation and again after it failed.

Failure modes (see ``hal.interfaces.PaymentTerminal``): a refusal, a declined card or an
abort raises ``PaymentDeclined`` with the terminal's result code; silence, a lost
port/connection or a stream of bad frames raises ``PaymentTerminalUnavailable`` (the
outcome of the operation is then unknown: recover it with the receipt number). On an
expired timeout the driver sends the abort 06 B0 once, best effort, so the terminal does
not keep the card waiting.
"""

from __future__ import annotations

import asyncio
import logging
from typing import NoReturn

from drivers.errors import ProtocolError
from drivers.payment import zvt_codec as zvt
from drivers.payment.zvt_link import ZvtLink
from drivers.payment.zvt_serial_framing import ZvtTimeouts
from drivers.payment.zvt_session import DialogueResult, ZvtDialogue
from hal.errors import PaymentDeclined, PaymentTerminalUnavailable
from hal.interfaces import DeviceInfo, EndOfDayResult, PaymentResult, PaymentTerminalStatus

log = logging.getLogger(__name__)

CAPTURE_METHODS = ("partial_reversal", "book_total")


class ZvtPaymentTerminal:
    """``PaymentTerminal`` speaking ZVT over ``link``.

    :param password: the terminal's ECR password (3 BCD bytes, 0..999999); never logged
    :param currency_code: ISO 4217 numeric (978 = EUR), sent with every amount
    :param capture_method: ``partial_reversal`` (06 23 releases pre-auth - final, what
        EVerest does) or ``book_total`` (06 24 books the final amount, ecrterm)
    :param config_byte: the registration config byte (06 00)
    :param transaction_timeout_s: bound of one whole operation, customer time included
    """

    def __init__(self, link: ZvtLink, *, name: str = "payment", backend: str = "zvt",
                 password: int = 0, currency_code: int = zvt.EUR,
                 capture_method: str = "partial_reversal", config_byte: int = 0xDE,
                 timeouts: ZvtTimeouts = ZvtTimeouts(),
                 transaction_timeout_s: float = 300.0) -> None:
        if capture_method not in CAPTURE_METHODS:
            raise ValueError(f"capture_method must be one of {CAPTURE_METHODS}")
        self.name = name
        self.backend = backend
        self.link = link
        self._password = password
        self.currency_code = currency_code
        self.capture_method = capture_method
        self.config_byte = config_byte
        self.timeouts = timeouts
        self.transaction_timeout_s = transaction_timeout_s
        self._lock = asyncio.Lock()
        self._current: ZvtDialogue | None = None
        self._abort_requested = asyncio.Event()
        self._registered = False
        self._last_error = ""
        self.last_result: DialogueResult | None = None

    # -- Device -------------------------------------------------------------------
    async def open(self) -> None:
        await self.link.open()

    async def close(self) -> None:
        await self.link.close()
        self._registered = False

    def info(self) -> DeviceInfo:
        return DeviceInfo(role="payment", name=self.name, backend=self.backend,
                          port=self.link.describe(), last_error=self._last_error,
                          details={"capture_method": self.capture_method,
                                   "currency_code": str(self.currency_code),
                                   "registered": "yes" if self._registered else "no"})

    # -- one dialogue -------------------------------------------------------------
    async def _next_apdu(self, dialogue: ZvtDialogue, abortable: bool) -> bytes | None:
        """The terminal's next APDU, or None when ``abort()`` asked to abort first."""
        timeout_s = dialogue.timeout_s(self.timeouts)
        receive = asyncio.ensure_future(self.link.receive())
        # once the 06 B0 is out, only the terminal's answer is awaited
        listen = abortable and not dialogue.abort_sent
        wake = asyncio.ensure_future(self._abort_requested.wait() if listen
                                     else asyncio.Event().wait())
        try:
            done, _ = await asyncio.wait({receive, wake}, timeout=timeout_s,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (receive, wake):
                task.cancel()
            await asyncio.gather(receive, wake, return_exceptions=True)
        if receive in done:
            return receive.result()      # re-raises the link's PaymentTerminalUnavailable
        if wake in done:
            return None
        what = "first answer (T2)" if not dialogue.accepted else "next message (T4)"
        raise PaymentTerminalUnavailable(f"payment terminal {self.name} on "
                                         f"{self.link.describe()}: no {what} within "
                                         f"{timeout_s:g} s")

    async def _dialogue(self, dialogue: ZvtDialogue, abortable: bool = True) -> DialogueResult:
        self._current = dialogue
        self.link.flush()
        try:
            await self.link.send(dialogue.command)
            while not dialogue.done:
                raw = await self._next_apdu(dialogue, abortable)
                if raw is None:
                    request = dialogue.abort()
                    if request is not None:
                        await self.link.send(request)
                    continue
                for reply in dialogue.receive(raw):
                    await self.link.send(reply)
        finally:
            self._current = None
        return dialogue.result

    async def _run(self, command: bytes, what: str, *, expects_completion: bool = True,
                   register: bool = True) -> DialogueResult:
        async with self._lock:
            self._abort_requested.clear()
            try:
                async with asyncio.timeout(self.transaction_timeout_s):
                    if register and not self._registered:
                        await self._register()
                    if self._abort_requested.is_set() and expects_completion:
                        raise PaymentDeclined(f"{what}: aborted before it was sent",
                                              zvt.RESULT_ABORTED)
                    result = await self._dialogue(
                        ZvtDialogue(command, expects_completion=expects_completion))
            except TimeoutError:
                await self._abort_quietly()
                await self._failed(f"{what}: not finished within "
                                   f"{self.transaction_timeout_s:g} s")
            except (ProtocolError, PaymentTerminalUnavailable) as exc:
                await self._failed(f"{what}: {exc}")
            self.last_result = result
            self._last_error = ""
            return result

    async def _failed(self, message: str) -> NoReturn:
        self._registered = False
        self._last_error = message
        await self.link.reset()
        raise PaymentTerminalUnavailable(message)

    async def _abort_quietly(self) -> None:
        try:
            async with asyncio.timeout(self.timeouts.t3_s):
                await self.link.send(zvt.abort())
        except (TimeoutError, PaymentTerminalUnavailable) as exc:
            log.debug("%s: abort after timeout not delivered: %s", self.name, exc)

    async def _register(self) -> None:
        result = await self._dialogue(ZvtDialogue(
            zvt.registration(self._password, self.config_byte, self.currency_code)),
            abortable=False)   # an abort waits for the operation it was meant for
        code = result.failure_code
        if code is not None:
            raise PaymentDeclined(f"payment terminal {self.name} refused the registration: "
                                  f"{zvt.result_text(code)} (check the password)", code)
        self._registered = True

    def _check(self, result: DialogueResult, what: str) -> None:
        code = result.failure_code
        if code is not None:
            raise PaymentDeclined(f"{what}: {zvt.result_text(code)}", code)

    def _payment_result(self, result: DialogueResult, amount_cents: int) -> PaymentResult:
        info = result.status
        if info is None:
            return PaymentResult(amount_cents=amount_cents, currency_code=self.currency_code)
        return PaymentResult(
            amount_cents=info.amount_cents if info.amount_cents is not None else amount_cents,
            receipt_number=info.receipt_number, trace_number=info.trace_number,
            card_type=info.card_type, card_name=info.card_name, pan_masked=info.pan_masked,
            card_token=info.pan_masked, result_code=info.result_code or 0,
            currency_code=info.currency_code or self.currency_code,
            terminal_id=info.terminal_id)

    # -- PaymentTerminal ------------------------------------------------------------
    async def pre_authorise(self, amount_cents: int) -> PaymentResult:
        command = zvt.pre_authorisation(amount_cents, self.currency_code)
        result = await self._run(command, "pre-authorisation")
        self._check(result, f"pre-authorisation of {amount_cents} cents")
        return self._payment_result(result, amount_cents)

    async def capture(self, receipt_number: int, amount_cents: int,
                      pre_authorised_cents: int) -> PaymentResult:
        if not 0 < amount_cents <= pre_authorised_cents:
            raise ValueError(f"capture of {amount_cents} cents: must be > 0 and <= the "
                             f"pre-authorised {pre_authorised_cents} (0: use reverse)")
        if self.capture_method == "book_total":
            command = zvt.book_total(receipt_number, amount_cents, self.currency_code)
        elif amount_cents == pre_authorised_cents:
            # nothing to release; the full reservation is booked with book total
            command = zvt.book_total(receipt_number, amount_cents, self.currency_code)
        else:
            command = zvt.partial_reversal(receipt_number, pre_authorised_cents - amount_cents,
                                           self.currency_code)
        result = await self._run(command, "capture")
        self._check(result, f"capture of {amount_cents} cents (receipt {receipt_number})")
        captured = self._payment_result(result, amount_cents)
        # the terminal reports the amount it released for a partial reversal; the role
        # promises the amount booked
        return PaymentResult(**{**captured.__dict__, "amount_cents": amount_cents})

    async def reverse(self, receipt_number: int) -> PaymentResult:
        result = await self._run(zvt.pre_auth_reversal(receipt_number, self.currency_code),
                                 "pre-authorisation reversal")
        self._check(result, f"reversal of receipt {receipt_number}")
        reversed_ = self._payment_result(result, 0)
        return PaymentResult(**{**reversed_.__dict__, "amount_cents": 0})

    async def abort(self) -> None:
        if self._lock.locked():
            # never queue behind the operation it is meant to end
            self._abort_requested.set()
            return
        await self._run(zvt.abort(), "abort", expects_completion=False, register=False)

    async def status(self) -> PaymentTerminalStatus:
        result = await self._run(zvt.status_enquiry(), "status enquiry", register=False)
        if result.refused is not None:
            raise PaymentDeclined(f"status enquiry: {zvt.result_text(result.refused)}",
                                  result.refused)
        completion = result.completion
        status = completion.terminal_status if completion is not None else None
        if status is None and result.pt_abort is not None:
            status = result.pt_abort.result_code
        return PaymentTerminalStatus(status_code=status or 0,
                                     software_version=completion.software_version
                                     if completion is not None else "")

    async def end_of_day(self) -> EndOfDayResult:
        result = await self._run(zvt.end_of_day(self._password), "end-of-day")
        self._check(result, "end-of-day")
        total = result.status.amount_cents if result.status is not None else None
        return EndOfDayResult(total_cents=total, result_code=0)
