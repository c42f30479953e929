"""Token hygiene: one canonical idTag per card whatever the reader (hardware.md §1e),
eMAID recognition and check digits (hardware.md §5)."""

from __future__ import annotations

import pytest

from firmware.core.idtag import (
    IdTagError,
    ReaderFormat,
    canonical_id_tag,
    emaid_check_digit,
    id_tag_from_reader,
    normalise_id_tag,
    parse_emaid,
    uid_from_reader,
)

UID7 = bytes.fromhex("04A1B2C3D4E5F6")  # NXP 7-byte UID, UID0 = manufacturer 0x04
UID4 = bytes.fromhex("DEADBEEF")


# ------------------------------------------------------------------- bad input first
@pytest.mark.parametrize("raw,fmt", [
    pytest.param("", ReaderFormat(), id="empty line"),
    pytest.param("   ", ReaderFormat(), id="blank line"),
    pytest.param("04A1B2C", ReaderFormat(), id="odd number of hex digits"),
    pytest.param("04A1B2CX", ReaderFormat(), id="not hex"),
    pytest.param("\x0204A1\x03", ReaderFormat(), id="framing bytes are noise"),
    pytest.param("DEADBEEF", ReaderFormat(byte_count=7), id="wrong UID length"),
    pytest.param("12ab", ReaderFormat(form="dec", byte_count=4), id="decimal with letters"),
    pytest.param("4294967296", ReaderFormat(form="dec", byte_count=4), id="decimal over 4 bytes"),
    pytest.param("١٢٣", ReaderFormat(form="dec", byte_count=4), id="non-ASCII digits"),
])
def test_reader_noise_never_becomes_a_token(raw, fmt):
    with pytest.raises(IdTagError):
        uid_from_reader(raw, fmt)


def test_reader_format_options_are_checked():
    with pytest.raises(IdTagError):
        ReaderFormat(form="bin")
    with pytest.raises(IdTagError):
        ReaderFormat(form="dec")  # needs byte_count


def test_uid_longer_than_ci_string20_is_refused():
    with pytest.raises(IdTagError, match="CiString20"):
        canonical_id_tag(bytes(11))
    with pytest.raises(IdTagError):
        canonical_id_tag(b"")


# ------------------------------------------------------------------ canonical form
def test_canonical_form_is_uppercase_hex_in_anticollision_order():
    assert canonical_id_tag(UID7) == "04A1B2C3D4E5F6"
    assert canonical_id_tag(bytes(10)) == "0" * 20  # a 10-byte UID fits exactly


@pytest.mark.parametrize("raw,fmt", [
    pytest.param("04A1B2C3D4E5F6", ReaderFormat(), id="uppercase hex (PN7160 style)"),
    pytest.param("04a1b2c3d4e5f6", ReaderFormat(), id="lowercase hex (EVerest PN532 style)"),
    pytest.param("04:A1:B2:C3:D4:E5:F6", ReaderFormat(), id="colon separated"),
    pytest.param("04 a1 b2 c3 d4 e5 f6\r", ReaderFormat(), id="spaces and CR"),
    pytest.param("F6E5D4C3B2A104", ReaderFormat(reversed_bytes=True), id="byte-reversed (KEBA)"),
])
def test_one_card_one_id_tag_whatever_the_hex_reader(raw, fmt):
    assert id_tag_from_reader(raw, fmt) == "04A1B2C3D4E5F6"


def test_decimal_readers_of_a_4_byte_card():
    # Desktop readers: 10-digit decimal of the reversed 4-byte UID.
    reversed_dec = str(int.from_bytes(UID4[::-1], "big")).zfill(10)
    fmt = ReaderFormat(form="dec", byte_count=4, reversed_bytes=True)
    assert id_tag_from_reader(reversed_dec, fmt) == "DEADBEEF"
    assert id_tag_from_reader("3735928559", ReaderFormat(form="dec", byte_count=4)) == "DEADBEEF"


