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


def test_duplicate_is_reacked_with_the_first_acks_status() -> None:
    link = p.Link()
    frame = p.Frame(9, p.CMD_OFFER_CURRENT, p.encode_u16(5000))
    delivered, _ = link.receive(frame, 0)
    refused = link.ack(delivered, p.ACK_REFUSED)
    assert link.receive(frame, 1) == (None, refused)


def test_first_frame_after_a_restart_is_seq_0_and_never_taken_for_a_duplicate() -> None:
    sender = p.Link()
    wire = sender.send(p.CMD_ALLOW_ENERGY, b"", 0)
    assert wire[2] == 0
    receiver = p.Link()
    assert receiver.receive(p.Frame(0, p.CMD_ALLOW_ENERGY), 0)[0] is not None
    # the sender restarts: its first frame is SEQ 0 again and must still be delivered
    assert receiver.receive(p.Frame(0, p.CMD_FORBID_ENERGY), 5)[0] is not None


def test_seq_wraps_to_1_not_0() -> None:
    link = p.Link()
    seqs = [p.Decoder().feed(link.send_unacked(p.CMD_READ_STATE, b""))[0].seq for _ in range(258)]
    assert seqs[:2] == [0, 1] and seqs[255] == 255 and seqs[256] == 1 and 0 not in seqs[1:]


def test_send_queue_is_bounded_when_the_peer_is_silent() -> None:
    link = p.Link()
    for i in range(100):
        link.send(p.MSG_PILOT_CHANGED, b"B", i)
    assert len(link._queue) == p.MAX_QUEUE and link.dropped == 100 - 1 - p.MAX_QUEUE


def test_ack_for_another_seq_does_not_release_the_inflight_frame() -> None:
    link = p.Link(retry_ms=100)
    wire = link.send(p.CMD_ALLOW_ENERGY, b"", 0)
    link.receive(p.Frame(77, p.MSG_ACK, bytes([77, 0])), 10)
    link.receive(p.Frame(78, p.MSG_ACK, b""), 11)  # malformed ack: ignored, no traceback
    assert link.poll(100) == wire
