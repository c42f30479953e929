"""ZVT codec against byte strings: hardware.md §4.3/§4.4 and EVerest/zvt's captured
packets (``zvt/src/packets.rs`` tests), plus bad input that must raise ZvtDecodeError."""

from __future__ import annotations

import pytest

from drivers.payment import zvt_codec as zvt
from drivers.payment import zvt_fields as f
from drivers.payment.zvt_fields import ZvtDecodeError


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# ----------------------------------------------------------------------- APDU length
def test_short_apdu_has_a_one_byte_length():
    assert zvt.encode_apdu(0x06, 0x0F, b"\x27\x00") == h("06 0F 02 27 00")
    assert zvt.parse_apdu(h("06 0F 02 27 00")) == zvt.Apdu(0x06, 0x0F, b"\x27\x00")


def test_length_0xff_means_two_byte_little_endian_length_follows():
    """hardware.md §4.3: LEN == 0xFF, real length as 2 bytes little-endian (io.rs)."""
    data = bytes(300)
    raw = zvt.encode_apdu(0x06, 0xD3, data)
    assert raw[:5] == h("06 D3 FF 2C 01")
    assert zvt.parse_apdu(raw).data == data
    # 255 bytes exactly no longer fits the one-byte form
    assert zvt.encode_apdu(0x06, 0xD3, bytes(255))[:5] == h("06 D3 FF FF 00")
    assert zvt.encode_apdu(0x06, 0xD3, bytes(254))[:3] == h("06 D3 FE")


@pytest.mark.parametrize("raw", [h(""), h("06"), h("06 0F"), h("06 0F 02 27"),
                                 h("06 0F 01 27 00"), h("06 0F FF 01"), h("06 0F FF 02 00 00")])
def test_apdu_with_a_wrong_length_is_a_decode_error(raw):
    with pytest.raises(ZvtDecodeError):
        zvt.parse_apdu(raw)


def test_oversized_data_is_refused_before_sending():
    with pytest.raises(ValueError):
        zvt.encode_apdu(0x06, 0xD3, bytes(0x10000))


def test_apdu_stream_splits_bare_apdus_across_reads():
    stream = zvt.ApduStream()
    wire = h("80 00 00") + h("04 FF 02 0A 00") + zvt.encode_apdu(0x06, 0xD3, bytes(300))
    out = []
    for i in range(0, len(wire), 7):
        out += stream.feed(wire[i:i + 7])
    assert [a.command for a in out] == [(0x80, 0x00), (0x04, 0xFF), (0x06, 0xD3)]
    assert len(out[2].data) == 300 and stream.pending == 0


# ------------------------------------------------------------------------- fields
def test_bcd():
    assert f.bcd_encode(2500, 6) == h("00 00 00 00 25 00")
    assert f.bcd_encode(978, 2) == h("09 78")
    assert f.bcd_decode(h("00 00 00 00 25 00")) == 2500
    for bad in (-1, 10 ** 12, True, 1.5):
        with pytest.raises(ValueError):
            f.bcd_encode(bad, 6)
    with pytest.raises(ZvtDecodeError):
        f.bcd_decode(h("0A"))


def test_llvar_and_lllvar_lengths_are_f_digits():
    assert f.var_encode(b"MasterCard", 2) == h("F1 F0") + b"MasterCard"
    assert f.var_encode(b"x" * 123, 3)[:3] == h("F1 F2 F3")
    assert f.var_decode(h("F0 F3 41 42 43 44"), 0, 2, "t") == (b"ABC", 5)
    for bad in (h("F1"), h("F1 FA 00"), h("E1 F1 00"), h("F0 F5 41")):
        with pytest.raises(ZvtDecodeError):
            f.var_decode(bad, 0, 2, "t")


def test_masked_pan_keeps_the_mask():
    assert f.pan_decode(h("55 98 84 EE EE EE 80 74")) == "559884******8074"
    assert f.pan_decode(h("47 11 00 80 05 75 70 38 00 4F")) == "4711008005757038004"
    with pytest.raises(ZvtDecodeError):
        f.pan_decode(h("5A"))


