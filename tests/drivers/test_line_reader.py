"""UID-per-line readers: codec and device over a real pty."""

from __future__ import annotations

import asyncio

import pytest

from drivers.registry import BuildContext
from drivers.rfid.line import SPEC
from drivers.rfid.line_codec import BadLine, CardLine, LineDecoder, LineFormat, parse_line
from hal.errors import DeviceUnavailable
from hal.options import validate_table

H = bytes.fromhex


@pytest.mark.parametrize("line,fmt,uid", [
    ("04A2B3C4D5E6F7", LineFormat(), "04A2B3C4D5E6F7"),
    ("04a2b3c4", LineFormat(), "04A2B3C4"),
    ("04:A2:B3:C4", LineFormat(separator=":"), "04A2B3C4"),
    ("04 A2 B3 C4", LineFormat(separator=" "), "04A2B3C4"),
    ("UID=04A2B3C4", LineFormat(prefix="UID="), "04A2B3C4"),
    ("  DEADBEEF  ", LineFormat(), "DEADBEEF"),
    ("0010597059", LineFormat(format="decimal"), "00A1B2C3"),
    ("10597059", LineFormat(format="decimal", decimal_bytes=3), "A1B2C3"),
])
def test_parse_good_lines(line, fmt, uid):
    result = parse_line(line, fmt)
    assert isinstance(result, CardLine) and result.uid == H(uid)


@pytest.mark.parametrize("line,fmt", [
    ("04A2B3C", LineFormat()),                       # odd digit count
    ("04A2B3CX", LineFormat()),                      # not hex
    ("04:A2:B3C4", LineFormat(separator=":")),       # bad grouping
    ("04:A2:B3:C4", LineFormat()),                   # separator not configured
    ("", LineFormat()),
    ("UID=", LineFormat(prefix="UID=")),
    ("4294967296", LineFormat(format="decimal")),    # 2**32 does not fit 4 bytes
    ("-12", LineFormat(format="decimal")),
    ("12.5", LineFormat(format="decimal")),
    ("00" * 11, LineFormat()),                       # longer than 10 bytes
    ("Reader v1.2 ready", LineFormat()),             # a banner
    ("١٢٣", LineFormat(format="decimal")),           # non-ASCII digits
    ("\x0204A1\x03", LineFormat()),                  # framing bytes are noise
])
def test_parse_bad_lines(line, fmt):
    assert isinstance(parse_line(line, fmt), BadLine)


def test_line_endings_cr_lf_crlf_and_split_chunks():
    d = LineDecoder(LineFormat())
    out = d.feed(b"0102\r0304\n05") + d.feed(b"06\r\n\r\n0708\n")
    assert [o.uid for o in out] == [H("0102"), H("0304"), H("0506"), H("0708")]


def test_binary_noise_and_overlong_lines_are_bad_lines():
    d = LineDecoder(LineFormat(max_line_chars=20))
    out = d.feed(b"\xff\xfe\x00\x01\r" + b"A" * 500 + b"\n" + b"\x1b[2J0102\r" + b"0A0B\r")
    assert [type(o) for o in out] == [BadLine, BadLine, BadLine, CardLine]
    assert out[-1].uid == H("0A0B")


def make(peer, clock, **kw):
    options = {"port": peer.path, "debounce_s": 1.0}
    options.update(kw)
    values, problems = validate_table(options, SPEC.options, "reader[1]")
    assert not problems, problems
    reader = SPEC.build(BuildContext(name="desk"), values)
    reader._debouncer._clock = clock
    return reader


async def test_device_yields_cards_ignores_junk_and_debounces(peer, clock, caplog):
    reader = make(peer, clock, separator=":", prefix="UID:")
    await reader.open()
    cards = reader.cards()
    async with asyncio.timeout(5):
        peer.write(b"booting...\r\nUID:04:A2:B3:C4\r\n")
        first = await anext(cards)
        peer.write(b"UID:04:A2:B3:C4\r\nUID:04:A2:B\r\nUID:0A:0B:0C:0D\r\n")
        second = await anext(cards)
    await cards.aclose()
    await reader.close()
    assert (first.uid, first.raw) == (H("04A2B3C4"), "UID:04:A2:B3:C4")
    assert second.uid == H("0A0B0C0D")
    assert reader.bad_lines == 1 + 1
    assert "04:A2:B" not in " ".join(r.getMessage() for r in caplog.records
                                       if r.levelname == "INFO")


async def test_device_decimal_and_port_gone(peer, clock):
    reader = make(peer, clock, format="decimal", technology="EM4100")
    await reader.open()
    cards = reader.cards()
    async with asyncio.timeout(5):
        peer.write(b"0010597059\r")
        card = await anext(cards)
        asyncio.get_running_loop().call_soon(peer.hang_up)
        with pytest.raises(DeviceUnavailable):
            await anext(cards)
    await reader.close()
    assert (card.uid, card.raw, card.technology) == (H("00A1B2C3"), "0010597059", "EM4100")


def test_option_problems():
    _, problems = validate_table({"port": "ttyUSB0", "format": "bcd", "separator": "::"},
                                 SPEC.options, "r")
    assert {p.key for p in problems} == {"r.port", "r.format", "r.separator"}
