"""Sans-I/O ZVT (ECR interface) codec: APDUs, the ECR's commands, the terminal's answers.

APDU = CLASS(1) INSTR(1) LEN(1) DATA; LEN 0xFF means the real length follows as two
bytes little-endian (hardware.md §4.3, EVerest ``io.rs read_packet``). Commands are built
as bytes; what the terminal (PT) sends is decoded into one of the message classes below
by ``decode_pt_message``. Field encodings live in ``zvt_fields``.

Failure modes: ``parse_apdu`` and the decoders raise ``ZvtDecodeError`` for bytes that are
not a valid APDU/message (the caller answers them with a negative ACK, never crashes);
APDUs the ECR does not know decode to ``UnknownMessage``. Builders raise ``ValueError``
for values that cannot be sent (negative amounts, more digits than the field holds).
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.payment.zvt_fields import (Bmps, TlvItem, ZvtDecodeError, bcd_decode, bcd_encode,
                                        bmp_encode, bmps_decode, pan_decode, tlv_decode,
                                        var_decode)

__all__ = ["ZvtDecodeError"]

MAX_DATA_LEN = 0xFFFF
EUR = 978

# commands, ECR -> PT (hardware.md §4.3)
REGISTRATION = (0x06, 0x00)
PRE_AUTHORISATION = (0x06, 0x22)     # "Reservation"
PARTIAL_REVERSAL = (0x06, 0x23)
BOOK_TOTAL = (0x06, 0x24)
PRE_AUTH_REVERSAL = (0x06, 0x25)
END_OF_DAY = (0x06, 0x50)
ABORT = (0x06, 0xB0)
STATUS_ENQUIRY = (0x05, 0x01)
# PT -> ECR
INTERMEDIATE_STATUS = (0x04, 0xFF)
STATUS_INFORMATION = (0x04, 0x0F)
COMPLETION = (0x06, 0x0F)
PT_ABORT = (0x06, 0x1E)
PRINT_LINE = (0x06, 0xD1)
PRINT_TEXT_BLOCK = (0x06, 0xD3)

ACK = b"\x80\x00\x00"
RESULT_ABORTED = 0x6C          # abort via timeout or abort key / 06 B0
RESULT_PROTOCOL_ERROR = 0x9A   # what the ECR answers an APDU it cannot decode
RESULT_FUNCTION_NOT_POSSIBLE = 0x83

# ZVT result codes, for log and console texts only (the code itself is what is stored)
RESULT_TEXTS = {
    0x00: "success", 0x64: "card not readable", 0x65: "card data not present",
    0x66: "processing error", 0x6B: "function deactivated (terminal not registered)",
    0x6C: "aborted (timeout or abort key)", 0x6E: "card in blocked list",
    0x6F: "wrong currency", 0x71: "credit not sufficient", 0x78: "card expired",
    0x7A: "card unknown", 0x83: "function not possible", 0x9A: "ZVT protocol error",
    0x9C: "please wait", 0xB4: "already reversed", 0xB5: "reversal not possible",
    0xB8: "pre-authorisation incorrect (amount too high) or amount wrong",
    0xFF: "system error",
}


def result_text(code: int) -> str:
    return RESULT_TEXTS.get(code, f"result code 0x{code:02X}")


# -------------------------------------------------------------------------- APDU
@dataclass(frozen=True)
class Apdu:
    cls: int
    instr: int
    data: bytes = b""

    @property
    def command(self) -> tuple[int, int]:
        return (self.cls, self.instr)

    def encode(self) -> bytes:
        return encode_apdu(self.cls, self.instr, self.data)


def encode_apdu(cls: int, instr: int, data: bytes = b"") -> bytes:
    if len(data) > MAX_DATA_LEN:
        raise ValueError(f"APDU data of {len(data)} bytes exceeds {MAX_DATA_LEN}")
    if len(data) < 0xFF:
        head = bytes([cls, instr, len(data)])
    else:
        head = bytes([cls, instr, 0xFF]) + len(data).to_bytes(2, "little")
    return head + data


def apdu_size(buf: bytes | bytearray) -> int | None:
    """Total size of the APDU at the start of ``buf``, or None while its header is
    incomplete."""
    if len(buf) < 3:
        return None
    if buf[2] != 0xFF:
        return 3 + buf[2]
    if len(buf) < 5:
        return None
    return 5 + int.from_bytes(buf[3:5], "little")


def parse_apdu(raw: bytes) -> Apdu:
    """Exactly one complete APDU. Raises ``ZvtDecodeError`` when the length disagrees."""
    size = apdu_size(raw)
    if size is None or size != len(raw):
        raise ZvtDecodeError(f"APDU length field says {size}, got {len(raw)} bytes")
    start = 3 if raw[2] != 0xFF else 5
    return Apdu(raw[0], raw[1], bytes(raw[start:]))


class ApduStream:
    """Splits a byte stream of bare APDUs (ZVT over TCP) into APDUs.

    TCP has no frame delimiter: a stream is only resynchronised by reconnecting, so the
    caller drops the connection when a decoded APDU makes no sense.
    """

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Apdu]:
        self._buf += data
        out = []
        while (size := apdu_size(self._buf)) is not None and len(self._buf) >= size:
            out.append(parse_apdu(bytes(self._buf[:size])))
            del self._buf[:size]
        return out

    @property
    def pending(self) -> int:
        return len(self._buf)

    def reset(self) -> None:
        self._buf.clear()


# ---------------------------------------------------------------------- commands
def _amount(amount_cents: int) -> bytes:
    return bmp_encode(0x04, bcd_encode(amount_cents, 6))


def _currency(currency_code: int | None) -> bytes:
    return b"" if currency_code is None else bmp_encode(0x49, bcd_encode(currency_code, 2))


def _receipt(receipt_number: int) -> bytes:
    return bmp_encode(0x87, bcd_encode(receipt_number, 2))


def registration(password: int, config_byte: int = 0xDE, currency_code: int | None = EUR,
                 service_byte: int | None = None) -> bytes:
    """06 00: password (3 B BCD), config byte, [currency 2 B BCD], [BMP 03 service byte].

    0xDE is the config byte of EVerest's captured registration (``packets.rs``
    test_registration); what each bit enables is in the terminal's ZVT manual.
    """
    data = bcd_encode(password, 3) + bytes([config_byte])
    if currency_code is not None:
        data += bcd_encode(currency_code, 2)
    elif service_byte is not None:
        raise ValueError("ZVT registration: a service byte needs the currency code before it")
    if service_byte is not None:
        data += bmp_encode(0x03, bytes([service_byte]))
    return encode_apdu(*REGISTRATION, data)


def _positive(amount_cents: int, what: str) -> None:
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents <= 0:
        raise ValueError(f"{what}: amount must be a positive number of cents, got "
                         f"{amount_cents!r}")


def pre_authorisation(amount_cents: int, currency_code: int | None = EUR) -> bytes:
    """06 22 Reservation: BMP 04 amount (cents), BMP 49 currency."""
    _positive(amount_cents, "pre-authorisation")
    return encode_apdu(*PRE_AUTHORISATION, _amount(amount_cents) + _currency(currency_code))


def book_total(receipt_number: int, amount_cents: int, currency_code: int | None = EUR) -> bytes:
    """06 24 Book Total: BMP 87 receipt number of the reservation, BMP 04 the amount used."""
    _positive(amount_cents, "book total")
    return encode_apdu(*BOOK_TOTAL, _receipt(receipt_number) + _amount(amount_cents)
                       + _currency(currency_code))


def partial_reversal(receipt_number: int, amount_cents: int,
                     currency_code: int | None = EUR) -> bytes:
    """06 23 Partial-Reversal: BMP 87 receipt number, BMP 04 the *unused* amount to
    release (pre-authorised - final, hardware.md §4.4)."""
    _positive(amount_cents, "partial reversal")
    return encode_apdu(*PARTIAL_REVERSAL, _receipt(receipt_number) + _amount(amount_cents)
                       + _currency(currency_code))


def open_reservations_enquiry() -> bytes:
    """06 23 with receipt FF FF: the terminal lists its open reservations (in an 06 1E)."""
    return encode_apdu(*PARTIAL_REVERSAL, b"\x87\xff\xff")


def pre_auth_reversal(receipt_number: int, currency_code: int | None = EUR) -> bytes:
    """06 25 Pre-Auth Reversal: releases the whole reservation (no amount)."""
    return encode_apdu(*PRE_AUTH_REVERSAL, _receipt(receipt_number) + _currency(currency_code))


def end_of_day(password: int) -> bytes:
    """06 50 End-of-Day: password (3 B BCD)."""
    return encode_apdu(*END_OF_DAY, bcd_encode(password, 3))


def abort() -> bytes:
    """06 B0: the ECR asks the terminal to abort the running operation."""
    return encode_apdu(*ABORT)


def status_enquiry(password: int | None = None, service_byte: int | None = None) -> bytes:
    """05 01: [password 3 B BCD] [BMP 03 service byte]."""
    data = b"" if password is None else bcd_encode(password, 3)
    if service_byte is not None:
        data += bmp_encode(0x03, bytes([service_byte]))
    return encode_apdu(*STATUS_ENQUIRY, data)


def nack(code: int = RESULT_PROTOCOL_ERROR) -> bytes:
    """Negative acknowledgement ``84 xx 00``."""
    return bytes([0x84, code & 0xFF, 0x00])


# ----------------------------------------------------------- messages PT -> ECR
@dataclass(frozen=True)
class PositiveAck:
    """80 00 00: the command was accepted."""


@dataclass(frozen=True)
class NegativeAck:
    """84 xx: the command was refused with code ``code``."""

    code: int


@dataclass(frozen=True)
class IntermediateStatus:
    """04 FF: what the terminal shows (``status`` code, e.g. insert card, enter PIN) and
    the optional timeout it announces, s."""

    status: int
    timeout_s: int | None = None


@dataclass(frozen=True)
class StatusInformation:
    """04 0F: the result of a transaction (or the totals of an end-of-day)."""

    result_code: int | None = None
    amount_cents: int | None = None
    trace_number: int | None = None
    receipt_number: int | None = None
    card_type: int | None = None
    card_name: str = ""
    pan_masked: str = ""
    currency_code: int | None = None
    terminal_id: str = ""
    expiry_yymm: str = ""
    tlv: tuple[TlvItem, ...] = ()
    bmps: Bmps | None = None


@dataclass(frozen=True)
class Completion:
    """06 0F: the operation ended successfully. For a status enquiry the terminal sends
    its software version and terminal status code instead of BMPs."""

    result_code: int | None = None
    status_byte: int | None = None
    terminal_id: str = ""
    software_version: str = ""
    terminal_status: int | None = None


@dataclass(frozen=True)
class PtAbort:
    """06 1E: the terminal aborted; ``result_code`` says why (0x6C: timeout/abort key)."""

    result_code: int
    receipt_number: int | None = None
    rest: bytes = b""


@dataclass(frozen=True)
class PrintLine:
    """06 D1: one receipt line for the ECR's printer (attribute byte + text)."""

    attribute: int
    text: str


