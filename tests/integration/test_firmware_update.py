"""Firmware updates through the real agent, devcsms and a local HTTP server (issue 11
item 4; security-whitepaper.md §9 L01; the whitepaper's 1.6 messages).

The manufacturer CA, the signing certificate and the signatures are made in the test;
the installer is a small Python program that records that it ran and writes the new
version into ``[firmware] version_file`` (what an image updater does)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from devcsms import CallErrorReceived
from firmware.ocpp.mapping import format_time
from tests.chaos.agent_process import AgentProcess
from tests.integration.agent import running_agent, write_site
from tests.update.http_server import FirmwareHttpServer
from tests.update.pki import Signer, install_root, make_ca, make_signer

STATION = "CP-IT"
IMAGE = b"borne firmware image v2\n" * 2000

INSTALLER = """
import os, pathlib, sys, time
image, out = pathlib.Path(sys.argv[-1]), pathlib.Path(os.environ["FW_TEST_DIR"])
(out / "installer-ran").write_text(str(os.getpid()))
if (out / "installer-hangs").exists():
    time.sleep(120)
if (out / "installer-fails").exists():
    sys.exit(3)
(out / "version").write_text("v2-" + str(len(image.read_bytes())) + "\\n")
"""


def site(tmp_path: Path, csms, root: Signer | None, *, allow_unsigned: bool = False,
         console: str = "none") -> Path:
    (tmp_path / "installer.py").write_text(INSTALLER)
    if not (tmp_path / "version").exists():
        (tmp_path / "version").write_text("v1\n")
    os.environ["FW_TEST_DIR"] = str(tmp_path)
    if root is not None:
        install_root(tmp_path / "state" / "certs" / "manufacturer", root)
    command = [sys.executable, str(tmp_path / "installer.py")]
    extra = "\n".join([
        "[firmware]", f"allow_unsigned = {'true' if allow_unsigned else 'false'}",
        f"install_command = {command!r}".replace("'", '"'),
        f'version_file = "{tmp_path / "version"}"', "install_timeout_s = 60",
        "stall_timeout_s = 1", "default_retry_interval_s = 0"])
    return write_site(tmp_path, csms.url, console=console, extra=extra)


def signed_request(url: str, signer: Signer, image: bytes = IMAGE, request_id: int = 42,
                   **extra):
    return ("SignedUpdateFirmware", {
        "requestId": request_id, "retries": extra.pop("retries", 0), "retryInterval": 0,
        "firmware": {"location": url, "retrieveDateTime": format_time(0),
                     "signingCertificate": signer.pem, "signature": signer.sign(image),
                     **extra}})


def statuses(csms, after: int = 0) -> list[tuple[str, int | None]]:
    return [(f.payload["status"], f.payload.get("requestId"))
            for f in csms.messages("SignedFirmwareStatusNotification") if f.seq >= after]


async def final_status(csms, after: int = 0, timeout_s: float = 30):
    final = {"DownloadFailed", "InvalidSignature", "InstallationFailed", "InstallRebooting",
             "InstallVerificationFailed", "Installed"}
    return await csms.wait_for("SignedFirmwareStatusNotification",
                               lambda f: f.payload["status"] in final, after=after,
                               timeout_s=timeout_s)


async def test_l01_signed_update_installs_reboots_and_reports_the_new_version(csms, tmp_path):
    root = make_ca()
    signer = make_signer(root)
    path = site(tmp_path, csms, root)
    async with FirmwareHttpServer() as server:
        server.routes["/fw.bin"] = ("file", IMAGE)
        async with running_agent(path) as cp:
            boot = await csms.wait_for("BootNotification", timeout_s=10)
            assert boot.payload["firmwareVersion"] == "v1"
            await csms.wait_for("StatusNotification", timeout_s=10)
            reply = await csms.call(STATION, signed_request(server.url("/fw.bin"), signer))
            assert reply == {"status": "Accepted"}
            await final_status(csms)
            assert await asyncio.wait_for(cp.task, 30) == "Hard"  # restarted for the install
        mark = csms.mark()
        async with running_agent(path):
            boot = await csms.wait_for("BootNotification", after=mark, timeout_s=10)
            await final_status(csms, after=mark)
            event = await csms.wait_for("SecurityEventNotification", lambda f: f.payload[
                "type"] == "FirmwareUpdated", after=mark, timeout_s=10)
    assert boot.payload["firmwareVersion"] == f"v2-{len(IMAGE)}"
    assert statuses(csms) == [(s, 42) for s in (
        "Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting",
        "Installed")]
    assert "v1 -> v2" in event.payload["techInfo"]
    assert list((tmp_path / "state" / "firmware").iterdir()) == []  # image removed


async def test_l01_fr_03_a_tampered_image_is_never_installed(csms, tmp_path):
    root = make_ca()
    signer = make_signer(root)
    async with FirmwareHttpServer() as server:
        server.routes["/fw.bin"] = ("file", IMAGE[:-1] + b"!")
        async with running_agent(site(tmp_path, csms, root)):
            await csms.wait_for("StatusNotification", timeout_s=10)
            reply = await csms.call(STATION, signed_request(server.url("/fw.bin"), signer))
            assert reply == {"status": "Accepted"}
            await final_status(csms)
            await csms.wait_for("SecurityEventNotification", lambda f: f.payload[
                "type"] == "InvalidFirmwareSignature", timeout_s=10)
    assert statuses(csms) == [("Downloading", 42), ("Downloaded", 42), ("InvalidSignature", 42)]
    assert not (tmp_path / "installer-ran").exists()


async def test_l01_fr_24_a_signing_certificate_not_from_the_manufacturer_root(csms, tmp_path):
    stranger = make_signer(make_ca("Not The Manufacturer"))
    async with FirmwareHttpServer() as server:
        server.routes["/fw.bin"] = ("file", IMAGE)
        async with running_agent(site(tmp_path, csms, make_ca())):
            await csms.wait_for("StatusNotification", timeout_s=10)
            reply = await csms.call(STATION, signed_request(server.url("/fw.bin"), stranger))
            assert reply == {"status": "InvalidCertificate"}
            await csms.wait_for("SecurityEventNotification", lambda f: f.payload[
                "type"] == "InvalidFirmwareSigningCertificate", timeout_s=10)
        assert server.hits["/fw.bin"] == 0  # nothing downloaded
    assert statuses(csms) == []


@pytest.mark.parametrize("kind", ["status", "stall", "truncate"])
async def test_a_failing_server_is_retried_then_download_failed(csms, tmp_path, kind):
    root = make_ca()
    signer = make_signer(root)
    async with FirmwareHttpServer() as server:
        server.routes["/fw.bin"] = (kind, 500 if kind == "status" else IMAGE)
        async with running_agent(site(tmp_path, csms, root)):
            await csms.wait_for("StatusNotification", timeout_s=10)
            await csms.call(STATION, signed_request(server.url("/fw.bin"), signer, retries=2))
            await final_status(csms)
        assert server.hits["/fw.bin"] == 3  # 1 + retries
    assert statuses(csms) == [("Downloading", 42), ("DownloadFailed", 42)]
    assert not (tmp_path / "installer-ran").exists()


async def test_l01_fr_20_plain_update_firmware_is_not_supported_by_default(csms, tmp_path):
    async with running_agent(site(tmp_path, csms, None)):
        await csms.wait_for("StatusNotification", timeout_s=10)
        with pytest.raises(CallErrorReceived) as refused:
            await csms.call(STATION, ("UpdateFirmware", {
                "location": "http://127.0.0.1:1/fw.bin", "retrieveDate": format_time(0)}))
        assert refused.value.code == "NotSupported"


async def test_plain_update_firmware_when_the_site_allows_unsigned(csms, tmp_path):
    async with FirmwareHttpServer() as server:
        server.routes["/fw.bin"] = ("file", IMAGE)
        async with running_agent(site(tmp_path, csms, None, allow_unsigned=True)) as cp:
            await csms.wait_for("StatusNotification", timeout_s=10)
            reply = await csms.call(STATION, ("UpdateFirmware", {
                "location": server.url("/fw.bin"), "retrieveDate": format_time(0)}))
            assert reply == {}
            await csms.wait_for("FirmwareStatusNotification", lambda f: f.payload[
                "status"] == "Installing", timeout_s=20)
            assert await asyncio.wait_for(cp.task, 30) == "Hard"
        mark = csms.mark()
        async with running_agent(site(tmp_path, csms, None, allow_unsigned=True)):
            await csms.wait_for("FirmwareStatusNotification", lambda f: f.payload[
                "status"] == "Installed", after=mark, timeout_s=10)
    assert [f.payload for f in csms.messages("FirmwareStatusNotification")] == [
        {"status": s} for s in ("Downloading", "Downloaded", "Installing", "Installed")]


async def test_l01_fr_06_07_no_install_and_no_reboot_during_a_transaction(csms, tmp_path):
    root = make_ca()
    signer = make_signer(root)
    async with FirmwareHttpServer() as server:
        server.routes["/fw.bin"] = ("file", IMAGE)
        async with running_agent(site(tmp_path, csms, root)) as cp:
            await csms.wait_for("StatusNotification", timeout_s=10)
            await cp.console("sim plug 1")
            await cp.console("sim tap CAFE0001")
            await csms.wait_for("StatusNotification",
                                lambda f: f.payload["status"] == "Charging", timeout_s=10)
            await csms.call(STATION, signed_request(server.url("/fw.bin"), signer))
            await csms.wait_for("SignedFirmwareStatusNotification", lambda f: f.payload[
                "status"] == "InstallScheduled", timeout_s=20)
            assert not (tmp_path / "installer-ran").exists()
            assert not cp.task.done() and not csms.messages("StopTransaction")
            mark = csms.mark()
            await cp.console("sim unplug 1")
            stop = await csms.wait_for("StopTransaction", after=mark, timeout_s=10)
            installing = await csms.wait_for("SignedFirmwareStatusNotification", lambda f: f.payload[
                "status"] == "Installing", timeout_s=10)
            assert installing.seq > stop.seq
            assert await asyncio.wait_for(cp.task, 30) == "Hard"
    assert stop.payload["reason"] == "EVDisconnected"


async def test_sigkill_while_installing_keeps_the_old_version_and_reports_the_failure(
        csms, tmp_path):
    root = make_ca()
    signer = make_signer(root)
    (tmp_path / "installer-hangs").write_text("")
    agent = AgentProcess(site(tmp_path, csms, root, console="stdio"), tmp_path / "agent.log")
    async with FirmwareHttpServer() as server:
        server.routes["/fw.bin"] = ("file", IMAGE)
        await agent.start()
        try:
            await csms.wait_for("StatusNotification", timeout_s=10)
            await csms.call(STATION, signed_request(server.url("/fw.bin"), signer))
            await csms.wait_for("SignedFirmwareStatusNotification", lambda f: f.payload[
                "status"] == "Installing", timeout_s=20)
            async with asyncio.timeout(10):
                while not (tmp_path / "installer-ran").exists():
                    await asyncio.sleep(0.05)
            await agent.kill()  # the power cut
            os.kill(int((tmp_path / "installer-ran").read_text()), signal.SIGKILL)
            mark = csms.mark()
            await agent.start()
            boot = await csms.wait_for("BootNotification", after=mark, timeout_s=15)
            await final_status(csms, after=mark)
            assert await agent.terminate() == 0
        finally:
            await agent.kill()
    assert boot.payload["firmwareVersion"] == "v1"
    assert statuses(csms)[-2:] == [("Installing", 42), ("InstallationFailed", 42)]


async def test_l01_certificate_checks_dates_and_no_installer(csms, tmp_path):
    root = make_ca()
    signer = make_signer(root)
    path = site(tmp_path, csms, root)
    (tmp_path / "state" / "certs" / "manufacturer" / "revoked-serials.txt").write_text("")
    async with running_agent(path):
        await csms.wait_for("StatusNotification", timeout_s=10)
        revoked = make_signer(root)
        (tmp_path / "state" / "certs" / "manufacturer" / "revoked-serials.txt").write_text(
            f"{revoked.cert.serial_number:x}\n")
        reply = await csms.call(STATION, signed_request("http://127.0.0.1:1/x", revoked))
        assert reply == {"status": "RevokedCertificate"}  # L01.FR.25
        action, payload = signed_request("http://127.0.0.1:1/x", signer)
        payload["firmware"]["retrieveDateTime"] = "yesterday"
        with pytest.raises(CallErrorReceived):
            await csms.call(STATION, (action, payload), validate=False)
    assert statuses(csms) == []


async def test_l01_fr_26_a_new_request_cancels_a_scheduled_download(csms, tmp_path):
    root = make_ca()
    signer = make_signer(root)
    async with FirmwareHttpServer() as server:
        server.routes["/fw.bin"] = ("file", IMAGE)
        async with running_agent(site(tmp_path, csms, root)):
            await csms.wait_for("StatusNotification", timeout_s=10)
            later = signed_request(server.url("/fw.bin"), signer, request_id=1)
            later[1]["firmware"]["retrieveDateTime"] = format_time(4_000_000_000)
            assert await csms.call(STATION, later) == {"status": "Accepted"}
            await csms.wait_for("SignedFirmwareStatusNotification", timeout_s=10)
            now = signed_request(server.url("/fw.bin"), signer, request_id=2)
            assert await csms.call(STATION, now) == {"status": "AcceptedCanceled"}
            await csms.wait_for("SignedFirmwareStatusNotification", lambda f: f.payload[
                "status"] == "InstallRebooting", timeout_s=30)
    assert statuses(csms) == [("DownloadScheduled", 1)] + [(s, 2) for s in (
        "Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting")]
