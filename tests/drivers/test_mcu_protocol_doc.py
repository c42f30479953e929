"""Every byte-level example of docs/mcu-protocol.md is a valid frame for both codecs (the
host's drivers/pilot/mcu_codec.py and the MCU's firmware/mcu/protocol.py), with the SEQ and
TYPE its row states, and the fields its meaning names."""

from __future__ import annotations

import re
from pathlib import Path

from drivers.pilot import mcu_codec as mc
from firmware.mcu import protocol as fw

DOC = Path(__file__).resolve().parents[2] / "docs" / "mcu-protocol.md"


def examples() -> list[tuple[int, int, bytes]]:
    text = DOC.read_text("utf-8")
    table = text.split("<!-- BEGIN frame examples -->")[1].split("<!-- END frame examples -->")[0]
    rows = re.findall(r"^\| [^|]+ \| (\d+) \| (0x[0-9A-F]{2}) \| `([0-9A-F ]+)` \|", table, re.M)
    return [(int(seq), int(kind, 16), bytes.fromhex(hexes)) for seq, kind, hexes in rows]


def test_the_doc_has_an_example_of_every_command_and_message():
    kinds = {kind for _, kind, _ in examples()}
    assert kinds == {0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
                     0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87}


def test_every_example_decodes_identically_on_both_sides():
    for seq, kind, wire in examples():
        host = mc.FrameDecoder().feed(wire)
        firm = fw.Decoder().feed(wire)
        assert [(f.seq, f.kind) for f in host] == [(seq, kind)], wire.hex(" ")
        assert [(f.seq, f.kind, f.payload) for f in firm] == [(seq, kind, host[0].payload)]
        assert mc.encode(seq, kind, host[0].payload) == wire


def test_the_examples_mean_what_the_doc_says():
    frames = {(seq, kind): mc.FrameDecoder().feed(wire)[0].payload
              for seq, kind, wire in examples()}
    assert mc.decode_u16(frames[(1, mc.CMD_OFFER_CURRENT)]) == 160
    assert mc.decode_version(frames[(3, mc.MSG_VERSION)]) == mc.McuVersion(1, 0, "0.1.0")
    assert mc.decode_state(frames[(7, mc.MSG_STATE)]) == mc.McuState(
        "C", True, True, True, 0, 160, 32, 300)
    assert mc.decode_state(frames[(8, mc.MSG_KEEPALIVE)]) == mc.McuState(
        "B", False, False, False, 0, 160, 0, 301)
    assert mc.decode_pilot(frames[(9, mc.MSG_PILOT_CHANGED)]) == "B"
    assert mc.decode_contactor(frames[(10, mc.MSG_CONTACTOR_CHANGED)]) == (True, True)
    assert mc.decode_u16(frames[(11, mc.MSG_FAULT)]) == mc.FAULT_RCD
    assert mc.decode_self_test(frames[(12, mc.MSG_SELF_TEST)]) == (True, 0)
    assert frames[(6, mc.MSG_ACK)] == bytes([6, mc.ACK_REFUSED])
    assert frames[(13, mc.MSG_ACK)] == bytes([13, mc.ACK_UNKNOWN])


def test_the_corrupted_example_is_dropped():
    decoder = mc.FrameDecoder()
    assert decoder.feed(bytes.fromhex("A5 02 02 02 E4 DD")) == [] and decoder.errors >= 1
