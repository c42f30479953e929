"""Token hygiene: one canonical OCPP idTag per physical card, and contract-id checks.

Pure functions, no I/O. The rules they implement (hardware.md §1e, §5):

- An idTag is an OCPP 1.6 ``IdToken`` = CiString20: at most 20 characters, compared
  case-insensitively. ``normalise_id_tag`` folds ASCII letters to upper case so that a
  plain ``==`` (and a hash lookup) implements that comparison. Only ASCII is folded:
  ``str.upper`` would turn "ß" into "SS" and change the length.
- The canonical form of an RFID UID is uppercase hex, bytes in the order anticollision
  delivers them (UID0 first, no separators), like OCPP 2.0.1 ISO14443 tokens and OCMF.
  Readers disagree (lowercase, byte-reversed, decimal of the reversed 4-byte UID, zero
  padding); ``ReaderFormat`` describes what one reader emits so ``uid_from_reader``
  can recover the UID bytes, and ``canonical_id_tag`` renders the site's idTag
  convention (default: the canonical form).
- eMAIDs (ISO 15118 / eMI3 contract ids) are recognised by ``parse_emaid`` and their
  check digit verified with the eMI3 matrix algorithm (``emaid_check_digit``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from firmware.errors import CoreError

ID_TAG_MAX_CHARS = 20  # CiString20

_ASCII_UPPER = {c: c - 32 for c in range(ord("a"), ord("z") + 1)}


class IdTagError(CoreError, ValueError):
    """A reader's output or a UID cannot be turned into an idTag (the message says why)."""


def normalise_id_tag(text: str) -> str:
    """The comparison form of an idTag: ASCII letters upper-cased, nothing else changed.

    CiString20 comparison is case-insensitive; storing and looking up this form makes
    it exact. Whitespace is significant in OCPP and is kept.
    """
    if text.isascii():
        return text.upper()
    return text.translate(_ASCII_UPPER)


def id_tag_fits(text: str) -> bool:
    """True when ``text`` is a valid CiString20 length (1..20 characters)."""
    return 0 < len(text) <= ID_TAG_MAX_CHARS


# --------------------------------------------------------------------------- UIDs
@dataclass(frozen=True)
class ReaderFormat:
    """How one reader renders a card UID (a per-reader board-config option).

    ``form``: "hex" (any case, optional ':', '-' or ' ' separators) or "dec".
    ``reversed_bytes``: the reader emits the UID last byte first (KEBA-style,
    "little endian" desktop readers).
    ``byte_count``: for "dec", how many UID bytes the number encodes (4 for the usual
    10-digit DEZ10 form); required for "dec", optional check for "hex".
    ``zero_pad_to``: the reader always sends this many bytes and pads shorter UIDs with
    trailing 0x00 (a SmartEVSE one-wire reader sends 6 bytes for a 4-byte card); the
    padding is removed so the card keeps its 4-byte identity.
    """

    form: str = "hex"
    reversed_bytes: bool = False
    byte_count: int | None = None
    zero_pad_to: int | None = None

    def __post_init__(self) -> None:
        if self.form not in ("hex", "dec"):
            raise IdTagError(f"reader form must be 'hex' or 'dec', not {self.form!r}")
        if self.form == "dec" and not self.byte_count:
            raise IdTagError("a decimal reader needs byte_count (4 for DEZ10)")


_HEX_SEPARATORS = str.maketrans("", "", ":- ")


