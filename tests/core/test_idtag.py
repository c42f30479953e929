"""Token hygiene: one canonical idTag per card whatever the reader (hardware.md §1e),
eMAID recognition and check digits (hardware.md §5)."""

from __future__ import annotations

import pytest

from firmware.core.idtag import (
    IdTagError,
    ReaderFormat,
    canonical_id_tag,
    emaid_check_digit,
    id_tag_from_uid,
    normalise_id_tag,
    parse_emaid,
)

H = bytes.fromhex

UID7 = bytes.fromhex("04A1B2C3D4E5F6")  # NXP 7-byte UID, UID0 = manufacturer 0x04
UID4 = bytes.fromhex("DEADBEEF")


# ------------------------------------------------------------------- bad input first
# (reader text that is not a UID is refused by the reader's driver codec, e.g.
# tests/drivers/test_line_reader.py: the core only ever sees UID bytes)
def test_reader_format_options_are_checked():
    with pytest.raises(IdTagError):
        ReaderFormat(zero_pad_to=11)
    with pytest.raises(IdTagError):
        ReaderFormat(zero_pad_to=-1)


def test_uid_longer_than_ci_string20_is_refused():
    with pytest.raises(IdTagError, match="CiString20"):
        canonical_id_tag(bytes(11))
    with pytest.raises(IdTagError):
        canonical_id_tag(b"")
    with pytest.raises(IdTagError):
        id_tag_from_uid(b"", ReaderFormat(zero_pad_to=6))


# ------------------------------------------------------------------ canonical form
def test_canonical_form_is_uppercase_hex_in_anticollision_order():
    assert canonical_id_tag(UID7) == "04A1B2C3D4E5F6"
    assert canonical_id_tag(bytes(10)) == "0" * 20  # a 10-byte UID fits exactly


@pytest.mark.parametrize("uid,fmt", [
    pytest.param(UID7, ReaderFormat(), id="anticollision order (PN532, PN7160)"),
    pytest.param(UID7[::-1], ReaderFormat(reversed_bytes=True), id="byte-reversed (KEBA)"),
    pytest.param(UID7 + bytes(3), ReaderFormat(zero_pad_to=10), id="padded to 10"),
])
def test_one_card_one_id_tag_whatever_the_reader(uid, fmt):
    assert id_tag_from_uid(uid, fmt) == "04A1B2C3D4E5F6"


def test_zero_padded_six_byte_delivery_keeps_the_4_byte_identity():
    fmt = ReaderFormat(zero_pad_to=6)
    assert id_tag_from_uid(H("DEADBEEF0000"), fmt) == "DEADBEEF"
    assert id_tag_from_uid(UID4, fmt) == "DEADBEEF"             # not padded: unchanged
    # a 4-byte UID may itself end in 00: padding is removed, the UID's own 00 kept
    assert id_tag_from_uid(H("DEADBE000000"), fmt) == "DEADBE00"
    assert id_tag_from_uid(H("000000000000"), fmt) == "00000000"
    # a 7-byte UID ending in 00 padded to 10 keeps its 7 bytes
    assert id_tag_from_uid(H("04A1B2C3D4E50000" "0000"), ReaderFormat(zero_pad_to=10)) == (
        "04A1B2C3D4E500")
    # reversal first, then the padding (the reader pads what it printed)
    assert id_tag_from_uid(H("0000EFBEADDE"), ReaderFormat(reversed_bytes=True,
                                                           zero_pad_to=6)) == "DEADBEEF"


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


def test_the_token_type_of_a_tap_reaches_its_authorize_and_its_start():
    """Issue 9 item 1: the core carries how a token was presented (2.0.1 idToken.type)."""
    from firmware.core import effects as fx
    from firmware.core import events as ev
    from tests.core.harness import Harness

    h = Harness()
    h.boot()
    h.pilot("B")
    h.handle(ev.CardPresented("0A0B0C0D", "desk", token_type="ISO15693"))
    assert h.last(fx.SendAuthorizationRequest).token_type == "ISO15693"
    h.answer_authorize()
    assert h.last(fx.SendTransactionStarted).token_type == "ISO15693"


def test_a_remote_start_carries_the_csms_token_type():
    from firmware.core import effects as fx
    from firmware.core import events as ev
    from tests.core.harness import Harness

    h = Harness()
    h.boot()
    h.pilot("B")
    h.handle(ev.RemoteStartRequested(h.ref(), "EMAID01", 1, token_type="eMAID"))
    assert h.last(fx.SendTransactionStarted).token_type == "eMAID"
