"""The card payment with the real ZVT driver against the ZVT peer (tests/payment/
zvt_peer.py) over TCP and on a real pty, driven through the real agent and DevCsms:
happy path, declined card, silent terminal, zero energy, corrupted frames and NAKs,
end-of-day, and a SIGKILL between pre-authorisation and capture (exactly one booking
on the next start, never two)."""

import asyncio
import contextlib
import json

import pytest

from drivers.payment import zvt_codec as zvt
from tests.chaos.agent_process import AgentProcess
from tests.drivers.ptys import PtyPeer
from tests.integration.agent import running_agent, write_site
from tests.payment.zvt_peer import SerialTerminal, TcpTerminal, TerminalBrain

PAYMENT = """
[payment]
energy_price_per_kwh = "0.45"
session_fee = "0.50"
vat_percent = "19"
pre_authorisation_cents = 3000
"""
TIMEOUTS = 't2_s = 2.0\nt3_s = 1.0\nt4_s = 2.0\ntransaction_timeout_s = 20.0\n'


def board(tmp_path, payment_table: str) -> str:
    text = ('[board]\nname = "zvt test"\nmixed_sim = true\n'
            '[[connector]]\nid = 1\nmax_current_a = 32.0\n'
            '[connector.pilot]\ndriver = "sim"\nev_power_w = 11000.0\n'
            '[connector.contactor]\ndriver = "sim"\n[connector.meter]\ndriver = "sim"\n'
            '[[payment]]\nname = "pt"\nconnectors = [1]\n' + payment_table + TIMEOUTS)
    path = tmp_path / "board.toml"
    path.write_text(text)
    return str(path)


def tcp_board(tmp_path, port: int) -> str:
    return board(tmp_path, f'driver = "zvt_tcp"\nhost = "127.0.0.1"\ntcp_port = {port}\n'
                           'password = 123456\n')


@contextlib.asynccontextmanager
async def tcp_peer(brain):
    server = TcpTerminal(brain)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def bookings(brain, kind=None):
    return [b for b in brain.booked if kind is None or b[0] == kind]


async def charge_and_unplug(cp, wh: int = 1) -> None:
    await cp.console("sim plug 1")
    await cp.console("pay 1")
    await cp.until(lambda: cp.station.connectors[1].tx is not None)
    if wh:
        await cp.until(lambda: (cp.station.connectors[1].energy_wh() or 0)
                       - cp.station.connectors[1].tx.record.meter_start_wh >= wh)
    await cp.console("sim unplug 1")


async def test_tcp_happy_path_captures_the_cost_on_the_wire(csms, tmp_path):
    brain = TerminalBrain()
    brain.strict_receipts = True
    async with tcp_peer(brain) as pt:
        site = write_site(tmp_path, csms.url, board=tcp_board(tmp_path, pt.port), extra=PAYMENT)
        async with running_agent(site) as cp:
            await cp.until(lambda: cp.agent.link.connected)
            await charge_and_unplug(cp)
            cost = await csms.wait_for("DataTransfer",
                                       lambda f: f.payload["messageId"] == "PaymentCost",
                                       timeout_s=10)
            await csms.wait_for("DataTransfer",
                                lambda f: f.payload["messageId"] == "PaymentSettled",
                                timeout_s=10)
    total = json.loads(cost.payload["data"])["totalCents"]
    assert total > 0
    (pre,) = brain.commands_of(*zvt.PRE_AUTHORISATION)
    (release,) = brain.commands_of(*zvt.PARTIAL_REVERSAL)
    assert bookings(brain, "release") == [("release", 250, total)]
    assert brain.commands_of(*zvt.STATUS_ENQUIRY)       # checked at start


async def test_tcp_declined_card_and_silent_terminal_start_nothing(csms, tmp_path):
    brain = TerminalBrain()
    async with tcp_peer(brain) as pt:
        site = write_site(tmp_path, csms.url, board=tcp_board(tmp_path, pt.port), extra=PAYMENT)
        async with running_agent(site) as cp:
            await cp.until(lambda: cp.agent.link.connected)
            await cp.console("sim plug 1")
            brain.behaviour = "decline"
            await cp.console("pay 1")
            await cp.until(lambda: "declined" in cp.station.payment.last_message)
            brain.behaviour = "silent_after_ack"
            await cp.console("pay 1")
            await cp.until(lambda: cp.station.payment.terminal_fault != "", timeout_s=30)
            status = await cp.console("status")
            assert any(line.startswith("payment terminal: FAULT") for line in status)
            assert cp.station.connectors[1].tx is None
            # outcome unknown, no receipt: recorded as lost, shown, nothing started
            assert cp.station.payment.finished[-1].state == "lost"
    assert csms.messages("StartTransaction") == []


