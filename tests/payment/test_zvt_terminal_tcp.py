"""ZvtPaymentTerminal over a real TCP connection to a simulated terminal on 127.0.0.1."""

from __future__ import annotations

import asyncio

import pytest

from drivers.payment import zvt_codec as zvt
from drivers.payment.zvt_link import TcpZvtLink
from drivers.payment.zvt_terminal import ZvtPaymentTerminal
from hal.errors import PaymentDeclined, PaymentTerminalUnavailable
from hal.interfaces import PaymentTerminal
from tests.payment.conftest import PASSWORD, TIMEOUTS


def h(text: str) -> bytes:
    return bytes.fromhex(text)


async def until(condition, timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.005)


async def test_registers_then_pre_authorises(tcp_terminal, brain):
    assert isinstance(tcp_terminal, PaymentTerminal)
    result = await tcp_terminal.pre_authorise(2500)
    assert brain.commands == [h("06 00 06 12 34 56 DE 09 78"),
                              h("06 22 0A 04 00 00 00 00 25 00 49 09 78")]
    assert (result.amount_cents, result.receipt_number, result.trace_number) == (2500, 250, 1013)
    assert (result.card_type, result.card_name, result.pan_masked) == (6, "MasterCard",
                                                                       "559884******8074")
    assert result.card_token == "559884******8074" and result.result_code == 0
    assert result.currency_code == 978 and result.terminal_id == "52523535"
    # the ECR acknowledged the intermediate status, the status information, the completion
    await until(lambda: brain.acks_from_ecr == 1 + 3)
    assert tcp_terminal.info().role == "payment" and tcp_terminal.info().last_error == ""


async def test_capture_by_partial_reversal_releases_the_unused_part(tcp_terminal, brain):
    """hardware.md §4.4: 06 23 with receipt no and amount = pre-auth - final."""
    result = await tcp_terminal.capture(250, 1295, 2500)
    assert brain.commands[-1] == h("06 23 0D 87 02 50 04 00 00 00 00 12 05 49 09 78")
    assert result.amount_cents == 1295 and result.receipt_number == 250


async def test_capture_of_the_whole_reservation_books_total(tcp_terminal, brain):
    await tcp_terminal.capture(250, 2500, 2500)
    assert brain.commands[-1][:2] == h("06 24")


async def test_capture_by_book_total(tcp_pt, brain):
    device = ZvtPaymentTerminal(TcpZvtLink("127.0.0.1", tcp_pt.port, TIMEOUTS),
                                password=PASSWORD, timeouts=TIMEOUTS, capture_method="book_total")
    try:
        result = await device.capture(250, 1295, 2500)
    finally:
        await device.close()
    assert brain.commands[-1] == h("06 24 0D 87 02 50 04 00 00 00 00 12 95 49 09 78")
    assert result.amount_cents == 1295


@pytest.mark.parametrize("amount, pre", [(0, 2500), (-1, 2500), (2501, 2500)])
async def test_impossible_capture_amounts_are_refused_before_sending(tcp_terminal, brain,
                                                                     amount, pre):
    with pytest.raises(ValueError):
        await tcp_terminal.capture(250, amount, pre)
    assert brain.commands == []


async def test_reverse_and_admin_commands(tcp_terminal, brain):
    result = await tcp_terminal.reverse(250)
    assert brain.commands[-1] == h("06 25 06 87 02 50 49 09 78") and result.amount_cents == 0
    status = await tcp_terminal.status()
    assert status.ready and status.software_version == "SIM-PT 1.0"
    assert brain.commands[-1] == h("05 01 00")
    end = await tcp_terminal.end_of_day()
    assert brain.commands[-1] == h("06 50 03 12 34 56") and end.total_cents == 12345


async def test_declined_card_raises_with_the_result_code(tcp_terminal, brain):
    brain.behaviour = "decline"
    with pytest.raises(PaymentDeclined) as caught:
        await tcp_terminal.pre_authorise(2500)
    assert caught.value.result_code == 0x6E


async def test_refused_command_raises_with_the_84_code(tcp_terminal, brain):
    brain.behaviour = "refuse"
    with pytest.raises(PaymentDeclined) as caught:
        await tcp_terminal.pre_authorise(2500)
    assert caught.value.result_code == 0x83


async def test_abort_while_the_customer_is_at_the_terminal(tcp_terminal, brain):
    brain.hold_before_completion = True
    payment = asyncio.ensure_future(tcp_terminal.pre_authorise(2500))
    await until(lambda: brain.acks_from_ecr >= 2)   # registration done, "insert card" ACKed
    await tcp_terminal.abort()
    with pytest.raises(PaymentDeclined) as caught:
        await payment
    assert caught.value.result_code == zvt.RESULT_ABORTED
    assert brain.commands[-1] == h("06 B0 00")
    await tcp_terminal.abort()              # nothing running: only sends 06 B0
    assert brain.commands[-2:] == [h("06 B0 00")] * 2


