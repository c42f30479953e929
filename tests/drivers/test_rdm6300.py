"""RDM6300 codec (frames from hardware.md §1b) and device over a real pty."""

from __future__ import annotations

import asyncio

import pytest

from drivers.registry import BuildContext
from drivers.rfid.rdm6300 import SPEC
from drivers.rfid.rdm6300_codec import Em4100Frame, Rdm6300Decoder, encode, xor_checksum
from hal.errors import DeviceUnavailable
from hal.options import validate_table

H = bytes.fromhex
# datasheet example: data 0F00A1B2C3 -> checksum DF; tag 0x00A1B2C3 = 10597059
GOOD = b"\x020F00A1B2C3DF\x03"


def test_datasheet_frame():
    assert xor_checksum(H("0F00A1B2C3")) == 0xDF
    assert encode(H("0F00A1B2C3")) == GOOD
    (frame,) = Rdm6300Decoder().feed(GOOD)
    assert frame == Em4100Frame(H("0F00A1B2C3"), "0F00A1B2C3DF")
    assert frame.tag_id == 10597059


def test_lowercase_hex_and_byte_by_byte():
    d = Rdm6300Decoder()
    out = []
    for b in b"\x020f00a1b2c3df\x03":
        out += d.feed(bytes([b]))
    assert [f.data for f in out] == [H("0F00A1B2C3")]


@pytest.mark.parametrize("bad", [
    b"\x020F00A1B2C3DE\x03",        # checksum off by one
    b"\x020F00A1B2C3D\x03",         # truncated (13 bytes)
    b"\x020F00A1B2C3DF\x04",        # wrong ETX
    b"\x020F00A1B2G3DF\x03",        # not hex
    b"\x02\x03",                    # empty
    b"0F00A1B2C3DF",                # no STX/ETX at all
    bytes(range(256)),              # line noise
])
def test_bad_frames_never_decode_and_decoder_recovers(bad):
    d = Rdm6300Decoder()
    assert d.feed(bad) == []
    assert [f.raw for f in d.feed(GOOD)] == ["0F00A1B2C3DF"]


def test_truncated_frame_followed_by_good_frame():
    d = Rdm6300Decoder()
    assert [f.raw for f in d.feed(b"\x020F00A1" + GOOD)] == ["0F00A1B2C3DF"]
    assert d.rejected == 1


def test_noise_between_frames():
    d = Rdm6300Decoder()
    frames = d.feed(b"\xff\x00" + GOOD + b"\x13\x37\x03" + GOOD)
    assert len(frames) == 2


def make(peer, clock, **kw):
    options = {"port": peer.path, "debounce_s": 0.5}
    options.update(kw)
    values, problems = validate_table(options, SPEC.options, "reader[1]")
    assert not problems
    assert values["baudrate"] == 9600
    reader = SPEC.build(BuildContext(name="rdm"), values)
    reader._debouncer._clock = clock
    return reader


async def test_repeats_suppressed_until_absent_for_debounce(peer, clock):
    """The fake clock only moves between points where the device has demonstrably
    processed everything written before (it yielded a card)."""
    reader = make(peer, clock)
    card_b = encode(H("0A01020304"))
    await reader.open()
    cards = reader.cards()
    async with asyncio.timeout(5):
        peer.write(GOOD)
        first = await anext(cards)
        clock.advance(0.4)                  # still within debounce_s of the last sighting
        peer.write(GOOD * 5 + b"\x020F00A1B2C3DE\x03" + card_b)   # repeats, a corrupted one, B
        second = await anext(cards)
        clock.advance(0.6)                  # B away longer than debounce_s: counts again
        peer.write(card_b)
        third = await anext(cards)
        peer.write(card_b * 3 + GOOD)       # B held (same instant): only A is new
        fourth = await anext(cards)
    await cards.aclose()
    await reader.close()
    assert (first.uid, first.raw, first.technology) == (H("0F00A1B2C3"), "0F00A1B2C3DF", "EM4100")
    assert second.uid == H("0A01020304")
    assert third.uid == H("0A01020304")
    assert fourth.uid == H("0F00A1B2C3")
    assert reader.info().details["rejected_frames"] != "0"


async def test_port_gone(peer, clock):
    reader = make(peer, clock)
    await reader.open()
    asyncio.get_running_loop().call_soon(peer.hang_up)
    with pytest.raises(DeviceUnavailable):
        async with asyncio.timeout(5):
            await anext(reader.cards())
    with pytest.raises(DeviceUnavailable):           # retried by the runtime: still gone
        await anext(reader.cards())
    await reader.close()
