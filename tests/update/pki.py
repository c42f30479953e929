"""A manufacturer CA, firmware signing certificates and signatures, made in the test
with ``cryptography`` (no private key is ever committed)."""

from __future__ import annotations

import base64
import datetime
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.datetime.now(datetime.timezone.utc)


@dataclass
class Signer:
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def sign(self, data: bytes) -> str:
        if isinstance(self.key, rsa.RSAPrivateKey):
            signature = self.key.sign(data, padding.PSS(
                mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH),
                hashes.SHA256())
        else:
            signature = self.key.sign(data, ec.ECDSA(hashes.SHA256()))
        return base64.b64encode(signature).decode()


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Borne test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(cn: str = "Manufacturer Root", issuer: Signer | None = None) -> Signer:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (x509.CertificateBuilder().subject_name(_name(cn))
               .issuer_name(issuer.cert.subject if issuer else _name(cn))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(NOW - datetime.timedelta(days=1))
               .not_valid_after(NOW + datetime.timedelta(days=3650))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True))
    cert = builder.sign(issuer.key if issuer else key, hashes.SHA256())
    return Signer(key, cert)


def make_signer(ca: Signer, *, kind: str = "rsa", days: int = 365,
                eku: x509.ObjectIdentifier | None = ExtendedKeyUsageOID.CODE_SIGNING) -> Signer:
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    key = rsa.generate_private_key(65537, 2048) if kind == "rsa" else \
        ec.generate_private_key(ec.SECP256R1())
    start = NOW - datetime.timedelta(days=2)
    builder = (x509.CertificateBuilder().subject_name(_name("Firmware Signing"))
               .issuer_name(ca.cert.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(start)
               .not_valid_after(start + datetime.timedelta(days=days)))
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
    return Signer(key, builder.sign(ca.key, hashes.SHA256()))


def install_root(directory: Path, ca: Signer, name: str = "root.pem") -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(ca.pem)