async def test_abort_during_the_registration_stops_the_payment_before_it_is_sent(
        tcp_terminal, tcp_pt, brain):
    tcp_pt.delay_s = 0.3                            # the terminal is slow to answer it
    payment = asyncio.ensure_future(tcp_terminal.pre_authorise(2500))
    await asyncio.sleep(0)                          # the payment holds the terminal now
    assert brain.commands == []
    await tcp_terminal.abort()                      # returns at once, does not queue
    assert not payment.done()
    with pytest.raises(PaymentDeclined) as caught:
        await payment
    assert caught.value.result_code == zvt.RESULT_ABORTED
    assert [zvt.parse_apdu(c).command for c in brain.commands] == [zvt.REGISTRATION]


async def test_terminal_that_stops_answering_mid_transaction_is_a_fault_not_a_hang(
        tcp_terminal, brain):
    await tcp_terminal.status()             # connected and answering
    brain.behaviour = "silent_after_ack"
    with pytest.raises(PaymentTerminalUnavailable, match="T4"):
        await tcp_terminal.pre_authorise(2500)
    assert "T4" in tcp_terminal.info().last_error
    brain.behaviour = "approve"             # back: the next call registers again and works
    commands = len(brain.commands)
    await tcp_terminal.pre_authorise(2500)
    assert zvt.parse_apdu(brain.commands[commands]).command == zvt.REGISTRATION


async def test_terminal_that_never_answers_times_out_on_t2(tcp_terminal, brain):
    brain.behaviour = "no_answer"
    with pytest.raises(PaymentTerminalUnavailable, match="T2"):
        await tcp_terminal.status()


async def test_whole_operation_is_bounded_even_while_the_terminal_keeps_talking(tcp_pt, brain):
    device = ZvtPaymentTerminal(TcpZvtLink("127.0.0.1", tcp_pt.port, TIMEOUTS),
                                password=PASSWORD, timeouts=TIMEOUTS, transaction_timeout_s=0.5)
    brain.behaviour = "silent_after_ack"
    try:
        with pytest.raises(PaymentTerminalUnavailable, match="not finished within"):
            await device.status()
    finally:
        await device.close()
    await until(lambda: brain.commands[-1] == h("06 B0 00"))   # the terminal was told to stop


async def test_unknown_and_malformed_apdus_are_answered_and_skipped(tcp_terminal, tcp_pt,
                                                                    brain):
    await tcp_terminal.status()
    tcp_pt.extra = h("06 99 00") + h("04 0F 02 04 00")   # unknown command, truncated BMP
    result = await tcp_terminal.pre_authorise(2500)
    assert result.receipt_number == 250
    assert brain.nacks_from_ecr == [h("84 83 00"), h("84 9A 00")]


async def test_a_bad_length_byte_costs_one_operation_then_the_link_resynchronises(
        tcp_terminal, tcp_pt, brain):
    await tcp_terminal.status()
    tcp_pt.extra = h("06 0F FF FF FF")          # announces 65535 bytes that never come
    with pytest.raises(PaymentTerminalUnavailable, match="T2"):
        await tcp_terminal.status()
    result = await tcp_terminal.pre_authorise(2500)   # a new connection, a clean stream
    assert result.receipt_number == 250 and tcp_pt.connections == 2


async def test_terminal_closing_the_connection_is_a_fault_and_the_next_call_reconnects(
        tcp_terminal, tcp_pt, brain):
    await tcp_terminal.status()
    brain.behaviour = "silent_after_ack"
    payment = asyncio.ensure_future(tcp_terminal.pre_authorise(2500))
    await until(lambda: brain.commands_of(*zvt.PRE_AUTHORISATION))
    await tcp_pt.drop_connections()          # the terminal goes away under the dialogue
    with pytest.raises(PaymentTerminalUnavailable, match="closed the connection"):
        await payment
    brain.behaviour = "approve"
    await tcp_terminal.pre_authorise(2500)
    assert tcp_pt.connections == 2


async def test_unreachable_terminal_is_a_fault_at_the_operation_not_at_open():
    device = ZvtPaymentTerminal(TcpZvtLink("127.0.0.1", 1, TIMEOUTS), timeouts=TIMEOUTS)
    await device.open()                      # logs, does not stop the agent
    with pytest.raises(PaymentTerminalUnavailable, match="cannot be reached"):
        await device.pre_authorise(100)
    await device.close()
