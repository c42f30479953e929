"""The updater's I/O parts against a local HTTP server that fails, stalls and truncates,
and images signed right, wrong, or by a certificate not from the manufacturer root
(issue 11 "How it will be checked"; security-whitepaper.md §9)."""

from __future__ import annotations

import time

import pytest

from firmware.update.download import DownloadError, DownloadLimits, download, safe_url
from firmware.update.signing import DirectoryFirmwareSigningTrust, verify_image
from tests.update.http_server import FirmwareHttpServer
from tests.update.pki import install_root, make_ca, make_signer

IMAGE = bytes(range(256)) * 400  # 100 kB
LIMITS = DownloadLimits(max_bytes=1_000_000, total_timeout_s=30, stall_timeout_s=0.5)


@pytest.mark.parametrize("kind", ["file", "chunked", "undeclared"])
async def test_download_writes_the_whole_image(tmp_path, kind):
    async with FirmwareHttpServer() as server:
        server.routes["/fw.bin"] = (kind, IMAGE)
        size = await download(server.url("/fw.bin"), tmp_path / "1.img", LIMITS)
    assert size == len(IMAGE) and (tmp_path / "1.img").read_bytes() == IMAGE


async def test_download_follows_a_redirect(tmp_path):
    async with FirmwareHttpServer() as server:
        server.routes["/old"] = ("redirect", "/fw.bin")
        server.routes["/fw.bin"] = ("file", IMAGE)
        await download(server.url("/old"), tmp_path / "1.img", LIMITS)
    assert (tmp_path / "1.img").read_bytes() == IMAGE


@pytest.mark.parametrize("kind, value, reason", [
    ("status", 500, "HTTP 500"),
    ("status", 404, "HTTP 404"),
    ("truncate", IMAGE, "truncated"),
    ("stall", IMAGE, "stalled"),
    ("redirect", "/old", "redirects"),
])
async def test_a_failed_download_leaves_no_file(tmp_path, kind, value, reason):
    async with FirmwareHttpServer() as server:
        server.routes["/old"] = (kind, value)
        with pytest.raises(DownloadError, match=reason):
            await download(server.url("/old"), tmp_path / "1.img", LIMITS)
    assert list(tmp_path.iterdir()) == []  # no image, no .part


@pytest.mark.parametrize("kind", ["file", "undeclared", "chunked"])
async def test_an_image_over_the_size_limit_is_refused(tmp_path, kind):
    async with FirmwareHttpServer() as server:
        server.routes["/fw.bin"] = (kind, IMAGE)
        with pytest.raises(DownloadError, match="limit"):
            await download(server.url("/fw.bin"), tmp_path / "1.img",
                           DownloadLimits(10_000, 30, 5))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/fw.bin", "file:///etc/passwd", "nonsense",
                                 "http://127.0.0.1:1/fw.bin"])
async def test_unusable_locations_fail_cleanly(tmp_path, url):
    with pytest.raises(DownloadError):
        await download(url, tmp_path / "1.img", LIMITS)


def test_credentials_in_a_location_are_not_logged():
    assert safe_url("https://user:secret@host:8443/fw.bin") == "https://***@host:8443/fw.bin"


# ------------------------------------------------------------------ trust and signature
def test_l01_fr_23_signing_certificate_must_chain_to_a_manufacturer_root(tmp_path):
    root, other = make_ca(), make_ca("Someone Else")
    install_root(tmp_path / "roots", root)
    trust = DirectoryFirmwareSigningTrust([tmp_path / "roots", tmp_path / "missing"])
    assert trust.check(make_signer(root).pem, time.time()).status == "ok"
    verdict = trust.check(make_signer(other).pem, time.time())
    assert verdict.status == "invalid" and "chain" in verdict.reason
    assert trust.check("not a certificate", time.time()).status == "invalid"
    assert DirectoryFirmwareSigningTrust([tmp_path / "none"]).check(
        make_signer(root).pem, time.time()).status == "invalid"


def test_a_chain_through_an_intermediate_is_accepted(tmp_path):
    root = make_ca()
    intermediate = make_ca("Manufacturer Sub CA", issuer=root)
    install_root(tmp_path, root)
    signer = make_signer(intermediate)
    trust = DirectoryFirmwareSigningTrust([tmp_path])
    assert trust.check(signer.pem + intermediate.pem, time.time()).status == "ok"
    assert trust.check(signer.pem, time.time()).status == "invalid"  # sub-CA not sent


def test_expired_wrong_usage_and_revoked_signing_certificates(tmp_path):
    root = make_ca()
    install_root(tmp_path, root)
    trust = DirectoryFirmwareSigningTrust([tmp_path])
    assert trust.check(make_signer(root, days=1).pem, time.time()).status == "invalid"
    from cryptography.x509.oid import ExtendedKeyUsageOID
    tls = make_signer(root, eku=ExtendedKeyUsageOID.SERVER_AUTH)
    assert trust.check(tls.pem, time.time()).status == "invalid"
    signer = make_signer(root)
    (tmp_path / "revoked-serials.txt").write_text(f"# revoked\n{signer.cert.serial_number:x}\n")
    assert trust.check(signer.pem, time.time()).status == "revoked"  # L01.FR.25


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_l01_fr_04_signature_over_the_whole_file_rsa_pss_or_ecdsa(tmp_path, kind):
    signer = make_signer(make_ca(), kind=kind)
    image = tmp_path / "1.img"
    image.write_bytes(IMAGE)
    assert verify_image(image, signer.sign(IMAGE), signer.pem) is None
    image.write_bytes(IMAGE[:-1] + b"\x00")  # tampered
    assert verify_image(image, signer.sign(IMAGE), signer.pem) == \
        "signature does not match the image"


def test_l01_fr_03_missing_or_malformed_signature_is_invalid(tmp_path):
    signer = make_signer(make_ca())
    image = tmp_path / "1.img"
    image.write_bytes(IMAGE)
    assert verify_image(image, "", signer.pem) == "no signature"
    assert verify_image(image, "***", signer.pem) == "signature is not base64"
    other = make_signer(make_ca())
    assert verify_image(image, other.sign(IMAGE), signer.pem) is not None
    assert verify_image(tmp_path / "gone.img", signer.sign(IMAGE), signer.pem) is not None