def test_tlv_lengths_one_two_three_bytes():
    assert f.tlv_length_encode(0x7F) == h("7F")
    assert f.tlv_length_encode(0x80) == h("81 80")
    assert f.tlv_length_encode(0x1234) == h("82 12 34")
    assert f.tlv_length_decode(h("82 01 00"), 0) == (256, 3)
    for bad in (h("83 00 00 00"), h("81"), h("")):
        with pytest.raises(ZvtDecodeError):
            f.tlv_length_decode(bad, 0)


def test_tlv_round_trip_with_constructed_and_multi_byte_tags():
    items = (f.TlvItem(0x1F4C, b"\x01"),
             f.TlvItem(0x60, f.tlv_encode([f.TlvItem(0x43, h("A0 00 00 00 04 10 10"))]),
                       (f.TlvItem(0x43, h("A0 00 00 00 04 10 10")),)),
             f.TlvItem(0x1F45, bytes(200)))
    raw = f.tlv_encode(items)
    assert raw[:4] == h("1F 4C 01 01")
    assert f.tlv_decode(raw) == items


def test_tlv_garbage_is_a_decode_error():
    for bad in (h("1F"), h("1F 8F 8F 8F 8F 01 00"), h("60 05 43 09 A0"), h("4C 05 00")):
        with pytest.raises(ZvtDecodeError):
            f.tlv_decode(bad)
    deep = b""
    for _ in range(20):
        deep = b"\x60" + f.tlv_length_encode(len(deep)) + deep
    with pytest.raises(ZvtDecodeError):
        f.tlv_decode(deep)


# ----------------------------------------------------------------------- commands
def test_registration_matches_everest_capture():
    """EVerest test_registration: password 123456, config byte 0xDE, currency 978."""
    assert zvt.registration(123456, 0xDE, 978) == h("06 00 06 12 34 56 DE 09 78")
    assert zvt.registration(0, 0xDE, 978, service_byte=0x03) == \
        h("06 00 08 00 00 00 DE 09 78 03 03")


def test_pre_authorisation_is_06_22_with_amount_and_currency():
    """hardware.md §4.3: 06 22, BMP 04 amount 6 B BCD in cents, BMP 49 978 EUR."""
    assert zvt.pre_authorisation(2500) == h("06 22 0A 04 00 00 00 00 25 00 49 09 78")
    for bad in (0, -5, 10 ** 12):
        with pytest.raises(ValueError):
            zvt.pre_authorisation(bad)


def test_capture_commands():
    assert zvt.book_total(249, 1295) == h("06 24 0D 87 02 49 04 00 00 00 00 12 95 49 09 78")
    # §4.4: partial reversal carries the unused amount (2500 - 1295)
    assert zvt.partial_reversal(491, 2500 - 1295) == \
        h("06 23 0D 87 04 91 04 00 00 00 00 12 05 49 09 78")
    assert zvt.pre_auth_reversal(231) == h("06 25 06 87 02 31 49 09 78")
    assert zvt.open_reservations_enquiry() == h("06 23 03 87 FF FF")
    with pytest.raises(ValueError):
        zvt.book_total(10000, 100)      # receipt numbers are 4 digits


def test_admin_commands():
    assert zvt.end_of_day(123456) == h("06 50 03 12 34 56")
    assert zvt.abort() == h("06 B0 00")
    assert zvt.status_enquiry() == h("05 01 00")
    assert zvt.status_enquiry(123456) == h("05 01 03 12 34 56")
    assert zvt.ACK == h("80 00 00") and zvt.nack(0x9A) == h("84 9A 00")


# ----------------------------------------------------------------- PT -> ECR
def decode(text: str) -> zvt.PtMessage:
    return zvt.decode_pt_message(zvt.parse_apdu(h(text)))


def test_acks():
    assert decode("80 00 00") == zvt.PositiveAck()
    assert decode("84 83 00") == zvt.NegativeAck(0x83)


def test_intermediate_status_everest_capture():
    assert decode("04 FF 02 17 00") == zvt.IntermediateStatus(0x17, 0)
    assert decode("04 FF 01 0A") == zvt.IntermediateStatus(0x0A, None)
    with pytest.raises(ZvtDecodeError):
        decode("04 FF 00")


