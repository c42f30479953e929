"""Firmware signing: the signing certificate's trust and the image's signature.

Trust (L01.FR.23-25): the Firmware Signing certificate the CSMS sends (PEM; it may carry
intermediate certificates after it) must chain to an installed ManufacturerRootCertificate,
each link valid now, the signer not revoked. ``FirmwareSigningTrust`` is the narrow
interface the updater needs; ``DirectoryFirmwareSigningTrust`` reads ``*.pem`` roots from
directories (``<state_dir>/certs/manufacturer/`` and the site's
``[firmware] manufacturer_roots``) and revoked serial numbers (hex, one per line) from a
``revoked-serials.txt`` beside them. The certificate store of issue 11 item 2 installs
roots into the state directory; it may implement the Protocol itself instead.

Signature (L01.FR.04/.12): over the whole file, SHA-256, with the signing certificate's
key: RSA-PSS (MGF1-SHA-256, any salt length) for an RSA key, ECDSA with SHA-256 for an EC
key (the whitepaper says ECSchnorr; ECDSA-SHA256 is what CSMSs and test tools use,
security-whitepaper.md §9). The signature is base64 (≤ 800 characters, the schema).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.x509.oid import ExtendedKeyUsageOID

log = logging.getLogger(__name__)

MAX_CHAIN = 5
REVOKED_FILE = "revoked-serials.txt"


@dataclass(frozen=True)
class TrustVerdict:
    """``status``: "ok", "invalid" or "revoked"; ``reason`` for the log and techInfo."""

    status: str
    reason: str = ""


class FirmwareSigningTrust(Protocol):
    def check(self, certificate_pem: str, now_s: float) -> TrustVerdict:
        """Whether ``certificate_pem`` (the signer first, intermediates after it) chains
        to an installed manufacturer root at ``now_s`` (UTC epoch s). Never raises for
        bad input: a certificate that cannot be read is "invalid"."""


class DirectoryFirmwareSigningTrust:
    """Manufacturer roots from ``*.pem`` files in ``directories`` (read at every check, so
    a root installed meanwhile counts; a missing directory holds none)."""

    def __init__(self, directories: Iterable[Path]) -> None:
        self._directories = [Path(d) for d in directories]

    def roots(self) -> list[x509.Certificate]:
        found: list[x509.Certificate] = []
        for directory in self._directories:
            for path in sorted(directory.glob("*.pem")) if directory.is_dir() else []:
                try:
                    found.extend(x509.load_pem_x509_certificates(path.read_bytes()))
                except (ValueError, OSError) as e:
                    log.warning("manufacturer root %s unreadable, ignored: %s", path, e)
        return found

    def revoked(self) -> set[int]:
        serials: set[int] = set()
        for directory in self._directories:
            path = directory / REVOKED_FILE
            try:
                lines = path.read_text().splitlines() if path.is_file() else []
            except (OSError, UnicodeDecodeError) as e:
                log.warning("%s unreadable, ignored: %s", path, e)
                continue
            for line in lines:
                text = line.split("#")[0].strip().lower().removeprefix("0x")
                try:
                    if text:
                        serials.add(int(text, 16))
                except ValueError:
                    log.warning("%s: %r is not a hex serial number", path, text)
        return serials

    def check(self, certificate_pem: str, now_s: float) -> TrustVerdict:
        try:
            chain = x509.load_pem_x509_certificates(certificate_pem.encode())
        except ValueError:
            return TrustVerdict("invalid", "signing certificate is not PEM X.509")
        now = datetime.datetime.fromtimestamp(now_s, tz=datetime.timezone.utc)
        signer = chain[0]
        revoked = self.revoked()
        if any(c.serial_number in revoked for c in chain):
            return TrustVerdict("revoked", f"serial {signer.serial_number:X} is revoked")
        try:
            usage = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            if ExtendedKeyUsageOID.CODE_SIGNING not in usage:
                return TrustVerdict("invalid", "signing certificate not for code signing")
        except x509.ExtensionNotFound:
            pass
        roots = self.roots()
        if not roots:
            return TrustVerdict("invalid", "no manufacturer root certificate installed")
        current = signer
        for _ in range(MAX_CHAIN):
            if not _valid_at(current, now):
                return TrustVerdict("invalid", f"certificate {current.subject.rfc4514_string()}"
                                    " is not valid now")
            for root in roots:
                if _issued_by(current, root):
                    if not _valid_at(root, now):
                        return TrustVerdict("invalid", "manufacturer root not valid now")
                    return TrustVerdict("ok")
            parent = next((c for c in chain[1:] if c is not current and _issued_by(current, c)),
                          None)
            if parent is None:
                break
            current = parent
        return TrustVerdict("invalid", "signing certificate does not chain to a manufacturer "
                            "root")


def _valid_at(cert: x509.Certificate, now: datetime.datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def verify_image(path: Path, signature_b64: str, certificate_pem: str) -> str | None:
    """None when ``signature_b64`` signs the whole file at ``path`` with the key of the
    first certificate in ``certificate_pem``; else why not. Reads the file in blocks
    (call it in a thread: a large image takes seconds)."""
    if not signature_b64:
        return "no signature"
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return "signature is not base64"
    try:
        key = x509.load_pem_x509_certificates(certificate_pem.encode())[0].public_key()
    except (ValueError, IndexError):
        return "signing certificate unreadable"
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as image:
            for block in iter(lambda: image.read(1 << 20), b""):
                digest.update(block)
    except OSError as e:
        return f"image unreadable: {e.strerror or e}"
    prehashed = utils.Prehashed(hashes.SHA256())
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, digest.digest(),
                       padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                   salt_length=padding.PSS.AUTO), prehashed)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, digest.digest(), ec.ECDSA(prehashed))
        else:
            return f"unsupported signing key {type(key).__name__}"
    except InvalidSignature:
        return "signature does not match the image"
    return None