async def test_tcp_zero_energy_reverses_and_end_of_day_waits_for_idle(csms, tmp_path):
    brain = TerminalBrain()
    brain.strict_receipts = True
    async with tcp_peer(brain) as pt:
        site = write_site(tmp_path, csms.url, board=tcp_board(tmp_path, pt.port), extra=PAYMENT)
        async with running_agent(site) as cp:
            await cp.until(lambda: cp.agent.link.connected)
            await cp.console("sim power 1 0")
            await charge_and_unplug(cp, wh=0)
            await cp.until(lambda: bookings(brain, "reverse"))
            # The terminal has booked; the agent settles once its answer is in (until
            # then an end-of-day waits for the payment, as it must).
            await cp.until(lambda: not cp.station.payment.busy())
            from firmware.core import events as ev
            from firmware.core.timers import PaymentEndOfDay
            cp.agent.runtime.dispatch(ev.TimerFired(PaymentEndOfDay()))
            await cp.until(lambda: brain.commands_of(*zvt.END_OF_DAY))
    assert bookings(brain, "reverse") == [("reverse", 250, 0)]
    assert bookings(brain, "release") == []


async def test_serial_pty_with_naks_and_corrupted_frames_still_pays_once(csms, tmp_path):
    brain = TerminalBrain()
    brain.strict_receipts = True
    pty = PtyPeer()
    pt = SerialTerminal(brain, pty)
    pt.nak_ecr_frames = 1
    pt.corrupt_own_frames = 2
    pt.garbage = b"\x00\xff"
    task = asyncio.create_task(pt.run())
    try:
        path = board(tmp_path, f'driver = "zvt"\nport = "{pty.path}"\npassword = 123456\n'
                               't1_s = 0.5\n')
        site = write_site(tmp_path, csms.url, board=path, extra=PAYMENT)
        async with running_agent(site) as cp:
            await cp.until(lambda: cp.agent.link.connected)
            await charge_and_unplug(cp)
            await cp.until(lambda: bookings(brain, "release"), timeout_s=30)
            await csms.wait_for("DataTransfer",
                                lambda f: f.payload["messageId"] == "PaymentSettled",
                                timeout_s=10)
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        pty.close()
    assert len(bookings(brain, "release")) == 1
    assert pt.naks_received >= 2 and brain.nacks_from_ecr == []


@pytest.mark.parametrize("cut", ["charging", "capture_booked_unanswered"])
async def test_sigkill_between_pre_authorisation_and_capture_books_exactly_once(
        csms, tmp_path, cut):
    brain = TerminalBrain()
    brain.strict_receipts = True
    async with tcp_peer(brain) as pt:
        site = write_site(tmp_path, csms.url, board=tcp_board(tmp_path, pt.port),
                          console="stdio", extra=PAYMENT,
                          defaults={"MeterValueSampleInterval": 1})
        agent = AgentProcess(site, tmp_path / "agent.log")
        await agent.start()
        try:
            await csms.wait_for("StatusNotification", timeout_s=10)
            await agent.command("sim plug 1")
            await agent.command("pay 1")
            start = await csms.wait_for("StartTransaction", timeout_s=10)
            await csms.wait_for("MeterValues", after=start.seq, timeout_s=10)
            if cut == "capture_booked_unanswered":
                brain.silent_on = {zvt.PARTIAL_REVERSAL}   # books it, never answers
                await agent.command("sim unplug 1")
                async with asyncio.timeout(10):
                    while not bookings(brain, "release"):
                        await asyncio.sleep(0.02)
            await agent.kill()                                 # the power cut
            brain.silent_on = set()
            mark = csms.mark()
            await agent.start()
            await csms.wait_for("DataTransfer",
                                lambda f: f.payload["messageId"] == "PaymentSettled",
                                after=mark, timeout_s=20)
            assert await agent.terminate() == 0
        finally:
            await agent.kill()
    assert len(bookings(brain, "release")) + len(bookings(brain, "reverse")) == 1
    assert brain.open == {}                                    # nothing left reserved
    if cut == "capture_booked_unanswered":
        # sent again after the restart, refused as already booked: one booking, not two
        assert len(brain.commands_of(*zvt.PARTIAL_REVERSAL)) == 2


async def test_pay_cancel_aborts_the_waiting_pre_authorisation_on_the_wire(csms, tmp_path):
    brain = TerminalBrain()
    brain.hold_before_completion = True        # the customer has not tapped yet
    async with tcp_peer(brain) as pt:
        site = write_site(tmp_path, csms.url, board=tcp_board(tmp_path, pt.port), extra=PAYMENT)
        async with running_agent(site) as cp:
            await cp.until(lambda: cp.agent.link.connected)
            await cp.console("pay 1")
            await cp.until(lambda: brain.commands_of(*zvt.PRE_AUTHORISATION))
            await cp.console("pay cancel")
            await cp.until(lambda: cp.station.payment.finished
                           and cp.station.payment.finished[-1].state == "declined")
            assert cp.station.connectors[1].authorization is None
    assert brain.commands_of(*zvt.ABORT)
    assert brain.open == {}