def test_status_information_after_pre_authorisation():
    data = (h("27 00") + h("04 00 00 00 00 25 00") + h("0B 00 10 12") + h("87 02 49")
            + h("8A 05") + h("8B") + f.var_encode(b"girocard", 2)
            + h("22") + f.var_encode(h("47 11 00 EE EE EE 38 00 4F"), 2)
            + h("49 09 78") + h("29 52 52 35 35") + h("0E 26 12"))
    info = zvt.decode_pt_message(zvt.Apdu(0x04, 0x0F, data))
    assert isinstance(info, zvt.StatusInformation)
    assert (info.result_code, info.amount_cents, info.trace_number, info.receipt_number) == \
        (0, 2500, 1012, 249)
    assert (info.card_type, info.card_name, info.pan_masked) == (5, "girocard",
                                                                 "471100******38004")
    assert (info.currency_code, info.terminal_id, info.expiry_yymm) == (978, "52523535", "2612")


def test_status_information_with_tlv_container_everest_capture():
    """EVerest test_status_information: 04 0F, len 0x64, BMP 27 00, BMP 06 len 0x60."""
    raw = bytes([
        4, 15, 100, 39, 0, 6, 96, 76, 10, 0, 0, 0, 0, 0, 0, 8, 255, 105, 20, 31, 69, 12, 12,
        120, 128, 116, 3, 128, 49, 192, 115, 214, 49, 192, 31, 76, 1, 1, 31, 77, 2, 254, 4, 31,
        79, 2, 4, 0, 31, 80, 1, 32, 96, 11, 67, 9, 160, 0, 0, 0, 89, 69, 67, 1, 0, 96, 12, 67,
        10, 160, 0, 0, 3, 89, 16, 16, 2, 128, 1, 96, 11, 67, 9, 210, 118, 0, 0, 37, 71, 65, 1,
        0, 96, 9, 67, 7, 160, 0, 0, 0, 4, 16, 16])
    info = zvt.decode_pt_message(zvt.parse_apdu(raw))
    assert isinstance(info, zvt.StatusInformation) and info.result_code == 0
    subs = [item for item in info.tlv if item.tag == 0x60]
    assert len(subs) == 4 and subs[3].children == (f.TlvItem(0x43, h("A0 00 00 00 04 10 10")),)
    assert [i.tag for i in info.tlv[:2]] == [0x4C, 0x1F45]


def test_unknown_bmp_stops_parsing_and_keeps_the_rest():
    info = zvt.parse_status_information(h("27 00 FE 01 02 03"))
    assert info.result_code == 0 and info.bmps is not None
    assert info.bmps.unparsed == h("FE 01 02 03")


def test_completion_and_status_enquiry_answer():
    assert decode("06 0F 00") == zvt.Completion()
    assert decode("06 0F 0A 19 10 29 52 52 35 35 49 09 78") == \
        zvt.Completion(status_byte=0x10, terminal_id="52523535")
    version = b"GER-APP-v2.0.9"
    answer = zvt.decode_pt_message(zvt.Apdu(0x06, 0x0F, f.var_encode(version, 3) + b"\x00"))
    assert answer == zvt.Completion(software_version="GER-APP-v2.0.9", terminal_status=0)


def test_pt_abort_carries_the_result_code():
    assert decode("06 1E 01 6C") == zvt.PtAbort(0x6C, None, b"")
    assert decode("06 1E 04 B8 87 FF FF").receipt_number == 0xFFFF   # EVerest capture
    assert decode("06 1E 04 B8 87 02 31").receipt_number == 231
    assert zvt.result_text(0x6C).startswith("aborted")
    with pytest.raises(ZvtDecodeError):
        decode("06 1E 00")


def test_print_messages_and_unknown_apdus():
    assert decode("06 D1 04 00 48 49 21") == zvt.PrintLine(0, "HI!")
    line = f.TlvItem(0x07, b"A")
    assert decode("06 D3 07 06 05 25 03 07 01 41") == \
        zvt.PrintTextBlock((f.TlvItem(0x25, h("07 01 41"), (line,)),))
    unknown = decode("06 99 01 00")
    assert isinstance(unknown, zvt.UnknownMessage) and unknown.apdu.instr == 0x99


@pytest.mark.parametrize("text", ["04 0F 02 04 00", "04 0F 02 22 F5", "04 0F 03 22 F1 F1",
                                  "04 0F 03 87 1A 00", "04 0F 02 06 05", "06 0F 04 F0 F0 F5 41",
                                  "04 0F 07 22 F0 F2 5A 12 00 00"])
def test_malformed_status_messages_raise_only_decode_error(text):
    with pytest.raises(ZvtDecodeError):
        decode(text)
