"""ZvtPaymentTerminal over a real pseudo-terminal at 9600 8N2, against a simulated
terminal speaking the framing of hardware.md §4.3 (DLE STX, CRC-16/KERMIT, ACK/NAK)."""

from __future__ import annotations

import asyncio

import pytest

from drivers.payment import zvt_serial_framing as fr
from drivers.payment.zvt_link import SerialZvtLink
from drivers.payment.zvt_terminal import ZvtPaymentTerminal
from hal.errors import DeviceOpenError, PaymentDeclined, PaymentTerminalUnavailable
from hal.serial import SerialSettings
from tests.drivers.ptys import PtyPeer
from tests.payment.conftest import PASSWORD, TIMEOUTS


def h(text: str) -> bytes:
    return bytes.fromhex(text)


async def test_pre_authorise_and_capture_over_the_serial_framing(serial_terminal, serial_pt,
                                                                 brain):
    result = await serial_terminal.pre_authorise(2500)
    assert result.receipt_number == 250 and result.pan_masked == "559884******8074"
    captured = await serial_terminal.capture(250, 1000, 2500)
    assert captured.amount_cents == 1000
    assert brain.commands[0] == h("06 00 06 12 34 56 DE 09 78")
    assert brain.commands[-1] == h("06 23 0D 87 02 50 04 00 00 00 00 15 00 49 09 78")
    # the exact bytes on the wire for the registration: frame, CRC low byte first
    assert serial_pt.pty.received.startswith(fr.encode_frame(brain.commands[0]))
    assert serial_terminal.link.naks_sent == 0 and serial_terminal.link.resends == 0


async def test_naked_frames_are_sent_again(serial_terminal, serial_pt):
    serial_pt.nak_ecr_frames = 2
    status = await serial_terminal.status()
    assert status.software_version == "SIM-PT 1.0"
    assert serial_terminal.link.resends == 2 and serial_pt.brain.commands == [h("05 01 00")]


async def test_corrupted_frames_from_the_terminal_are_naked_and_received_again(
        serial_terminal, serial_pt):
    serial_pt.corrupt_own_frames = 2
    result = await serial_terminal.pre_authorise(2500)
    assert result.receipt_number == 250
    assert serial_terminal.link.naks_sent == 2 and serial_pt.naks_received == 2


async def test_line_noise_between_frames_is_ignored(serial_terminal, serial_pt):
    serial_pt.garbage = h("00 FF 41 42 10 43")
    result = await serial_terminal.pre_authorise(2500)
    assert result.amount_cents == 2500


async def test_terminal_that_naks_everything_is_a_fault(serial_terminal, serial_pt):
    serial_pt.nak_ecr_frames = 100
    with pytest.raises(PaymentTerminalUnavailable, match="did not acknowledge"):
        await serial_terminal.status()
    assert serial_pt.nak_ecr_frames == 100 - fr.MAX_ATTEMPTS


async def test_terminal_sending_only_corrupt_frames_is_a_fault(serial_terminal, serial_pt):
    serial_pt.corrupt_own_frames = 100
    with pytest.raises(PaymentTerminalUnavailable, match="corrupt frames"):
        await serial_terminal.status()
    serial_pt.corrupt_own_frames = 0           # the line is good again: so is the driver
    assert (await serial_terminal.status()).software_version == "SIM-PT 1.0"


async def test_terminal_that_stops_answering_mid_transaction(serial_terminal, brain):
    brain.behaviour = "silent_after_ack"
    with pytest.raises(PaymentTerminalUnavailable, match="T4"):
        await serial_terminal.pre_authorise(2500)


async def test_declined_card_over_serial(serial_terminal, brain):
    brain.behaviour = "decline"
    with pytest.raises(PaymentDeclined) as caught:
        await serial_terminal.pre_authorise(2500)
    assert caught.value.result_code == 0x6E


async def test_abort_over_serial(serial_terminal, serial_pt, brain):
    brain.hold_before_completion = True
    payment = asyncio.ensure_future(serial_terminal.pre_authorise(2500))
    async with asyncio.timeout(5):
        while brain.acks_from_ecr < 2:
            await asyncio.sleep(0.01)
    await serial_terminal.abort()
    with pytest.raises(PaymentDeclined) as caught:
        await payment
    assert caught.value.result_code == 0x6C


async def test_silent_line_is_a_fault_after_bounded_resends():
    pty = PtyPeer()                          # nobody answers on the other side
    settings = SerialSettings(pty.path, 9600, 8, "N", 2)
    device = ZvtPaymentTerminal(SerialZvtLink(settings, TIMEOUTS), password=PASSWORD,
                                timeouts=TIMEOUTS)
    try:
        await device.open()
        with pytest.raises(PaymentTerminalUnavailable, match="after 3 attempts"):
            await device.status()
        frames = fr.FrameDecoder().feed(pty.pending())
        assert frames == [fr.FrameReceived(h("05 01 00"))] * fr.MAX_ATTEMPTS
    finally:
        await device.close()
        pty.close()


async def test_port_vanishing_mid_transaction(serial_terminal, serial_pt, brain):
    brain.hold_before_completion = True
    payment = asyncio.ensure_future(serial_terminal.pre_authorise(2500))
    async with asyncio.timeout(5):
        while brain.acks_from_ecr < 2:
            await asyncio.sleep(0.01)
    serial_pt.pty.hang_up()
    with pytest.raises(PaymentTerminalUnavailable):
        await payment


async def test_missing_port_fails_at_open_naming_it():
    settings = SerialSettings("/dev/nonexistent-zvt", 9600, 8, "N", 2)
    device = ZvtPaymentTerminal(SerialZvtLink(settings, TIMEOUTS))
    with pytest.raises(DeviceOpenError, match="nonexistent-zvt"):
        await device.open()
