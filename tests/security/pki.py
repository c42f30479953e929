"""A test PKI made with ``cryptography``: CAs, a TLS server certificate for 127.0.0.1,
client certificates signed from a station's CSR, files for ``ssl`` contexts."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DAY = datetime.timedelta(days=1)


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


@dataclass
class Issued:
    certificate: x509.Certificate
    key: object  # a private key

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM,  # type: ignore[attr-defined]
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())

    def write(self, directory: Path, stem: str, chain: tuple["Issued", ...] = ()) -> tuple[Path, Path]:
        cert_path = directory / f"{stem}.pem"
        key_path = directory / f"{stem}.key"
        cert_path.write_text(self.pem + "".join(c.pem for c in chain))
        key_path.write_bytes(self.key_pem())
        return cert_path, key_path


def _key(kind: str):
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def make_ca(common_name: str = "Borne test CA", issuer: Issued | None = None, *,
            kind: str = "ec", serial: int | None = None,
            not_before: datetime.datetime | None = None,
            not_after: datetime.datetime | None = None) -> Issued:
    key = _key(kind)
    start = not_before or now() - DAY
    builder = (x509.CertificateBuilder()
               .subject_name(name(common_name, "Borne Test"))
               .issuer_name(issuer.certificate.subject if issuer else name(common_name, "Borne Test"))
               .public_key(key.public_key())
               .serial_number(serial or x509.random_serial_number())
               .not_valid_before(start).not_valid_after(not_after or start + 30 * DAY)
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                            False, False), critical=True))
    signer = issuer.key if issuer else key
    return Issued(builder.sign(signer, hashes.SHA256()), key)


def make_leaf(issuer: Issued, common_name: str = "127.0.0.1", *, server: bool = True,
              not_before: datetime.datetime | None = None,
              not_after: datetime.datetime | None = None, public_key=None,
              organization: str | None = None, kind: str = "ec") -> Issued:
    key = None if public_key is not None else _key(kind)
    start = not_before or now() - DAY
    builder = (x509.CertificateBuilder()
               .subject_name(name(common_name, organization))
               .issuer_name(issuer.certificate.subject)
               .public_key(public_key if public_key is not None else key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(not_after or start + 30 * DAY)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address(common_name))]
            if common_name[0].isdigit() else [x509.DNSName(common_name)]), critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                                        critical=False)
    else:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                                        critical=False)
    return Issued(builder.sign(issuer.key, hashes.SHA256()), key)


def sign_csr(issuer: Issued, csr_pem: str, *, days: int = 90,
             not_before: datetime.datetime | None = None) -> Issued:
    """The CSMS's side of SignCertificate: a client certificate for the CSR's key and subject."""
    request = x509.load_pem_x509_csr(csr_pem.encode())
    assert request.is_signature_valid
    start = not_before or now() - datetime.timedelta(minutes=5)
    certificate = (x509.CertificateBuilder()
                   .subject_name(request.subject).issuer_name(issuer.certificate.subject)
                   .public_key(request.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(start).not_valid_after(start + days * DAY)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                                  critical=False)
                   .sign(issuer.key, hashes.SHA256()))
    return Issued(certificate, None)