def uid_from_reader(raw: str, fmt: ReaderFormat = ReaderFormat()) -> bytes:
    """The card UID bytes, in anticollision order, from one reader's text output.

    Raises ``IdTagError`` for text that is not a UID in that format (serial noise must
    never become a phantom token).
    """
    text = raw.strip()
    if not text:
        raise IdTagError("empty UID")
    if fmt.form == "hex":
        digits = text.translate(_HEX_SEPARATORS)
        if len(digits) % 2 or not re.fullmatch(r"[0-9A-Fa-f]+", digits):
            raise IdTagError(f"not a hex UID: {raw!r}")
        uid = bytes.fromhex(digits)
        if fmt.byte_count is not None and len(uid) != fmt.byte_count:
            raise IdTagError(f"expected {fmt.byte_count} UID bytes, got {len(uid)}")
    else:
        if not text.isdigit() or not text.isascii():
            raise IdTagError(f"not a decimal UID: {raw!r}")
        value = int(text)
        assert fmt.byte_count is not None  # enforced by ReaderFormat
        if value >= 1 << (8 * fmt.byte_count):
            raise IdTagError(f"{raw!r} does not fit in {fmt.byte_count} bytes")
        uid = value.to_bytes(fmt.byte_count, "big")
    if fmt.reversed_bytes:
        uid = uid[::-1]
    if fmt.zero_pad_to is not None and len(uid) == fmt.zero_pad_to:
        stripped = uid.rstrip(b"\x00")
        if len(stripped) in (4, 7):  # the real UID sizes that fit under the pad
            uid = stripped
    return uid


def canonical_id_tag(uid: bytes, *, reverse: bool = False, form: str = "hex",
                     dec_width: int | None = None) -> str:
    """The idTag for a card UID (given in anticollision order).

    Default: uppercase hex, anticollision order — the one canonical form. ``reverse``
    and ``form="dec"`` (optionally zero-padded to ``dec_width`` digits) exist for sites
    whose CSMS issued its lists in a reader's legacy convention. Raises ``IdTagError``
    for an empty UID or a result longer than 20 characters (it could never match).
    """
    if not uid:
        raise IdTagError("empty UID")
    data = uid[::-1] if reverse else uid
    if form == "hex":
        tag = data.hex().upper()
    elif form == "dec":
        tag = str(int.from_bytes(data, "big"))
        if dec_width is not None:
            tag = tag.zfill(dec_width)
    else:
        raise IdTagError(f"idTag form must be 'hex' or 'dec', not {form!r}")
    if len(tag) > ID_TAG_MAX_CHARS:
        raise IdTagError(f"a {len(uid)}-byte UID gives a {len(tag)}-character idTag "
                         f"(CiString20 allows {ID_TAG_MAX_CHARS})")
    return tag


def id_tag_from_reader(raw: str, fmt: ReaderFormat = ReaderFormat()) -> str:
    """Reader output → canonical idTag (uppercase hex, anticollision order)."""
    return canonical_id_tag(uid_from_reader(raw, fmt))


# -------------------------------------------------------------------------- eMAIDs
# Each of the 36 characters is a pair (q, r): q a 2-vector over GF(2), r a 2-vector
# over Z3 (4 x 9 = 36 combinations). With v the character's rank in 0-9A-Z:
# v = 9 * (2*q1 + q2) + 3*r1 + r2. A 15-character id (14 + check) is valid when
#   sum_i q_i . P1^(i+1) = 0 (mod 2)  and  sum_i r_i . P2^(i+1) = 0 (mod 3),
# with P1 = [[0,1],[1,1]] over GF(2) and P2 = [[0,1],[1,2]] over Z3 (row vector times
# matrix). The check digit is the one character that makes both sums zero.
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _qr(ch: str) -> tuple[int, int, int, int]:
    v = _ALPHABET.index(ch)
    q, r = divmod(v, 9)
    return q >> 1, q & 1, r // 3, r % 3


def _mat_mul(a: tuple[int, int, int, int], b: tuple[int, int, int, int],
             mod: int) -> tuple[int, int, int, int]:
    a11, a12, a21, a22 = a
    b11, b12, b21, b22 = b
    return ((a11 * b11 + a12 * b21) % mod, (a11 * b12 + a12 * b22) % mod,
            (a21 * b11 + a22 * b21) % mod, (a21 * b12 + a22 * b22) % mod)


def _powers(p: tuple[int, int, int, int], mod: int, n: int) -> list[tuple[int, int, int, int]]:
    out = [p]
    while len(out) < n:
        out.append(_mat_mul(out[-1], p, mod))
    return out


