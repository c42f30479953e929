"""Wiegand codec (layout and example from hardware.md §1c) and device over sim GPIO."""

from __future__ import annotations

import asyncio

import pytest

from drivers.registry import BuildContext
from drivers.rfid.wiegand import SPEC
from drivers.rfid.wiegand_codec import (Rejected, WiegandDecoder, WiegandFrame, decode_bits,
                                        encode)
from hal.gpio.sim import SimGpioFactory
from hal.options import validate_table

# FC 123, CN 45678 -> 1 01111011 1011001001101110 1 = 0x2F764DD (Promag WEC200 appendix B)
W26 = "1" + "01111011" + "1011001001101110" + "1"
MS = 1_000_000


def test_datasheet_w26_example():
    assert int(W26, 2) == 0x2F764DD
    frame = decode_bits(W26)
    assert isinstance(frame, WiegandFrame)
    assert frame.uid == bytes([123]) + (45678).to_bytes(2, "big")
    assert (frame.facility, frame.card_number) == (123, 45678)
    assert encode(W26[1:-1]) == W26


def test_w34_uid_is_the_32_data_bits_msb_first():
    data = format(0x04A2B3C4, "032b")
    bits = encode(data)
    assert len(bits) == 34
    frame = decode_bits(bits)
    assert frame.uid == bytes.fromhex("04A2B3C4") and frame.facility is None


@pytest.mark.parametrize("bits,reason", [
    ("0" + W26[1:], "even parity"),
    (W26[:-1] + "0", "odd parity"),
    (W26[:12] + ("0" if W26[12] == "1" else "1") + W26[13:], "even parity"),
    (W26[:-1], "25 bits"),
    (W26 + "1", "27 bits"),
    ("1", "1 bits"),
    ("", "0 bits"),
])
def test_bad_frames_are_rejected(bits, reason):
    result = decode_bits(bits)
    assert isinstance(result, Rejected) and reason in result.reason


def test_formats_restrict_lengths():
    bits = encode(format(0x01020304, "032b"))
    assert isinstance(decode_bits(bits, formats=(26,)), Rejected)


def test_decoder_splits_frames_on_timestamp_gaps():
    d = WiegandDecoder(gap_ns=25 * MS)
    out = []
    t = 0
    for frame_bits in (W26, W26[:10], W26):       # a truncated burst between two frames
        for bit in frame_bits:
            out += d.push(int(bit), t)
            t += 2 * MS
        t += 30 * MS
    assert d.flush(now_ns=t - 30 * MS + 10 * MS) == []     # not silent long enough yet
    out += d.flush(now_ns=t)
    assert [type(o) for o in out] == [WiegandFrame, Rejected, WiegandFrame]


def test_decoder_drops_runaway_bursts():
    d = WiegandDecoder(max_bits=64)
    out = []
    for i in range(100):
        out += d.push(1, i * 1000)
    assert any(isinstance(o, Rejected) and "more than" in o.reason for o in out)


D0, D1 = 5, 6


def send(gpio: SimGpioFactory, bits: str, start_ns: int, spacing_ns: int = 2 * MS) -> int:
    t = start_ns
    for bit in bits:
        gpio.pulse(D1 if bit == "1" else D0, t, 50_000)
        t += spacing_ns
    return t


def make(gpio, clock, **kw):
    options = {"d0_pin": D0, "d1_pin": D1, "debounce_s": 1.0}
    options.update(kw)
    values, problems = validate_table(options, SPEC.options, "reader[1]")
    assert not problems, problems
    reader = SPEC.build(BuildContext(name="door", gpio=gpio), values)
    reader._debouncer._clock = clock
    return reader


async def test_device_reads_w26_and_w34_and_ignores_noise(clock):
    gpio = SimGpioFactory()
    reader = make(gpio, clock)
    await reader.open()
    assert gpio.level(D0) and gpio.level(D1)        # pulled up, idle high
    cards = reader.cards()
    w34 = encode(format(0x04A2B3C4, "032b"))
    t = send(gpio, "1", 0)                          # a lone noise pulse
    t = send(gpio, "0" + W26[1:], t + 40 * MS)      # parity error
    t = send(gpio, W26, t + 40 * MS)
    async with asyncio.timeout(5):
        first = await anext(cards)
        send(gpio, w34, t + 40 * MS)
        second = await anext(cards)
    await cards.aclose()
    assert (first.uid, first.raw, first.technology) == (bytes([123, 0xB2, 0x6E]), W26, "Wiegand26")
    assert (second.uid, second.technology) == (bytes.fromhex("04A2B3C4"), "Wiegand34")
    assert reader.info().details["rejected_frames"] == "2"
    await reader.close()
    assert not gpio.claimed(D0)


async def test_device_debounces_a_repeating_reader(clock):
    gpio = SimGpioFactory()
    reader = make(gpio, clock)
    await reader.open()
    cards = reader.cards()
    other = encode(format(0x00ABCDEF, "024b"))
    async with asyncio.timeout(5):
        t = send(gpio, W26, 0)
        first = await anext(cards)
        t = send(gpio, W26, t + 100 * MS)          # same card again, same instant: suppressed
        send(gpio, other, t + 100 * MS)
        second = await anext(cards)
    await cards.aclose()
    await reader.close()
    assert first.uid != second.uid and second.uid == bytes.fromhex("ABCDEF")


async def test_options():
    _, problems = validate_table({"d0_pin": 1, "d1_pin": 2, "formats": [26, 37], "gap_s": 0.01},
                                 SPEC.options, "r")
    assert {p.key for p in problems} == {"r.formats", "r.gap_s"}
