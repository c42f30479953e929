"""Byte-level vectors for the Pi <-> MCU frame codec (firmware/mcu/protocol.py)."""

from firmware.mcu import protocol as p


def test_crc16_ccitt_false_check_value() -> None:
    assert p.crc16(b"123456789") == 0x29B1


def test_offer_16a_frame_bytes() -> None:
    assert p.encode(1, p.CMD_OFFER_CURRENT, p.encode_u16(160)) == bytes.fromhex("a5040101 00a0 6c64")


def test_decoder_resyncs_after_garbage_and_bad_crc() -> None:
    good = bytes.fromhex("a5020202e4dc")
    bad = bytes.fromhex("a5020202e4dd")
    dec = p.Decoder()
    assert dec.feed(b"\x00\xff" + bad + good[:3]) == []
    assert dec.feed(good[3:]) == [p.Frame(2, p.CMD_ALLOW_ENERGY)]
    assert dec.errors >= 2


def test_decoder_rejects_oversized_length_without_growing() -> None:
    dec = p.Decoder()
    assert dec.feed(bytes([p.SOF, 0xFF]) + b"\x00" * 300) == []
    assert len(dec._buf) <= p.MAX_LEN + 4


def test_state_roundtrip() -> None:
    payload = p.encode_state("C", True, True, True, 0, 160, 32, 300)
    assert p.encode(7, p.MSG_STATE, payload).hex() == "a50b07814307000000a020012c37e8"
    assert p.decode_state(payload)["pilot"] == "C"


def test_link_retransmits_then_gives_up() -> None:
    link = p.Link(retry_ms=100, max_retries=2)
    wire = link.send(p.CMD_ALLOW_ENERGY, b"", 0)
    assert link.poll(50) == b""
    assert link.poll(100) == wire
    assert link.poll(200) == wire
    assert link.poll(300) == b""
    assert link.failed == 1 and link.idle


def test_link_duplicate_is_reacked_not_redelivered() -> None:
    link = p.Link()
    frame = p.Frame(5, p.CMD_FORBID_ENERGY)
    assert link.receive(frame, 0)[0] == frame
    delivered, out = link.receive(frame, 1)
    assert delivered is None and out == p.encode(5, p.MSG_ACK, bytes([5, 0]))