@dataclass(frozen=True)
class PrintTextBlock:
    """06 D3: a receipt as a TLV text block."""

    tlv: tuple[TlvItem, ...]


@dataclass(frozen=True)
class UnknownMessage:
    apdu: Apdu


PtMessage = (PositiveAck | NegativeAck | IntermediateStatus | StatusInformation | Completion
             | PtAbort | PrintLine | PrintTextBlock | UnknownMessage)


def _bcd_text(bmps: Bmps, tag: int) -> str:
    raw = bmps.fields.get(tag)
    return "" if raw is None else raw.hex()


def parse_status_information(data: bytes) -> StatusInformation:
    bmps = bmps_decode(data)
    pan = bmps.fields.get(0x22)
    tlv: tuple[TlvItem, ...] = ()
    if 0x06 in bmps.fields:
        try:
            tlv = tlv_decode(bmps.fields[0x06])
        except ZvtDecodeError:
            tlv = ()   # the payment result stands without the optional container
    return StatusInformation(
        result_code=bmps.byte(0x27), amount_cents=bmps.bcd(0x04),
        trace_number=bmps.bcd(0x0B), receipt_number=bmps.bcd(0x87),
        card_type=bmps.byte(0x8A), card_name=bmps.text(0x8B),
        pan_masked="" if pan is None else pan_decode(pan), currency_code=bmps.bcd(0x49),
        terminal_id=_bcd_text(bmps, 0x29), expiry_yymm=_bcd_text(bmps, 0x0E),
        tlv=tlv, bmps=bmps)


