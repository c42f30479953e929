"""CertificateHashData (security-whitepaper.md §6, [SEC3] §6.1 ed.3), chains, CSRs."""

import hashlib
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from firmware.errors import SecurityError
from firmware.security import certificates as certs
from tests.security.pki import make_ca, make_leaf, now, DAY


def _key_bits_independently(certificate):
    """The BIT STRING contents by another route than the code's DER walk: RSA's is the
    PKCS#1 RSAPublicKey DER, EC's the uncompressed point (RFC 5480 §2.2)."""
    public = certificate.public_key()
    if hasattr(public, "curve"):
        return public.public_bytes(serialization.Encoding.X962,
                                   serialization.PublicFormat.UncompressedPoint)
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_hash_data_of_a_self_signed_root_is_over_its_own_name_and_key_sec3_6_1(kind):
    root = make_ca(kind=kind, serial=4095)
    data = certs.hash_data(root.certificate, None)
    name_der = root.certificate.subject.public_bytes()
    assert data.issuer_name_hash == hashlib.sha256(name_der).hexdigest()
    assert data.issuer_key_hash == hashlib.sha256(
        _key_bits_independently(root.certificate)).hexdigest()
    assert data.serial_number == "FFF"  # [SEC3] §6.1: 4095 -> "FFF", no leading zeroes
    assert data.wire()["hashAlgorithm"] == "SHA256"


def test_hash_data_of_a_leaf_uses_its_issuer_name_and_the_issuers_key_open_ocpp_145():
    """Regression of c-jimenez/open-ocpp#145: the issuer name hash was computed over the
    wrong bytes. It is the DER of the leaf's issuer field, never of its subject."""
    root = make_ca("Root X")
    sub = make_ca("Sub Y", root)
    leaf = make_leaf(sub, "127.0.0.1")
    data = certs.hash_data(leaf.certificate, sub.certificate, "SHA384")
    assert data.issuer_name_hash == hashlib.sha384(
        leaf.certificate.issuer.public_bytes()).hexdigest()
    assert data.issuer_name_hash != hashlib.sha384(
        leaf.certificate.subject.public_bytes()).hexdigest()
    assert data.issuer_name_hash == hashlib.sha384(
        sub.certificate.subject.public_bytes()).hexdigest()
    assert data.issuer_key_hash == hashlib.sha384(
        _key_bits_independently(sub.certificate)).hexdigest()
    assert data.issuer_key_hash != hashlib.sha384(
        _key_bits_independently(leaf.certificate)).hexdigest()


def test_hash_data_matches_case_insensitively_and_ignores_leading_zero_serial_digits():
    root = make_ca(serial=0x0ABC)
    data = certs.hash_data(root.certificate, None)
    wire = data.wire()
    assert wire["serialNumber"] == "ABC"
    assert data.matches({**wire, "issuerNameHash": wire["issuerNameHash"].upper(),
                         "serialNumber": "0abc"})
    assert not data.matches({**wire, "serialNumber": "ABD"})
    assert not data.matches({**wire, "hashAlgorithm": "SHA512"})
    assert not data.matches({"hashAlgorithm": "SHA256"})


@pytest.mark.parametrize("text", ["", "hello", "-----BEGIN CERTIFICATE-----\nAAAA\n"
                                  "-----END CERTIFICATE-----\n", "\udcff"])
def test_bad_pem_is_a_security_error(text):
    with pytest.raises(SecurityError):
        certs.parse_pem_chain(text)


def test_chain_to_an_installed_root_via_a_sub_ca_a02_fr_06():
    root = make_ca("Root")
    sub = make_ca("Sub", root)
    leaf = make_leaf(sub, "SN1", server=False)
    assert certs.chain_problem([leaf.certificate, sub.certificate], [root.certificate],
                               time.time()) is None
    other = make_ca("Other")
    assert "does not chain" in certs.chain_problem(
        [leaf.certificate, sub.certificate], [other.certificate], time.time())
    assert "does not chain" in certs.chain_problem([leaf.certificate], [root.certificate],
                                                   time.time())


def test_chain_outside_its_validity_period_is_refused_e201_2_7():
    root = make_ca("Root")
    expired = make_leaf(root, "SN1", server=False, not_before=now() - 10 * DAY,
                        not_after=now() - DAY)
    future = make_leaf(root, "SN1", server=False, not_before=now() + DAY)
    for leaf in (expired, future):
        assert "validity" in certs.chain_problem([leaf.certificate], [root.certificate],
                                                 time.time())


def test_a_leaf_posing_as_sub_ca_is_refused():
    root = make_ca("Root")
    not_ca = make_leaf(root, "Fake", server=False)
    # a certificate "signed" by a non-CA leaf: built by hand with the leaf's key
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    key = ec.generate_private_key(ec.SECP256R1())
    forged = (x509.CertificateBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SN1")]))
        .issuer_name(not_ca.certificate.subject).public_key(key.public_key())
        .serial_number(1).not_valid_before(now() - DAY).not_valid_after(now() + DAY)
        .sign(not_ca.key, hashes.SHA256()))
    assert "not a CA" in certs.chain_problem([forged, not_ca.certificate], [root.certificate],
                                             time.time())


def test_csr_has_a_new_key_o_cpo_name_and_cn_serial_a02_fr_03_13():
    key = certs.new_key()
    request = x509.load_pem_x509_csr(certs.csr_pem(key, "Borne CPO", "SN-0042").encode())
    assert request.is_signature_valid
    assert request.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == \
        "Borne CPO"
    assert request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "SN-0042"
    assert request.public_key().key_size >= 224  # A00.FR.503
