"""The simulated payment terminal keeps the PaymentTerminal obligations (hal/interfaces.py):
capture/reverse exactly once, refusals as PaymentDeclined, silence bounded."""

from __future__ import annotations

import asyncio

import pytest

from hal.errors import PaymentDeclined, PaymentTerminalUnavailable
from hal.interfaces import PaymentTerminal
from hal.sim.payment import Booking, SimCard, SimPaymentTerminal


@pytest.fixture
def sim():
    return SimPaymentTerminal("pt", timeout_s=0.05, card_timeout_s=2.0)


async def test_pre_authorise_capture_once(sim):
    assert isinstance(sim, PaymentTerminal)
    pre = await sim.pre_authorise(2500)
    assert pre.receipt_number == 1 and pre.pan_masked == "999999******0001"
    assert sim.open_reservations == {1: 2500}
    captured = await sim.capture(1, 1234, 2500)
    assert captured.amount_cents == 1234 and sim.open_reservations == {}
    with pytest.raises(PaymentDeclined) as caught:      # a second capture is refused
        await sim.capture(1, 1234, 2500)
    assert caught.value.result_code == 0xB4
    with pytest.raises(PaymentDeclined):
        await sim.reverse(1)
    assert sim.ledger == [Booking("pre_authorise", 1, 2500), Booking("capture", 1, 1234)]
    assert (await sim.end_of_day()).total_cents == 1234
    assert (await sim.end_of_day()).total_cents == 0


async def test_reverse_once_and_amount_rules(sim):
    pre = await sim.pre_authorise(1000)
    with pytest.raises(ValueError):
        await sim.capture(pre.receipt_number, 0, 1000)
    with pytest.raises(PaymentDeclined) as caught:
        await sim.capture(pre.receipt_number, 3000, 5000)   # more than was reserved
    assert caught.value.result_code == 0xB8
    assert (await sim.reverse(pre.receipt_number)).amount_cents == 0
    with pytest.raises(PaymentDeclined):
        await sim.reverse(pre.receipt_number)
    with pytest.raises(ValueError):
        await sim.pre_authorise(0)


@pytest.mark.parametrize("outcome, code", [("decline", 0x6E), ("abort", 0x6C)])
async def test_outcomes(sim, outcome, code):
    sim.outcome = outcome
    with pytest.raises(PaymentDeclined) as caught:
        await sim.pre_authorise(1000)
    assert caught.value.result_code == code and sim.open_reservations == {}


async def test_silent_terminal_is_bounded(sim):
    sim.available = False
    with pytest.raises(PaymentTerminalUnavailable):
        await sim.status()
    assert sim.info().last_error


async def test_waiting_for_a_card_then_abort_or_tap(sim):
    sim.wait_for_card = True
    payment = asyncio.ensure_future(sim.pre_authorise(1000))
    await asyncio.sleep(0.02)
    await sim.abort()
    with pytest.raises(PaymentDeclined) as caught:
        await payment
    assert caught.value.result_code == 0x6C
    payment = asyncio.ensure_future(sim.pre_authorise(1000))
    await asyncio.sleep(0.02)
    sim.present_card(SimCard(pan_masked="411111******1111", card_name="VISA"))
    result = await payment
    assert result.card_token == "411111******1111" and result.card_name == "VISA"