_P1 = _powers((0, 1, 1, 1), 2, 15)  # P1^1 .. P1^15
_P2 = _powers((0, 1, 1, 2), 3, 15)


def _vec_mat(v1: int, v2: int, m: tuple[int, int, int, int], mod: int) -> tuple[int, int]:
    return (v1 * m[0] + v2 * m[2]) % mod, (v1 * m[1] + v2 * m[3]) % mod


def _weighted_sums(chars: str) -> tuple[int, int, int, int]:
    s1 = s2 = t1 = t2 = 0
    for i, ch in enumerate(chars):
        q1, q2, r1, r2 = _qr(ch)
        a, b = _vec_mat(q1, q2, _P1[i], 2)
        c, d = _vec_mat(r1, r2, _P2[i], 3)
        s1, s2, t1, t2 = (s1 + a) % 2, (s2 + b) % 2, (t1 + c) % 3, (t2 + d) % 3
    return s1, s2, t1, t2


def emaid_check_digit(code14: str) -> str:
    """The eMI3 check character of a 14-character contract id without separators.

    Case-insensitive; raises ``IdTagError`` unless ``code14`` is 14 ASCII letters or
    digits.
    """
    code = code14.upper()
    if len(code) != 14 or not code.isascii() or not code.isalnum():
        raise IdTagError(f"an eMAID check digit needs 14 letters or digits, got {code14!r}")
    base = _weighted_sums(code)
    for ch in _ALPHABET:
        if _weighted_sums_add(base, ch) == (0, 0, 0, 0):
            return ch
    raise AssertionError("P1^15 and P2^15 are invertible: one character always fits")


def _weighted_sums_add(base: tuple[int, int, int, int], ch: str) -> tuple[int, int, int, int]:
    q1, q2, r1, r2 = _qr(ch)
    a, b = _vec_mat(q1, q2, _P1[14], 2)
    c, d = _vec_mat(r1, r2, _P2[14], 3)
    return (base[0] + a) % 2, (base[1] + b) % 2, (base[2] + c) % 3, (base[3] + d) % 3


@dataclass(frozen=True)
class Emaid:
    """An ISO 15118 / eMI3 contract id (eMAID) found in a token.

    ``check_digit`` is None when the token carries none (14-character form);
    ``check_ok`` is then None too, else whether it matches ``emaid_check_digit``.
    """

    country: str
    provider: str
    instance: str
    check_digit: str | None
    check_ok: bool | None

    @property
    def normalised(self) -> str:
        """Without separators, upper case, with the check digit if the token had one."""
        return f"{self.country}{self.provider}{self.instance}{self.check_digit or ''}"

    @property
    def display(self) -> str:
        """The dashed form, e.g. ``DE-8AA-C12345678-X``."""
        tail = f"-{self.check_digit}" if self.check_digit else ""
        return f"{self.country}-{self.provider}-{self.instance}{tail}"


# CC, provider (3), instance (9), optional check (1); separators all or none.
_EMAID_RE = re.compile(
    r"([A-Za-z]{2})(-?)([0-9A-Za-z]{3})\2([0-9A-Za-z]{9})(?:\2([0-9A-Za-z]))?")


def parse_emaid(text: str) -> Emaid | None:
    """Recognise an eMAID (``DE8AAC12345678X``, ``DE-8AA-C12345678-X``, with or
    without the check digit); None when ``text`` is not one.

    A wrong check digit does not make it "not an eMAID": it is reported as
    ``check_ok=False`` so the operator can see a mistyped contract id. Nothing is
    rejected on this basis alone (a 15-character card number can look like an eMAID).
    """
    m = _EMAID_RE.fullmatch(text.strip())
    if m is None:
        return None
    country, provider, instance = m.group(1).upper(), m.group(3).upper(), m.group(4).upper()
    check = m.group(5).upper() if m.group(5) else None
    check_ok = None if check is None else emaid_check_digit(
        country + provider + instance) == check
    return Emaid(country, provider, instance, check, check_ok)
