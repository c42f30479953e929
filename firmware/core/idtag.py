"""Token hygiene: one canonical OCPP idTag per physical card, and contract-id checks.

Pure functions, no I/O. The rules they implement (hardware.md §1e, §5):

- An idTag is an OCPP 1.6 ``IdToken`` = CiString20: at most 20 characters, compared
  case-insensitively. ``normalise_id_tag`` folds ASCII letters to upper case so that a
  plain ``==`` (and a hash lookup) implements that comparison. Only ASCII is folded:
  ``str.upper`` would turn "ß" into "SS" and change the length.
- The canonical form of an RFID UID is uppercase hex, bytes in the order anticollision
  delivers them (UID0 first, no separators), like OCPP 2.0.1 ISO14443 tokens and OCMF.
  Readers disagree (byte-reversed, zero padding; their text forms are decoded by
  their drivers); ``ReaderFormat`` describes what one reader does to the UID so
  ``id_tag_from_uid`` recovers the one idTag — the only place that does this
  (``canonical_id_tag`` renders it).
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


# --------------------------------------------------------------------------- UIDs
# The UID sizes ISO/IEC 14443-3 defines (single, double, triple size).
UID_SIZES = (4, 7, 10)


@dataclass(frozen=True)
class ReaderFormat:
    """How one reader delivers a card UID (the per-reader board options
    ``uid_reversed`` / ``uid_zero_pad_to``). Decoding a reader's bytes or text into UID
    bytes is its driver's job (e.g. ``drivers.rfid.line_codec``); this only undoes what
    the reader did to the UID's order and length.

    ``reversed_bytes``: the reader emits the UID last byte first (KEBA-style,
    "little endian" desktop readers).
    ``zero_pad_to``: the reader always sends this many bytes and pads shorter UIDs with
    trailing 0x00 (a SmartEVSE one-wire reader sends 6 bytes for a 4-byte card); the
    padding is removed so the card keeps its identity. 0 / None = no padding.
    """

    reversed_bytes: bool = False
    zero_pad_to: int | None = None

    def __post_init__(self) -> None:
        if self.zero_pad_to is not None and not 0 <= self.zero_pad_to <= max(UID_SIZES):
            raise IdTagError(f"zero_pad_to must be 0..{max(UID_SIZES)}, "
                             f"not {self.zero_pad_to}")


def uid_in_anticollision_order(uid: bytes, fmt: ReaderFormat = ReaderFormat()) -> bytes:
    """The card's UID as anticollision delivers it, from what ``fmt``'s reader gave.

    Padding: a UID delivered at exactly ``zero_pad_to`` bytes loses its trailing 00
    bytes down to the smallest real UID size that holds the rest (a 4-byte UID may
    itself end in 00: ``DEADBE00`` padded to 6 stays ``DEADBE00``)."""
    if fmt.reversed_bytes:
        uid = uid[::-1]
    if fmt.zero_pad_to and len(uid) == fmt.zero_pad_to:
        stripped = uid.rstrip(b"\x00")
        size = next((n for n in UID_SIZES if n >= len(stripped)), len(uid))
        if size < len(uid):
            uid = stripped.ljust(size, b"\x00")
    return uid


def id_tag_from_uid(uid: bytes, fmt: ReaderFormat = ReaderFormat()) -> str:
    """Reader's UID bytes → the canonical idTag (uppercase hex, anticollision order).
    Raises ``IdTagError`` for an empty UID or one too long for CiString20."""
    return canonical_id_tag(uid_in_anticollision_order(uid, fmt))


def canonical_id_tag(uid: bytes) -> str:
    """The idTag for a card UID given in anticollision order: uppercase hex, no
    separators. Raises ``IdTagError`` for an empty UID or a result longer than 20
    characters (it could never match)."""
    if not uid:
        raise IdTagError("empty UID")
    tag = uid.hex().upper()
    if len(tag) > ID_TAG_MAX_CHARS:
        raise IdTagError(f"a {len(uid)}-byte UID gives a {len(tag)}-character idTag "
                         f"(CiString20 allows {ID_TAG_MAX_CHARS})")
    return tag


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
