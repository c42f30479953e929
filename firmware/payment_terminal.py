"""The task that drives the station's ``PaymentTerminal`` for the core's payment effects.

The core (``firmware.core.payment``) says what to do (``PreAuthorisePayment``,
``SettlePayment``, ``CheckPaymentTerminal``, ``RunEndOfDay``, ``AbortPayment``); the
runtime has already committed the payment record that asked for it when ``command``
queues it here. One operation runs at a time, in order; every call is bounded by the
driver's own timeouts (``hal.interfaces.PaymentTerminal``) and once more here
(``bound_s``), so a terminal that stops answering becomes ``PaymentTerminalFailed``, never
a hang. An abort does not queue behind the pre-authorisation it is meant to end: it goes
to the terminal at once (the driver's ``abort()`` is made for that).

Both loops are tasks of ``run()``'s own TaskGroup, which belongs to the agent's TaskGroup
(``firmware.app.run``): nothing is fire-and-forget.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

from firmware.core import effects as fx
from firmware.core import events as ev
from hal.errors import PaymentDeclined, PaymentError
from hal.interfaces import PaymentTerminal

log = logging.getLogger(__name__)

PaymentCommand = (fx.PreAuthorisePayment | fx.SettlePayment | fx.CheckPaymentTerminal
                  | fx.RunEndOfDay)
# already-settled codes: a repeated capture/reversal of a receipt the terminal closed
RESULT_ALREADY_DONE = 0xB4


class PaymentTerminalWorker:
    """Runs payment effects against ``terminal``; answers through ``dispatch``.

    :param bound_s: outer bound of one call, s (the driver's own transaction timeout
        plus a margin); reaching it is a terminal failure like the driver's own timeout.
    """

    def __init__(self, terminal: PaymentTerminal, *, bound_s: float = 400.0) -> None:
        self.terminal = terminal
        self.bound_s = bound_s
        self.dispatch: Callable[[ev.Event], object] = lambda event: None
        self._queue: asyncio.Queue[PaymentCommand] = asyncio.Queue()
        self._aborts: asyncio.Queue[fx.AbortPayment] = asyncio.Queue()
        self.running: PaymentCommand | None = None
        self.operations = 0

    def command(self, effect: fx.Effect) -> None:
        """Queue a payment effect (never blocks the dispatch that produced it)."""
        if isinstance(effect, fx.AbortPayment):
            self._aborts.put_nowait(effect)
        elif isinstance(effect, (fx.PreAuthorisePayment, fx.SettlePayment,
                                 fx.CheckPaymentTerminal, fx.RunEndOfDay)):
            self._queue.put_nowait(effect)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._operations())
            tasks.create_task(self._abort_loop())

    async def _abort_loop(self) -> None:
        while True:
            effect = await self._aborts.get()
            if not isinstance(self.running, fx.PreAuthorisePayment) or \
                    self.running.payment_id != effect.payment_id:
                continue   # that wait already ended
            try:
                async with asyncio.timeout(self.bound_s):
                    await self.terminal.abort()
            except (PaymentError, TimeoutError) as error:
                log.warning("payment terminal: abort not delivered: %s", error)

    async def _operations(self) -> None:
        while True:
            effect = await self._queue.get()
            self.running = effect
            try:
                event = await self._execute(effect)
            finally:
                self.running = None
            self.operations += 1
            self.dispatch(event)

    async def _execute(self, effect: PaymentCommand) -> ev.Event:
        payment_id = getattr(effect, "payment_id", 0)
        operation = {fx.PreAuthorisePayment: "pre_authorise", fx.SettlePayment: "settle",
                     fx.CheckPaymentTerminal: "status", fx.RunEndOfDay: "end_of_day"}[
            type(effect)]
        try:
            async with asyncio.timeout(self.bound_s):
                return await self._call(effect)
        except PaymentDeclined as error:
            if isinstance(effect, fx.RunEndOfDay):
                return ev.PaymentEndOfDayFinished(False, None, str(error)[:200])
            if isinstance(effect, fx.CheckPaymentTerminal):
                return ev.PaymentTerminalChecked(False, str(error)[:200])
            return ev.PaymentRefused(payment_id, operation, str(error)[:200],
                                     error.result_code or 0)
        except TimeoutError:
            return ev.PaymentTerminalFailed(payment_id, operation,
                                            f"no answer within {self.bound_s:g} s")
        except PaymentError as error:   # PaymentTerminalUnavailable: outcome unknown
            return ev.PaymentTerminalFailed(payment_id, operation, str(error)[:200])
        except ValueError as error:     # an amount the role refuses: nothing was sent
            return ev.PaymentRefused(payment_id, operation, str(error)[:200])

    async def _call(self, effect: PaymentCommand) -> ev.Event:
        if isinstance(effect, fx.PreAuthorisePayment):
            result = await self.terminal.pre_authorise(effect.amount_cents)
            if result.receipt_number is None:
                # a reservation nobody can capture or reverse: say so, release nothing
                return ev.PaymentTerminalFailed(effect.payment_id, "pre_authorise",
                                                "the terminal sent no receipt number")
            return ev.PaymentPreAuthorised(
                effect.payment_id, result.receipt_number, result.amount_cents,
                result.card_token or result.pan_masked, result.pan_masked, result.card_name)
        if isinstance(effect, fx.SettlePayment):
            if effect.capture_cents > 0:
                result = await self.terminal.capture(effect.receipt_number, effect.capture_cents,
                                                     effect.pre_authorised_cents)
            else:
                result = await self.terminal.reverse(effect.receipt_number)
            return ev.PaymentSettled(effect.payment_id, effect.capture_cents,
                                     result.trace_number)
        if isinstance(effect, fx.CheckPaymentTerminal):
            status = await self.terminal.status()
            return ev.PaymentTerminalChecked(status.ready, "" if status.ready else
                                             f"terminal status {status.status_code}")
        done = await self.terminal.end_of_day()
        return ev.PaymentEndOfDayFinished(done.result_code == 0, done.total_cents)
