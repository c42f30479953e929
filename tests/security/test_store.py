"""The certificate store in the state directory (issue 11; security-whitepaper.md §4-6)."""

import stat
import time

from firmware.security import certificates as certs
from firmware.security.store import CSMS, MANUFACTURER, CertificateStore
from tests.security.pki import DAY, make_ca, make_leaf, now, sign_csr


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def store(tmp_path):
    return CertificateStore(tmp_path, time.time)


def test_directories_are_0700_and_files_0600(tmp_path):
    s = store(tmp_path)
    assert s.install_root(CSMS, make_ca().pem, 10) == ("Accepted", "")
    s.new_csr("CPO", "SN1")
    for directory in (s.directory, s.directory / CSMS, s.directory / "client"):
        assert mode(directory) == 0o700
    files = [p for p in s.directory.rglob("*") if p.is_file()]
    assert len(files) == 2 and all(mode(p) == 0o600 for p in files)


def test_install_list_delete_a_root_m03_m04_m05(tmp_path):
    s = store(tmp_path)
    root = make_ca("R1")
    assert s.install_root(CSMS, root.pem, 10)[0] == "Accepted"
    assert s.install_root(CSMS, root.pem, 10) == ("Accepted", "already installed")
    [data] = s.root_hashes(CSMS)
    assert data == certs.hash_data(root.certificate, None)
    assert s.root_hashes(MANUFACTURER) == []
    assert s.delete_root({**data.wire(), "serialNumber": "1"}, profile=0) == "NotFound"
    assert s.delete_root(data.wire(), profile=0) == "Accepted"
    assert s.root_hashes(CSMS) == []


def test_full_store_invalid_and_non_root_certificates_are_rejected_m05_fr_03_04(tmp_path):
    s = store(tmp_path)
    assert s.install_root(CSMS, make_ca("A").pem, 1)[0] == "Accepted"
    status, why = s.install_root(MANUFACTURER, make_ca("B").pem, 1)
    assert status == "Rejected" and "CertificateStoreMaxLength" in why
    root = make_ca("C")
    assert s.install_root(CSMS, make_leaf(root).pem, 5)[0] == "Rejected"  # EVerest#2109
    assert s.install_root(CSMS, make_ca("Sub", root).pem, 5)[0] == "Rejected"
    assert s.install_root(CSMS, "not a certificate", 5)[0] == "Rejected"
    expired = make_ca("Old", not_before=now() - 10 * DAY, not_after=now() - DAY)
    assert s.install_root(CSMS, expired.pem, 5)[0] == "Rejected"
    assert s.root_count() == 1


def test_the_last_csms_root_or_the_one_in_use_cannot_be_deleted_on_profile_2_m04_fr_06(tmp_path):
    s = store(tmp_path)
    used, spare = make_ca("Used"), make_ca("Spare")
    s.install_root(CSMS, used.pem, 10)
    [used_data] = s.root_hashes(CSMS)
    assert s.delete_root(used_data.wire(), profile=2) == "Failed"  # the last one
    s.install_root(CSMS, spare.pem, 10)
    server = make_leaf(used)
    from cryptography.hazmat.primitives.serialization import Encoding
    s.server_verified(server.certificate.public_bytes(Encoding.DER))
    assert s.delete_root(used_data.wire(), profile=2) == "Failed"
    spare_data = certs.hash_data(spare.certificate, None)
    assert s.delete_root(spare_data.wire(), profile=2) == "Accepted"


def test_csr_then_signed_chain_then_promotion_keeps_the_previous_a02_fr_06_10(tmp_path):
    s = store(tmp_path)
    root = make_ca("CPO root")
    s.install_root(CSMS, root.pem, 10)
    assert s.client_credentials() is None
    csr = s.new_csr("CPO", "SN1")
    signed = sign_csr(root, csr)
    assert s.accept_signed(signed.pem) is None
    credentials = s.client_credentials()
    assert credentials.renewed and mode(credentials.key_file) == 0o600
    assert s.promote_renewed()
    assert not s.client_credentials().renewed
    assert s.client_not_after_s() == signed.certificate.not_valid_after_utc.timestamp()
    assert s.matches_client_certificate(s.client_chain_hashes()[0].wire())
    # a second renewal, discarded after the CSMS refused it: the current one is used again
    second = sign_csr(root, s.new_csr("CPO", "SN1"))
    assert s.accept_signed(second.pem) is None
    assert s.discard_renewed()
    assert s.client_credentials() == credentials.__class__(
        s.directory / "client" / "current.pem", s.directory / "client" / "current.key", False)


def test_signed_chain_refusals_change_nothing_a02_fr_07(tmp_path):
    s = store(tmp_path)
    root, other = make_ca("CPO root"), make_ca("Other")
    s.install_root(CSMS, root.pem, 10)
    assert "no certificate signing request" in s.accept_signed(make_leaf(root, server=False).pem)
    csr = s.new_csr("CPO", "SN1")
    assert "does not chain" in s.accept_signed(sign_csr(other, csr).pem)
    assert "not for the key" in s.accept_signed(make_leaf(root, "SN1", server=False).pem)
    assert "validity" in s.accept_signed(sign_csr(root, csr, not_before=now() + DAY).pem)
    assert "PEM" in s.accept_signed("garbage")
    assert s.client_credentials() is None
    assert s.accept_signed(sign_csr(root, csr).pem) is None  # the pending key survived


def test_firmware_signing_certificate_verified_against_manufacturer_roots_l01_fr_23(tmp_path):
    s = store(tmp_path)
    maker = make_ca("Maker root")
    signing = make_leaf(maker, "Firmware signing", server=False)
    assert "no Manufacturer root" in s.verify_firmware_signing_certificate(signing.pem)
    s.install_root(MANUFACTURER, maker.pem, 10)
    assert s.verify_firmware_signing_certificate(signing.pem) is None
    stranger = make_leaf(make_ca("Stranger"), "Firmware signing", server=False)
    assert s.verify_firmware_signing_certificate(stranger.pem) is not None
    assert s.verify_firmware_signing_certificate("nope") is not None


def test_seed_from_the_site_ca_file_only_when_no_root_is_installed(tmp_path):
    ca_file = tmp_path / "ca.pem"
    first, second = make_ca("First"), make_ca("Second")
    ca_file.write_text(first.pem + second.pem)
    s = store(tmp_path)
    assert s.seed_csms_roots(ca_file, 10) == 2
    assert s.seed_csms_roots(ca_file, 10) == 0
    bad = tmp_path / "bad.pem"
    bad.write_text("nothing")
    assert store(tmp_path / "x").seed_csms_roots(bad, 10) == 0
