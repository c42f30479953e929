"""ZVT RS-232 framing: DLE STX ... DLE ETX + CRC-16/KERMIT low byte first (hardware.md
§4.3), DLE stuffing, ACK/NAK; plus a seeded fuzz of the decoder."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.payment import zvt_codec as zvt
from drivers.payment import zvt_serial_framing as fr


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def test_crc16_kermit_check_value():
    """hardware.md §4.3: CRC-16/KERMIT, check value 0x2189 for "123456789"."""
    assert fr.crc16_kermit(b"123456789") == 0x2189
    assert fr.crc16_kermit(b"") == 0


def test_ack_apdu_frame_crc_low_byte_first():
    # CRC over 80 00 00 03 = 0x1FF5, sent F5 1F
    assert fr.crc16_kermit(h("80 00 00 03")) == 0x1FF5
    assert fr.encode_frame(zvt.ACK) == h("10 02 80 00 00 10 03 F5 1F")


def test_dle_in_the_apdu_is_doubled_and_the_crc_covers_the_unstuffed_bytes():
    apdu = zvt.end_of_day(101010)                      # 06 50 03 10 10 10
    frame = fr.encode_frame(apdu)
    crc = fr.crc16_kermit(apdu + b"\x03")
    assert frame == h("10 02 06 50 03 10 10 10 10 10 10 10 03") + bytes([crc & 0xFF, crc >> 8])
    assert fr.FrameDecoder().feed(frame) == [fr.FrameReceived(apdu)]


def test_ack_nak_and_garbage_between_frames():
    decoder = fr.FrameDecoder()
    events = decoder.feed(h("06 15 10 06 41 42") + fr.encode_frame(zvt.ACK) + h("15"))
    assert events == [fr.AckReceived(), fr.NakReceived(), fr.AckReceived(),
                      fr.FrameReceived(zvt.ACK), fr.NakReceived()]
    assert decoder.garbage_bytes == 2


def test_frame_split_byte_by_byte():
    apdu = zvt.pre_authorisation(2500)
    decoder = fr.FrameDecoder()
    events = []
    for byte in fr.encode_frame(apdu):
        assert not events
        events += decoder.feed(bytes([byte]))
    assert events == [fr.FrameReceived(apdu)] and not decoder.in_frame


def test_bad_crc_is_corrupt_and_the_next_frame_still_decodes():
    good = fr.encode_frame(zvt.ACK)
    bad = good[:-1] + bytes([good[-1] ^ 1])
    events = fr.FrameDecoder().feed(bad + good)
    assert events == [fr.FrameCorrupt("CRC mismatch"), fr.FrameReceived(zvt.ACK)]


def test_crc_right_but_apdu_length_wrong_is_corrupt():
    apdu = h("06 0F 05 27 00")       # says 5 data bytes, has 2
    frame = h("10 02") + apdu + h("10 03")
    crc = fr.crc16_kermit(apdu + b"\x03")
    events = fr.FrameDecoder().feed(frame + bytes([crc & 0xFF, crc >> 8]))
    assert events == [fr.FrameCorrupt("APDU length field disagrees with the frame")]


def test_stray_dle_and_restart_inside_a_frame():
    good = fr.encode_frame(zvt.ACK)
    events = fr.FrameDecoder().feed(h("10 02 80 10 41") + good)
    assert events == [fr.FrameCorrupt("DLE followed by 0x41"), fr.FrameReceived(zvt.ACK)]
    events = fr.FrameDecoder().feed(h("10 02 80 00") + good)
    assert events == [fr.FrameCorrupt("frame restarted before DLE ETX"),
                      fr.FrameReceived(zvt.ACK)]


def test_a_lone_dle_before_a_frame_does_not_swallow_it():
    """Found by the fuzz below: a truncated frame ending in DLE hid the next DLE STX."""
    decoder = fr.FrameDecoder()
    assert decoder.feed(h("10") + fr.encode_frame(zvt.ACK)) == [fr.FrameReceived(zvt.ACK)]
    assert decoder.garbage_bytes == 1


def test_abandon_after_t1_drops_the_partial_frame():
    decoder = fr.FrameDecoder()
    assert decoder.feed(h("10 02 80 00")) == [] and decoder.in_frame
    assert decoder.abandon() == [fr.FrameCorrupt("T1 expired inside a frame")]
    assert not decoder.in_frame and decoder.abandon() == []
    assert decoder.feed(fr.encode_frame(zvt.ACK)) == [fr.FrameReceived(zvt.ACK)]


def test_huge_frame_is_cut_off_without_growing_forever():
    decoder = fr.FrameDecoder()
    events = decoder.feed(h("10 02") + b"\x41" * (fr.MAX_FRAME_BYTES + 10))
    assert events == [fr.FrameCorrupt("frame too long")]


def test_defaults_are_the_documented_ones():
    """hardware.md §4.3: 9600 8N2; T1 0.2 s, T2 15 s, T3 5 s, T4 180 s."""
    assert fr.SERIAL_DEFAULTS == {"baudrate": 9600, "bytesize": 8, "parity": "N", "stopbits": 2}
    assert fr.ZvtTimeouts() == fr.ZvtTimeouts(0.2, 15.0, 5.0, 180.0)


# ---------------------------------------------------------------------- fuzz
apdus = st.builds(lambda c, i, d: zvt.encode_apdu(c, i, d), st.integers(0, 255),
                  st.integers(0, 255), st.binary(max_size=300))


@settings(max_examples=400, derandomize=True, deadline=None)
@given(st.binary(max_size=600), st.lists(st.integers(1, 40), max_size=8))
def test_fuzz_random_bytes_never_raise(noise, cuts):
    decoder = fr.FrameDecoder()
    pos = 0
    for cut in cuts + [len(noise)]:
        for event in decoder.feed(noise[pos:pos + cut]):
            assert isinstance(event, (fr.FrameReceived, fr.FrameCorrupt, fr.AckReceived,
                                      fr.NakReceived))
            if isinstance(event, fr.FrameReceived):
                assert zvt.parse_apdu(event.apdu)     # only well-formed APDUs come out
        pos += cut
    decoder.abandon()


@settings(max_examples=400, derandomize=True, deadline=None)
@given(apdus, st.integers(0, 10_000), st.integers(0, 255),
       st.sampled_from(["replace", "delete", "insert", "truncate"]))
def test_fuzz_corrupted_frame_never_yields_a_wrong_frame(apdu, where, value, how):
    frame = fr.encode_frame(apdu)
    i = where % len(frame)
    if how == "replace":
        bad = frame[:i] + bytes([value]) + frame[i + 1:]
    elif how == "delete":
        bad = frame[:i] + frame[i + 1:]
    elif how == "insert":
        bad = frame[:i] + bytes([value]) + frame[i:]
    else:
        bad = frame[:i]
    decoder = fr.FrameDecoder()
    events = decoder.feed(bad) + decoder.abandon()
    # the corruption is found, or it did not change the frame's content
    frames = [e.apdu for e in events if isinstance(e, fr.FrameReceived)]
    assert frames in ([], [apdu])
    if frames:
        assert bad == frame or how in ("insert", "delete")   # e.g. noise before DLE STX
    # and the decoder is usable afterwards
    assert decoder.feed(fr.encode_frame(zvt.ACK))[-1] == fr.FrameReceived(zvt.ACK)