def _is_var_length(data: bytes, digits: int) -> bool:
    return len(data) >= digits and all(0xF0 <= b <= 0xF9 for b in data[:digits])


def parse_completion(data: bytes) -> Completion:
    if _is_var_length(data, 3):
        # status-enquiry answer: LLLVAR software version, terminal status byte, [TLV]
        version, pos = var_decode(data, 0, 3, "software version")
        status = data[pos] if pos < len(data) else None
        return Completion(software_version=version.decode("latin-1").strip(),
                          terminal_status=status)
    bmps = bmps_decode(data)
    return Completion(result_code=bmps.byte(0x27), status_byte=bmps.byte(0x19),
                      terminal_id=_bcd_text(bmps, 0x29))


def parse_pt_abort(data: bytes) -> PtAbort:
    if not data:
        raise ZvtDecodeError("06 1E without a result code")
    receipt = None
    rest = data[1:]
    if rest[:1] == b"\x87" and len(rest) >= 3:
        raw = rest[1:3]
        # FF FF answers the open-reservations enquiry; otherwise a BCD receipt number
        receipt = 0xFFFF if raw == b"\xff\xff" else bcd_decode(raw, "BMP 87")
    return PtAbort(data[0], receipt, rest)


def parse_intermediate_status(data: bytes) -> IntermediateStatus:
    if not data:
        raise ZvtDecodeError("04 FF without a status byte")
    timeout = bcd_decode(data[1:2], "intermediate status timeout") if len(data) > 1 else None
    return IntermediateStatus(data[0], timeout)


def decode_pt_message(apdu: Apdu) -> PtMessage:
    """The message an APDU from the terminal carries. Raises ``ZvtDecodeError`` when a
    known message is malformed."""
    if apdu.cls == 0x80:
        return PositiveAck()
    if apdu.cls == 0x84:
        return NegativeAck(apdu.instr)
    command = apdu.command
    if command == INTERMEDIATE_STATUS:
        return parse_intermediate_status(apdu.data)
    if command == STATUS_INFORMATION:
        return parse_status_information(apdu.data)
    if command == COMPLETION:
        return parse_completion(apdu.data)
    if command == PT_ABORT:
        return parse_pt_abort(apdu.data)
    if command == PRINT_LINE:
        if not apdu.data:
            raise ZvtDecodeError("06 D1 without an attribute byte")
        return PrintLine(apdu.data[0], apdu.data[1:].decode("latin-1"))
    if command == PRINT_TEXT_BLOCK:
        bmps = bmps_decode(apdu.data)
        return PrintTextBlock(tlv_decode(bmps.fields.get(0x06, b"")))
    return UnknownMessage(apdu)
