"""A ManufacturerRootCertificate installed by the CSMS (InstallCertificate → the
certificate store) is what the firmware updater trusts (whitepaper L01.FR.23, M05)."""

import time

from firmware.security.store import MANUFACTURER, CertificateStore
from firmware.update.signing import DirectoryFirmwareSigningTrust
from tests.update.pki import make_ca, make_signer


def test_a_root_installed_through_the_store_verifies_a_signing_certificate(tmp_path):
    store = CertificateStore(tmp_path, time.time)
    trust = DirectoryFirmwareSigningTrust([store.directory / MANUFACTURER])
    root = make_ca()
    signer = make_signer(root)
    assert trust.check(signer.pem, time.time()).status == "invalid"  # nothing installed yet
    status, _ = store.install_root(MANUFACTURER, root.pem, 10)
    assert status == "Accepted"
    assert trust.check(signer.pem, time.time()).status == "ok"
