"""Console commands of the card payment (README "Paying by card"): ``price``, ``pay``,
``payments``, and ``sim card`` on a simulated terminal. The running cost of a paid
session, and the costs the CSMS reported, are in ``status`` (``payment_status_lines``);
``price`` without a terminal shows the CSMS's TariffFallbackMessage when it set one."""

from __future__ import annotations

import re
from typing import Any

from firmware.core import events as ev
from firmware.logs import mask_id_tag
from firmware.store import payments as payment_store

from .console import Console, ConsoleError, need_args, parse_int

_TOKEN = re.compile(r"^[0-9*]{4,19}$")
SIM_OUTCOMES = {"approve": "approve", "decline": "decline", "timeout": "no_answer",
                "abort": "abort"}


def payment_status_lines(agent: Any) -> list[str]:
    """One line per paid session: its running cost; then the costs the CSMS reported
    (``firmware.core.csms_cost``: running or final, per connector) (for ``status``)."""
    flow = agent.station.payment
    csms = [f"{line} (from the CSMS)" for line in agent.station.csms_costs.lines()]
    if flow is None:
        return csms
    lines = []
    for c in agent.station.connectors.values():
        cost = flow.running_cost(c)
        if cost is not None:
            lines.append(f"connector {c.connector_id}: paid by card, running cost "
                         f"{cost.total_cents / 100:.2f} {flow.tariff.currency} "
                         f"({cost.energy_wh / 1000:.3f} kWh, {cost.minutes_billed} min billed)")
    if flow.terminal_fault:
        lines.append(f"payment terminal: FAULT {flow.terminal_fault}")
    return lines + csms


def install_payment_commands(console: Console, agent: Any) -> None:
    def flow() -> Any:
        if agent.station.payment is None:
            raise ConsoleError("no payment terminal on this board ([[payment]] in the board "
                               "config)")
        return agent.station.payment

    async def price(args: list[str]) -> list[str]:
        need_args(args, 0, 0, "price")
        if agent.station.payment is None and agent.station.price_text():
            return [agent.station.price_text()]  # the CSMS's TariffFallbackMessage
        return [flow().price_text()]

    async def pay(args: list[str]) -> list[str]:
        need_args(args, 0, 3, "pay [N|cancel|release PAYMENT RECEIPT]")
        flow()
        if args and args[0] == "release":
            need_args(args, 3, 3, "pay release PAYMENT RECEIPT")
            payment_id = parse_int(args[1], "PAYMENT", 1)
            receipt = parse_int(args[2], "RECEIPT", 1)
            if receipt > 9999:
                raise ConsoleError("RECEIPT must be <= 9999 (a ZVT receipt number)")
            record = payment_store.payment(agent.conn, payment_id)
            if record is None:
                raise ConsoleError(f"no payment {payment_id} (see `payments`)")
            if record.state != "lost":
                raise ConsoleError(f"payment {payment_id} is {record.state}, not lost: "
                                   "only a lost pre-authorisation is released by hand")
            agent.runtime.dispatch(ev.PaymentReleaseRequested(record, receipt))
            return [flow().last_message or "ok"]
        if len(args) > 1:
            raise ConsoleError("usage: pay [N|cancel|release PAYMENT RECEIPT]")
        if args and args[0] == "cancel":
            agent.runtime.dispatch(ev.PaymentCancelRequested())
            return ["waiting for a card: cancelled"]
        connector_id = parse_int(args[0], "connector", 1) if args else 0
        agent.runtime.dispatch(ev.PaymentRequested(connector_id))
        return [flow().last_message or "ok"]

    async def payments(args: list[str]) -> list[str]:
        need_args(args, 0, 1, "payments [N]")
        count = parse_int(args[0], "N", 1) if args else 10
        records = payment_store.payments(agent.conn)[-min(count, 1000):]
        if not records:
            return ["no payments yet"]
        lines = []
        for r in records:
            amount = (f"{(r.capture_cents or 0) / 100:.2f}" if r.capture_cents is not None
                      else "-")
            lines.append(f"payment {r.payment_id}: {r.state} connector {r.connector_id or '-'} "
                         f"receipt {r.receipt_number or '-'} reserved "
                         f"{r.pre_authorised_cents / 100:.2f} settled {amount} "
                         f"{mask_id_tag(r.id_tag) if r.id_tag else '-'} {r.pan_masked}"
                         + (f" ({r.note})" if r.note else ""))
        return lines

    console.register("price", "the card-payment price (before a session starts)", price)
    console.register("pay [N|cancel|release PAYMENT RECEIPT]", "pay by card on connector N "
                     "(or the plugged/first free one); cancel the wait for a card; reverse "
                     "a lost pre-authorisation by the receipt number the terminal shows",
                     pay, words=1, role="technician")
    console.register("payments [N]", "the last N card payments and their state", payments,
                     words=1)

    def sim_terminal() -> Any:
        world = agent.board.sim
        terminals = getattr(world, "payment_terminals", {}) if world is not None else {}
        if not terminals:
            raise ConsoleError("no simulated payment terminal on this board")
        return next(iter(terminals.values()))

    async def sim_card(args: list[str]) -> list[str]:
        need_args(args, 1, 2, "sim card TOKEN [approve|decline|timeout|abort]")
        terminal = sim_terminal()
        token = args[0]
        if not _TOKEN.match(token):
            raise ConsoleError("TOKEN must be 4-19 digits or '*' (a masked card number, e.g. "
                               "559884******8074)")
        outcome = args[1] if len(args) > 1 else "approve"
        if outcome not in SIM_OUTCOMES:
            raise ConsoleError("the outcome must be approve, decline, timeout or abort")
        from hal.sim.payment import SimCard
        card = SimCard(pan_masked=token, card_name="SimCard")
        payment = flow()
        if not terminal.waiting_for_card:
            agent.runtime.dispatch(ev.PaymentRequested(0))
            if not any(r.state == "requested" for r in payment.records.values()):
                return [payment.last_message or "no payment started"]
        terminal.present_card(card, SIM_OUTCOMES[outcome])
        return [f"card {token} presented to the payment terminal ({outcome})"]

    console.register("sim card TOKEN [approve|decline|timeout|abort]",
                     "tap a bank card on the simulated payment terminal (starts a payment "
                     "if none waits; the same card again stops its session)", sim_card,
                     words=2, role="technician")