def test_zero_padded_six_byte_delivery_keeps_the_4_byte_identity():
    fmt = ReaderFormat(zero_pad_to=6)
    assert id_tag_from_reader("DEADBEEF0000", fmt) == "DEADBEEF"
    assert id_tag_from_reader("DEADBEEF", fmt) == "DEADBEEF"


def test_site_conventions_for_legacy_csms_lists():
    assert canonical_id_tag(UID4, reverse=True) == "EFBEADDE"
    assert canonical_id_tag(UID4, form="dec") == "3735928559"
    assert canonical_id_tag(bytes.fromhex("00000001"), form="dec", dec_width=10) == "0000000001"


def test_rdm6300_tag_value_from_hardware_md():
    # hardware.md §1b: tag 0x00A1B2C3 = 10597059 decimal.
    assert id_tag_from_reader("10597059", ReaderFormat(form="dec", byte_count=4)) == "00A1B2C3"


@pytest.mark.parametrize("text,expected", [
    ("abc", "ABC"), ("AbC-12", "ABC-12"), ("ß", "ß"), ("straße", "STRAßE"),
    (" a ", " A "),
])
def test_normalise_folds_ascii_only_and_keeps_length(text, expected):
    assert normalise_id_tag(text) == expected
    assert len(normalise_id_tag(text)) == len(text)


# -------------------------------------------------------------------------- eMAID
VECTORS = {  # hardware.md §5 (mobilityid CheckDigitSpec)
    "NN123ABCDEFGHI": "T", "FRXYZ123456789": "2", "ITA1B2C3E4F5G6": "4",
    "ESZU8WOX834H1D": "R", "PT73902837ABCZ": "Z", "DE83DUIEN83QGZ": "D",
    "DE83DUIEN83ZGQ": "M", "DE8AA001234567": "0",
}


@pytest.mark.parametrize("code,check", VECTORS.items())
def test_emaid_check_digit_vectors(code, check):
    assert emaid_check_digit(code) == check
    assert emaid_check_digit(code.lower()) == check


@pytest.mark.parametrize("bad", ["DE8AA00123456", "DE8AA0012345678", "DE8AA00123456_",
                                 "DE8AA00123456é"])
def test_emaid_check_digit_needs_14_alphanumerics(bad):
    with pytest.raises(IdTagError):
        emaid_check_digit(bad)


def test_check_digit_catches_adjacent_transposition():
    # DE83DUIEN83QGZ and DE83DUIEN83ZGQ differ by a jump transposition: different digits.
    assert emaid_check_digit("DE83DUIEN83QGZ") != emaid_check_digit("DE83DUIEN83ZGQ")
    assert emaid_check_digit("DE83DUIEN83QZG") != emaid_check_digit("DE83DUIEN83QGZ")


@pytest.mark.parametrize("text", ["DE-83D-UIEN83QGZ-D", "DE83DUIEN83QGZD", "de-83d-uien83qgz-d",
                                  "FR-XYZ-123456789-2"])
def test_parse_emaid_with_a_correct_check_digit(text):
    emaid = parse_emaid(text)
    assert emaid is not None and emaid.check_ok is True


def test_parse_emaid_forms():
    emaid = parse_emaid("DE-83D-UIEN83QGZ-D")
    assert (emaid.country, emaid.provider, emaid.instance, emaid.check_digit) == (
        "DE", "83D", "UIEN83QGZ", "D")
    assert emaid.normalised == "DE83DUIEN83QGZD" and emaid.display == "DE-83D-UIEN83QGZ-D"
    bare = parse_emaid("DE83DUIEN83QGZ")
    assert bare.check_digit is None and bare.check_ok is None


def test_parse_emaid_reports_a_wrong_check_digit():
    emaid = parse_emaid("DE-83D-UIEN83QGZ-M")
    assert emaid is not None and emaid.check_ok is False


@pytest.mark.parametrize("text", [
    "04A1B2C3D4E5F6",          # a 7-byte UID: starts with digits
    "DE-83DUIEN83QGZ-D",       # separators must be all or none
    "DE-83D-UIEN83QGZ-DX",     # too long
    "DEADBEEF", "", "D",
])
def test_not_an_emaid(text):
    assert parse_emaid(text) is None
