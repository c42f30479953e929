"""PN532 frame codec against the frames in hardware.md §1a (UM0701-02)."""

from __future__ import annotations

import pytest

from drivers.rfid import pn532_codec as c

H = bytes.fromhex


def test_command_frames_match_datasheet_literals():
    assert c.sam_configuration() == H("0000FF03FDD4140117 00".replace(" ", ""))
    assert c.in_list_passive_target() == H("0000FF04FCD44A0100E100")
    assert c.get_firmware_version() == H("0000FF02FED4022A00")
    # Waveshare one-shot wake-up test string = wake-up preamble + SAMConfiguration
    waveshare = H("5555" + "00" * 14 + "FF03FDD414011700")
    assert (b"\x55\x55" + b"\x00" * 12 + c.sam_configuration()) == waveshare


def test_checksums():
    assert c.checksum(bytes([0x03])) == 0xFD                       # LCS
    assert c.checksum(H("D41401")) == 0x17                         # DCS
    assert c.rf_max_retries(0xFF, 0x01, 0x02)[5:-2] == H("D43205FF0102")


def test_extended_frame_roundtrip():
    payload = bytes([0x40]) + bytes(range(256)) + b"\x01\x02"
    frame = c.encode_frame(payload, tfi=c.TFI_PN532)
    assert frame[:5] == H("0000FFFFFF")
    assert c.FrameDecoder().feed(frame) == [c.Frame(0xD5, payload)]
    with pytest.raises(ValueError):
        c.encode_frame(bytes(300))


def test_decodes_waveshare_reply_ack_then_response():
    reply = H("0000FF00FF00" + "0000FF02FED5151600")
    assert c.FrameDecoder().feed(reply) == [c.Ack(), c.Frame(0xD5, H("15"))]


def test_ack_nack_error_frames():
    d = c.FrameDecoder()
    assert d.feed(c.ACK + c.NACK + c.ERROR_FRAME) == [c.Ack(), c.Nack(), c.ErrorFrame()]


def test_byte_by_byte_and_extra_leading_zeros():
    d = c.FrameDecoder()
    events = []
    for b in b"\x00\x00\x00\x00" + H("0000FF02FED5151600"):
        events += d.feed(bytes([b]))
    assert events == [c.Frame(0xD5, H("15"))]
    assert d.garbage_bytes == 0


# -- bad input first ------------------------------------------------------------------
def test_garbage_is_skipped_and_counted():
    d = c.FrameDecoder()
    assert d.feed(H("DEADBEEF55") + c.ACK + H("13 37".replace(" ", ""))) == [c.Ack()]
    assert d.garbage_bytes == 7


def test_bad_lcs_and_bad_dcs_are_corrupt_never_frames():
    bad_lcs = H("0000FF03FCD4140117 00".replace(" ", ""))
    bad_dcs = H("0000FF02FED5151700")
    d = c.FrameDecoder()
    events = d.feed(bad_lcs) + d.feed(bad_dcs)
    assert all(isinstance(e, c.Corrupt) for e in events) and events


def test_truncated_frame_followed_by_good_frame_loses_only_the_truncated_one():
    uid_frame = c.encode_frame(H("4B0101000408044A6B7C8D"), tfi=c.TFI_PN532)
    truncated = uid_frame[:9]
    events = c.FrameDecoder().feed(truncated + uid_frame)
    frames = [e for e in events if isinstance(e, c.Frame)]
    assert frames == [c.Frame(0xD5, H("4B0101000408044A6B7C8D"))]
    assert any(isinstance(e, c.Corrupt) for e in events)


def test_wrong_tfi_is_rejected():
    host_frame = c.in_list_passive_target()   # D4: not a PN532 → host frame
    assert isinstance(c.FrameDecoder().feed(host_frame)[0], c.Corrupt)


def test_endless_noise_never_grows_the_buffer():
    d = c.FrameDecoder(max_buffer=64)
    for _ in range(100):
        assert not [e for e in d.feed(bytes(range(1, 200))) if not isinstance(e, c.Corrupt)]
    # a header promising 255 bytes that never come is dropped on overflow
    assert d.feed(H("0000FFFF01") + bytes(70)) == [c.Corrupt("buffer overflow")]
    assert d.feed(c.ACK) == [c.Ack()]           # and the decoder recovers


# -- InListPassiveTarget ----------------------------------------------------------------
def test_parse_4_byte_uid_datasheet_example():
    (t,) = c.parse_in_list_passive_target(H("4B01010004080412345678"))
    assert (t.tg, t.atqa, t.sak, t.uid, t.ats) == (1, H("0004"), 0x08, H("12345678"), b"")


def test_parse_7_byte_uid_with_ats():
    data = H("4B01014400200704A2B3C4D5E6F7" + "0578807002")
    (t,) = c.parse_in_list_passive_target(data)
    assert t.uid == H("04A2B3C4D5E6F7") and t.sak == 0x20 and t.ats == H("0578807002")


def test_parse_10_byte_uid():
    (t,) = c.parse_in_list_passive_target(H("4B010100420A" + "0A") + H("04112233445566778899"))
    assert t.uid == H("04112233445566778899") and len(t.uid) == 10


def test_parse_no_target():
    assert c.parse_in_list_passive_target(H("4B00")) == []


@pytest.mark.parametrize("data", [
    "4B",                       # no NbTg
    "4B01",                     # target announced, nothing follows
    "4B010100040805123456",     # UID length 5 is not an ISO 14443 size
    "4B0101000408041234",       # truncated UID
    "4B01010004080412345678FF", # trailing byte
    "4B0101000420041234567805", # SAK says ATS, ATS truncated
    "4B03",                     # NbTg 3 > 2
    "4D01",                     # wrong response code
])
def test_parse_rejects_malformed(data):
    with pytest.raises(c.TargetParseError):
        c.parse_in_list_passive_target(H(data))
