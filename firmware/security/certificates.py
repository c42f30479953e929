"""X.509 helpers: parsing PEM, CertificateHashData, chain checks, CSRs (``cryptography``).

Pure functions over bytes and ``cryptography`` objects; the files live in
``firmware.security.store``.

- CertificateHashData (security-whitepaper.md §6, [SEC3] §6.1 ed.3, RFC 6960 CertID):
  issuerNameHash = hash of the DER encoding of the certificate's *issuer* name;
  issuerKeyHash = hash of the issuer's subjectPublicKey BIT STRING contents (without
  tag, length and the unused-bits octet, as OpenSSL's OCSP CertID); serialNumber = hex
  without leading zeroes. A self-signed root is its own issuer. open-ocpp#145 hashed the
  wrong name; ``hash_data`` takes the issuer name from the certificate itself, so the
  name hashed is always the one in its issuer field.
- Chains: each certificate must be directly issued (name and signature) by the next or
  by an installed root, and inside its validity period at ``now``.
- CSRs (A02.FR.02/.03/.13): a new P-256 key (128-bit security, A00.FR.501-503), subject
  O = CpoName, CN = the station's serial number, signed with SHA-256, PEM.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from firmware.errors import SecurityError

HASH_ALGORITHMS = {"SHA256": hashlib.sha256, "SHA384": hashlib.sha384,
                   "SHA512": hashlib.sha512}

PEM_BEGIN = "-----BEGIN CERTIFICATE-----"


@dataclass(frozen=True)
class HashData:
    """CertificateHashDataType, field names as on the wire (camelCase via ``wire``)."""

    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str

    def wire(self) -> dict[str, str]:
        return {"hashAlgorithm": self.hash_algorithm, "issuerNameHash": self.issuer_name_hash,
                "issuerKeyHash": self.issuer_key_hash, "serialNumber": self.serial_number}

    def matches(self, wire: dict[str, str]) -> bool:
        """Case-insensitive hex (CiString128); a serial's leading zeroes do not count."""
        try:
            return (wire["hashAlgorithm"] == self.hash_algorithm
                    and wire["issuerNameHash"].lower() == self.issuer_name_hash.lower()
                    and wire["issuerKeyHash"].lower() == self.issuer_key_hash.lower()
                    and wire["serialNumber"].lower().lstrip("0") ==
                    self.serial_number.lower().lstrip("0"))
        except (KeyError, AttributeError):
            return False


def parse_pem_chain(text: str) -> list[x509.Certificate]:
    """Every certificate of a PEM text, leaf first; SecurityError when there is none or
    one cannot be parsed (A00.FR.507: PEM)."""
    if PEM_BEGIN not in text:
        raise SecurityError("not a PEM certificate")
    try:
        certificates = x509.load_pem_x509_certificates(text.encode("utf-8"))
    except (ValueError, UnicodeEncodeError) as e:
        raise SecurityError(f"certificate cannot be parsed: {e}") from None
    if not certificates:
        raise SecurityError("no certificate in the PEM text")
    return certificates


def parse_pem(text: str) -> x509.Certificate:
    """Exactly one certificate."""
    certificates = parse_pem_chain(text)
    if len(certificates) != 1:
        raise SecurityError(f"{len(certificates)} certificates where one was expected")
    return certificates[0]


def pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def subject_key_bits(certificate: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING's bits (no tag, length or unused-bits octet),
    read from the DER SubjectPublicKeyInfo: SEQUENCE { AlgorithmIdentifier, BIT STRING }."""
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    contents, _ = _der_length(spki, 1)                       # outer SEQUENCE
    algorithm, algorithm_length = _der_length(spki, contents + 1)  # AlgorithmIdentifier
    bit_string = algorithm + algorithm_length
    if spki[bit_string] != 0x03:
        raise SecurityError("SubjectPublicKeyInfo without a BIT STRING")
    start, length = _der_length(spki, bit_string + 1)
    return spki[start + 1:start + length]  # skip the unused-bits octet


def _der_length(data: bytes, at: int) -> tuple[int, int]:
    """(offset of the contents, their length) for the length octets at ``at``."""
    first = data[at]
    if first < 0x80:
        return at + 1, first
    count = first & 0x7F
    return at + 1 + count, int.from_bytes(data[at + 1:at + 1 + count], "big")


def is_self_signed(certificate: x509.Certificate) -> bool:
    if certificate.issuer != certificate.subject:
        return False
    try:
        certificate.verify_directly_issued_by(certificate)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return constraints.value.ca


def hash_data(certificate: x509.Certificate, issuer: x509.Certificate | None,
              algorithm: str = "SHA256") -> HashData:
    """CertificateHashData of ``certificate``; ``issuer`` None = self-signed root."""
    digest = HASH_ALGORITHMS[algorithm]
    issuer = issuer or certificate
    # The name in the certificate's own issuer field (equal to the issuer's subject):
    # open-ocpp#145 hashed another name.
    name_der = certificate.issuer.public_bytes()
    return HashData(algorithm, digest(name_der).hexdigest(),
                    digest(subject_key_bits(issuer)).hexdigest(),
                    format(certificate.serial_number, "X"))


def valid_at(certificate: x509.Certificate, now_s: float) -> bool:
    now = datetime.datetime.fromtimestamp(now_s, datetime.timezone.utc)
    return certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc


def chain_problem(chain: list[x509.Certificate], roots: list[x509.Certificate],
                  now_s: float) -> str | None:
    """Why ``chain`` (leaf first, maybe sub-CAs) does not lead to one of ``roots``, or None.
    Each link: issuer name equals the next subject and its signature verifies; every
    certificate (roots too) valid at ``now_s``."""
    for certificate in chain:
        if not valid_at(certificate, now_s):
            return f"{certificate.subject.rfc4514_string()[:80]} is outside its validity period"
    current = chain[0]
    rest = chain[1:]
    for _ in range(len(chain) + 1):
        for root in roots:
            if _issued_by(current, root):
                if not valid_at(root, now_s):
                    return "the CSMS root that signed it is outside its validity period"
                return None
        parent = next((c for c in rest if _issued_by(current, c)), None)
        if parent is None:
            return "does not chain to an installed CSMS root certificate"
        if not is_ca(parent):
            return "a certificate of the chain is not a CA"
        rest = [c for c in rest if c is not parent]
        current = parent
    return "does not chain to an installed CSMS root certificate"


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    if certificate.issuer != issuer.subject:
        return False
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def csr_pem(key: ec.EllipticCurvePrivateKey, organization: str, common_name: str) -> str:
    """RFC 2986 CSR, PEM: O = CpoName (A02.FR.13), CN = serial number (A00.FR.511)."""
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                         x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    request = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(
        key, hashes.SHA256())
    return request.public_bytes(serialization.Encoding.PEM).decode("ascii")


def same_public_key(certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> bool:
    def spki(public: object) -> bytes:
        return public.public_bytes(  # type: ignore[attr-defined, no-any-return]
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return spki(certificate.public_key()) == spki(key.public_key())
