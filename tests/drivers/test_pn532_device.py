"""Pn532Reader against a PN532 played by the test on a real pty."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from drivers.registry import BuildContext
from drivers.rfid import pn532_codec as c
from drivers.rfid.pn532 import SPEC
from hal.errors import DeviceUnavailable
from hal.interfaces import RfidReader
from hal.options import validate_table

H = bytes.fromhex
UID4 = H("DEADBEEF")
UID7 = H("04A2B3C4D5E6F7")
UID10 = H("04112233445566778899")


class FakePn532:
    """Speaks UM0701 on the master side. ``script`` = what each InListPassiveTarget poll
    sees (a UID or None), then no card; each poll advances ``clock`` by ``poll_s``."""

    def __init__(self, pty, clock, script=(), poll_s=0.1):
        self.pty = pty
        self.clock = clock
        self.script = list(script)
        self.poll_s = poll_s
        self.silent = False
        self.noise_before_ack = b""
        self.corrupt_responses = 0     # next N responses go out with a bad DCS
        self.error_frames = 0          # next N commands get an application error frame
        self.commands: list[int] = []
        self.nacks = 0
        self._last = b""

    def _respond(self, data: bytes) -> None:
        frame = c.encode_frame(data, tfi=c.TFI_PN532)
        self._last = frame
        if self.corrupt_responses:
            self.corrupt_responses -= 1
            frame = frame[:-2] + bytes([(frame[-2] + 1) & 0xFF]) + frame[-1:]
        self.pty.write(frame)

    def _answer(self, data: bytes) -> None:
        code = data[0]
        self.commands.append(code)
        if self.silent:
            return
        self.pty.write(self.noise_before_ack + c.ACK)
        if self.error_frames:
            self.error_frames -= 1
            self.pty.write(c.ERROR_FRAME)
            return
        if code == c.CMD_IN_LIST_PASSIVE_TARGET:
            self.clock.advance(self.poll_s)
            uid = self.script.pop(0) if self.script else None
            if uid is None:
                self._respond(H("4B00"))
            else:
                sak = 0x20 if len(uid) == 7 else 0x08
                ats = H("0578807002") if sak & 0x20 else b""
                self._respond(H("4B0101") + H("0044") + bytes([sak, len(uid)]) + uid + ats)
        elif code == c.CMD_GET_FIRMWARE_VERSION:
            self._respond(H("0332010607"))
        else:
            self._respond(bytes([code + 1]))

    async def run(self):
        decoder = c.FrameDecoder(tfi=c.TFI_HOST)
        while True:
            data = await self.pty.read(timeout_s=60)
            for event in decoder.feed(data):
                if isinstance(event, c.Frame):
                    self._answer(event.data)
                elif isinstance(event, c.Nack):
                    self.nacks += 1
                    self.pty.write(self._last)


def make_reader(peer, clock, **kw):
    options = {"port": peer.path, "poll_interval_s": 0.0, "debounce_s": 0.35,
               "response_timeout_s": 5.0}  # a deadline: the fake answers at once
    options.update(kw)
    values, problems = validate_table(options, SPEC.options, "reader[1]")
    assert not problems, problems
    reader = SPEC.build(BuildContext(name="front"), values)
    reader._debouncer._clock = clock
    return reader


@contextlib.asynccontextmanager
async def running(fake):
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(fake.run())
        try:
            yield
        finally:
            task.cancel()


async def take(iterator, n, timeout_s=20.0):
    out = []
    async with asyncio.timeout(timeout_s):
        for _ in range(n):
            out.append(await anext(iterator))
    return out


async def test_wakeup_then_sam_bytes_on_the_wire(peer, clock):
    reader = make_reader(peer, clock)
    fake = FakePn532(peer, clock, script=[UID4])
    await reader.open()
    async with running(fake):
        cards = reader.cards()
        await take(cards, 1)
        await cards.aclose()
    await reader.close()
    assert bytes(peer.received).startswith(c.WAKEUP + H("0000FF03FDD414011700"))
    assert fake.commands[:3] == [c.CMD_SAM_CONFIGURATION, c.CMD_RF_CONFIGURATION,
                                 c.CMD_GET_FIRMWARE_VERSION]


async def test_held_card_counts_once_then_again_after_absence(peer, clock):
    reader = make_reader(peer, clock)
    assert isinstance(reader, RfidReader)
    script = [UID4] * 6 + [None] * 5 + [UID4] * 2 + [UID7] + [UID10]
    fake = FakePn532(peer, clock, script=script)
    await reader.open()
    async with running(fake):
        cards = reader.cards()
        got = await take(cards, 4)
        await cards.aclose()
    await reader.close()
    assert [g.uid for g in got] == [UID4, UID4, UID7, UID10]
    assert got[0].raw == "ATQA=0044 SAK=08 UID=DEADBEEF" and got[0].reader == "front"
    assert got[2].raw.endswith("ATS=0578807002")
    assert got[0].technology == "ISO14443A"


async def test_noise_corrupt_response_and_error_frame_recover_without_phantom(peer, clock):
    reader = make_reader(peer, clock)
    fake = FakePn532(peer, clock, script=[None, UID7])
    fake.noise_before_ack = H("FF13370055")
    await reader.open()
    async with running(fake):
        fake.corrupt_responses = 1        # the very first response (SAM) has a bad DCS
        cards = reader.cards()
        got = await take(cards, 1)
        fake.error_frames = 1
        fake.script = [UID4]
        got += await take(cards, 1)
        await cards.aclose()
    await reader.close()
    assert [g.uid for g in got] == [UID7, UID4]
    assert fake.nacks == 1


async def test_silent_reader_raises_device_unavailable(peer, clock):
    reader = make_reader(peer, clock, retries=2, response_timeout_s=0.02)
    fake = FakePn532(peer, clock)
    fake.silent = True
    await reader.open()
    async with running(fake):
        with pytest.raises(DeviceUnavailable, match="did not answer"):
            await take(reader.cards(), 1)
    await reader.close()
    assert "did not answer" in reader.info().last_error


async def test_port_vanishing_raises_device_unavailable(peer, clock):
    reader = make_reader(peer, clock)
    fake = FakePn532(peer, clock, script=[UID4] * 1000)
    await reader.open()
    async with running(fake):
        cards = reader.cards()
        await take(cards, 1)
        peer.hang_up()
        with pytest.raises(DeviceUnavailable):
            await take(cards, 1)
    await reader.close()


async def test_malformed_target_list_is_not_a_card(peer, clock):
    reader = make_reader(peer, clock)
    fake = FakePn532(peer, clock)
    await reader.open()
    original = fake._answer

    def answer(data):
        if data[0] == c.CMD_IN_LIST_PASSIVE_TARGET and fake.script == ["bad"]:
            fake.script = [UID7]
            fake.pty.write(c.ACK)
            fake._respond(H("4B0101004408051122334455"))   # UID length 5: invalid
            return
        original(data)

    fake._answer = answer
    fake.script = ["bad"]
    async with running(fake):
        cards = reader.cards()
        got = await take(cards, 1)
        await cards.aclose()
    await reader.close()
    assert got[0].uid == UID7
