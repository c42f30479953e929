"""A PN532 (or an emulator of one) that does not answer RFConfiguration still reads
cards: setting MaxRetries only keeps polls short, it is not needed to read a UID."""

from __future__ import annotations

from drivers.rfid import pn532_codec as c
from tests.drivers.test_pn532_device import UID4, FakePn532, make_reader, running, take


async def test_reader_without_rf_configuration_still_reads_cards(peer, clock):
    reader = make_reader(peer, clock, response_timeout_s=0.3)  # RFConfiguration times out
    fake = FakePn532(peer, clock, script=[None, UID4])
    answer = fake._answer

    def ignore_rf_configuration(data: bytes) -> None:
        if data[0] == c.CMD_RF_CONFIGURATION:
            fake.commands.append(data[0])       # heard, never answered
            return
        answer(data)

    fake._answer = ignore_rf_configuration
    await reader.open()
    async with running(fake):
        cards = reader.cards()
        got = await take(cards, 1)
        await cards.aclose()
    await reader.close()
    assert got[0].uid == UID4
    assert fake.commands.count(c.CMD_RF_CONFIGURATION) == reader.retries
