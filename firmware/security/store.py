"""The station's certificate store: files in ``<state_dir>/certificates`` (issue 11).

Layout (directories 0700, files 0600, written atomically: temp file, fsync, rename)::

    csms/<sha256 of DER>.pem          CSMS roots (1.6 CentralSystemRootCertificate,
                                      2.0.1 CSMSRootCertificate): verify the server (profile 2/3)
    manufacturer/<sha256>.pem         Manufacturer roots: verify firmware signing certificates
    client/current.pem + .key         the station's client chain (leaf first) and key (profile 3)
    client/previous.pem + .key        the one before, kept as fallback (A02.FR.10)
    client/renewed.pem + .key         a CertificateSigned chain not yet proven on a connection
    client/pending.key                the key of the last CSR, until its certificate comes

Obligations and failure modes:
- Private keys are made here (A02.FR.02) and never leave the directory: no method
  returns a key's bytes, only its file's path for the TLS context (A02.FR.05).
- ``install_root`` refuses a certificate that is not a valid self-signed CA
  certificate (EVerest#2109: accepted leaves can be neither listed nor deleted), and
  refuses when the store holds ``capacity`` roots already (M05.FR.03).
- ``accept_signed`` refuses a chain whose leaf is not for the pending key, is outside
  its validity period, or does not chain to an installed CSMS root (A02.FR.06/.07).
- A renewed chain is used on the next connection; a connection that works with it makes
  it current (the current one becomes previous); one the CSMS refuses discards it and
  the current one is used again (A02.FR.28/.29).
- File system errors propagate as ``OSError`` (the caller answers Failed).
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from firmware.errors import SecurityError

from . import certificates as certs

log = logging.getLogger(__name__)

CSMS = "csms"
MANUFACTURER = "manufacturer"
ROOT_KINDS = (CSMS, MANUFACTURER)
DIRECTORY = "certificates"


@dataclass(frozen=True)
class ClientCredentials:
    """Paths for ``ssl.SSLContext.load_cert_chain`` (chain leaf first, key);
    ``renewed``: a CertificateSigned chain not yet used on a connection that worked."""

    certificate_file: Path
    key_file: Path
    renewed: bool


def _write_private(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``, mode 0600, fsynced with its directory."""
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class CertificateStore:
    """``clock()``: the agent's wall clock (UTC epoch s) for validity periods."""

    def __init__(self, state_dir: Path, clock: Callable[[], float]) -> None:
        self._root = Path(state_dir) / DIRECTORY
        self._clock = clock
        for sub in ("", CSMS, MANUFACTURER, "client"):
            directory = self._root / sub
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(directory, 0o700)
        self._in_use_issuers: set[bytes] = set()  # DER subjects that issued the server cert

    @property
    def directory(self) -> Path:
        return self._root

    # ------------------------------------------------------------------ roots
    def roots(self, kind: str) -> list[x509.Certificate]:
        """Installed roots of ``kind`` (a damaged file is skipped and logged)."""
        found: list[x509.Certificate] = []
        for path in sorted((self._root / kind).glob("*.pem")):
            try:
                found.append(certs.parse_pem(path.read_text("ascii")))
            except (SecurityError, UnicodeDecodeError) as e:
                log.error("certificate store: %s is unusable (%s); ignored", path.name, e)
        return found

    def root_count(self) -> int:
        return sum(len(list((self._root / kind).glob("*.pem"))) for kind in ROOT_KINDS)

    def install_root(self, kind: str, text: str, capacity: int) -> tuple[str, str]:
        """(status, why): Accepted, or Rejected (not a valid self-signed CA certificate,
        expired, or the store is full: M05.FR.03/.04). Installing one already there is
        Accepted and changes nothing."""
        try:
            certificate = certs.parse_pem(text)
        except SecurityError as e:
            return "Rejected", str(e)
        if not certs.is_self_signed(certificate) or not certs.is_ca(certificate):
            return "Rejected", "not a root (self-signed CA) certificate"
        if not certs.valid_at(certificate, self._clock()):
            return "Rejected", "outside its validity period"
        path = self._root / kind / f"{_fingerprint(certificate)}.pem"
        if path.exists():
            return "Accepted", "already installed"
        if self.root_count() >= capacity:
            return "Rejected", f"the store holds {capacity} certificates (CertificateStoreMaxLength)"
        _write_private(path, certs.pem(certificate).encode("ascii"))
        log.info("installed %s root certificate %s", kind,
                 certificate.subject.rfc4514_string()[:120])
        return "Accepted", ""

    def root_hashes(self, kind: str) -> list[certs.HashData]:
        return [certs.hash_data(c, None) for c in self.roots(kind)]

    def delete_root(self, wire: dict[str, str], profile: int) -> str:
        """DeleteCertificate: Accepted, NotFound, or Failed for the CSMS root the current
        connection was verified with, or the last CSMS root while on profile 2/3
        (M04.FR.06: the station could never connect again)."""
        algorithm = wire.get("hashAlgorithm", "SHA256")
        if algorithm not in certs.HASH_ALGORITHMS:
            return "NotFound"
        for kind in ROOT_KINDS:
            installed = self.roots(kind)
            for certificate in installed:
                if not certs.hash_data(certificate, None, algorithm).matches(wire):
                    continue
                if kind == CSMS and profile >= 2 and (
                        len(installed) == 1
                        or certificate.subject.public_bytes() in self._in_use_issuers):
                    return "Failed"
                (self._root / kind / f"{_fingerprint(certificate)}.pem").unlink()
                _fsync_directory(self._root / kind)
                log.info("deleted %s root certificate %s", kind,
                         certificate.subject.rfc4514_string()[:120])
                return "Accepted"
        return "NotFound"

    def matches_client_certificate(self, wire: dict[str, str]) -> bool:
        """Whether ``wire`` names a certificate of the station's own chain (M04.FR.05)."""
        algorithm = wire.get("hashAlgorithm", "SHA256")
        if algorithm not in certs.HASH_ALGORITHMS:
            return False
        for name in ("current", "renewed", "previous"):
            chain = self._chain(name)
            for index, certificate in enumerate(chain):
                issuer = chain[index + 1] if index + 1 < len(chain) else None
                if issuer is None and not certs.is_self_signed(certificate):
                    issuer = self._csms_issuer_of(certificate)
                if issuer is None and not certs.is_self_signed(certificate):
                    continue
                if certs.hash_data(certificate, issuer, algorithm).matches(wire):
                    return True
        return False

    def _csms_issuer_of(self, certificate: x509.Certificate) -> x509.Certificate | None:
        return next((r for r in self.roots(CSMS) if r.subject == certificate.issuer), None)

    def csms_roots_pem(self) -> str:
        """The CSMS roots for ``ssl.SSLContext.load_verify_locations(cadata=...)``;
        "" when none is installed."""
        return "".join(certs.pem(c) for c in self.roots(CSMS))

    def seed_csms_roots(self, ca_file: Path, capacity: int) -> int:
        """First start: install the site's ``ca_file`` roots when no CSMS root is
        installed yet; returns how many were installed. A bad file is logged."""
        if self.roots(CSMS):
            return 0
        try:
            text = ca_file.read_text("ascii")
            chain = certs.parse_pem_chain(text)
        except (OSError, UnicodeDecodeError, SecurityError) as e:
            log.error("ca_file %s cannot seed the CSMS roots: %s", ca_file, e)
            return 0
        installed = 0
        for certificate in chain:
            status, why = self.install_root(CSMS, certs.pem(certificate), capacity)
            if status == "Accepted":
                installed += 1
            else:
                log.warning("ca_file %s: a certificate is not installed (%s)", ca_file, why)
        return installed

    def server_verified(self, server_certificate_der: bytes | None) -> None:
        """The link connected over TLS; remember which roots issued the server's
        certificate (DeleteCertificate refuses those, M04.FR.06)."""
        self._in_use_issuers = set()
        if not server_certificate_der:
            return
        try:
            leaf = x509.load_der_x509_certificate(server_certificate_der)
        except ValueError:
            return
        self._in_use_issuers = {leaf.issuer.public_bytes()}

    def verify_firmware_signing_certificate(self, text: str) -> str | None:
        """Why a firmware signing certificate (PEM, maybe with sub-CAs) does not chain to
        an installed Manufacturer root, or None when it does (L01.FR.23)."""
        try:
            chain = certs.parse_pem_chain(text)
        except SecurityError as e:
            return str(e)
        roots = self.roots(MANUFACTURER)
        if not roots:
            return "no Manufacturer root certificate installed"
        return certs.chain_problem(chain, roots, self._clock())

    # ------------------------------------------------------------------ client certificate
    def new_csr(self, organization: str, common_name: str) -> str:
        """A CSR (PEM) for a new key, kept as ``pending.key`` until its certificate comes;
        a later CSR replaces the key (only the newest request can be answered)."""
        key = certs.new_key()
        _write_private(self._root / "client" / "pending.key", certs.key_pem(key))
        return certs.csr_pem(key, organization, common_name)

    def accept_signed(self, chain_text: str) -> str | None:
        """Store a CertificateSigned chain as ``renewed``; returns why it is refused, or
        None. Nothing changes on a refusal (the pending key stays)."""
        try:
            chain = certs.parse_pem_chain(chain_text)
        except SecurityError as e:
            return str(e)
        key = self._pending_key()
        if key is None:
            return "no certificate signing request is pending"
        if not certs.same_public_key(chain[0], key):
            return "the certificate is not for the key of the last request"
        problem = certs.chain_problem(chain, self.roots(CSMS), self._clock())
        if problem is not None:
            return problem
        client = self._root / "client"
        _write_private(client / "renewed.key", certs.key_pem(key))
        _write_private(client / "renewed.pem",
                       "".join(certs.pem(c) for c in chain).encode("ascii"))
        (client / "pending.key").unlink()
        log.info("new client certificate %s stored; used from the next connection",
                 chain[0].subject.rfc4514_string()[:120])
        return None

    def client_credentials(self) -> ClientCredentials | None:
        """What the next TLS connection presents: the renewed chain when there is one,
        else the current one, else None."""
        client = self._root / "client"
        for name, renewed in (("renewed", True), ("current", False)):
            if (client / f"{name}.pem").exists() and (client / f"{name}.key").exists():
                return ClientCredentials(client / f"{name}.pem", client / f"{name}.key", renewed)
        return None

    def has_client_certificate(self) -> bool:
        return self.client_credentials() is not None

    def promote_renewed(self) -> bool:
        """A connection worked with the renewed chain: it becomes current, the current
        one previous (A02.FR.10). True if something changed."""
        client = self._root / "client"
        if not (client / "renewed.pem").exists():
            return False
        for suffix in (".pem", ".key"):
            if (client / f"current{suffix}").exists():
                os.replace(client / f"current{suffix}", client / f"previous{suffix}")
        for suffix in (".key", ".pem"):  # the key first: a cut leaves renewed.pem alone
            os.replace(client / f"renewed{suffix}", client / f"current{suffix}")
        _fsync_directory(client)
        return True

    def discard_renewed(self) -> bool:
        """The CSMS refused the renewed chain: delete it; the current one is used again
        (A02.FR.28). True if there was one."""
        client = self._root / "client"
        if not (client / "renewed.pem").exists():
            return False
        for suffix in (".pem", ".key"):
            (client / f"renewed{suffix}").unlink(missing_ok=True)
        _fsync_directory(client)
        return True

    def client_not_after_s(self) -> float | None:
        """When the certificate in use expires (UTC epoch s), or None without one."""
        chain = self._chain("current") or self._chain("renewed")
        return chain[0].not_valid_after_utc.timestamp() if chain else None

    def client_chain_hashes(self) -> list[certs.HashData]:
        """The current chain's certificates' hash data (2.0.1 V2GCertificateChain is not
        ours; this is for the station's own listing)."""
        chain = self._chain("current")
        out: list[certs.HashData] = []
        for index, certificate in enumerate(chain):
            issuer = chain[index + 1] if index + 1 < len(chain) else self._csms_issuer_of(
                certificate)
            out.append(certs.hash_data(certificate, issuer))
        return out

    def _chain(self, name: str) -> list[x509.Certificate]:
        path = self._root / "client" / f"{name}.pem"
        if not path.exists():
            return []
        try:
            return certs.parse_pem_chain(path.read_text("ascii"))
        except (SecurityError, UnicodeDecodeError) as e:
            log.error("certificate store: client/%s.pem is unusable (%s)", name, e)
            return []

    def _pending_key(self) -> ec.EllipticCurvePrivateKey | None:
        path = self._root / "client" / "pending.key"
        if not path.exists():
            return None
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        return key if isinstance(key, ec.EllipticCurvePrivateKey) else None


def _fingerprint(certificate: x509.Certificate) -> str:
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()
