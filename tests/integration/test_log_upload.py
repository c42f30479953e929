"""GetLog / GetDiagnostics end to end (security-whitepaper.md §8, N01; [16] §5.9): the
real agent, a real DevCsms, and devcsms's HTTP upload server on 127.0.0.1 (healthy,
failing with 500, stalling, refusing). Checks the CALLRESULT, the status notification
sequence in the CSMS's record, the retries, and that no secret is in an uploaded file."""

import asyncio

import pytest

from devcsms.uploads import UploadServer, refused_url
from firmware.console.accounts import hash_password
from tests.integration.agent import running_agent, write_site

STATION = "CP-IT"
KEY = "00112233445566778899aabbccddeeff"
PASSWORD_HASH = hash_password("goodpass", iterations=1000)


def site(tmp_path, csms, protocol="ocpp1.6", **ocpp):
    extra = f'[console.accounts.alice]\nrole = "admin"\npassword_hash = "{PASSWORD_HASH}"\n'
    return write_site(tmp_path, csms.url, defaults={"AuthorizationKey": KEY},
                      ocpp={"protocol": protocol, **ocpp}, extra=extra)


def statuses(csms, action, after):
    return [(f.payload["status"], f.payload.get("requestId"))
            for f in csms.messages(action, after=after)]


async def until_statuses(csms, action, after, count, timeout_s=20.0):
    async with asyncio.timeout(timeout_s):
        while len(statuses(csms, action, after)) < count:
            await asyncio.sleep(0.05)
    return statuses(csms, action, after)


def get_log(url, request_id, log_type="DiagnosticsLog", **extra):
    return ("GetLog", {"logType": log_type, "requestId": request_id,
                       "log": {"remoteLocation": url}, **extra})


def assert_no_secret(text: str) -> None:
    for secret in (KEY, PASSWORD_HASH, PASSWORD_HASH.split("$")[-1], "goodpass"):
        assert secret not in text


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_n01_getlog_diagnostics_uploads_a_bundle_without_secrets(csms, tmp_path, protocol):
    async with UploadServer(tmp_path / "uploads") as uploads, \
            running_agent(site(tmp_path, csms, protocol)):
        await csms.wait_for("SecurityEventNotification", timeout_s=10)
        mark = csms.mark()
        answer = await csms.call(STATION, get_log(uploads.url, 41))
        assert answer["status"] == "Accepted"
        assert await until_statuses(csms, "LogStatusNotification", mark, 2) == [
            ("Uploading", 41), ("Uploaded", 41)]
    [upload] = uploads.received
    assert upload.name == answer["filename"]
    text = upload.body.decode()
    assert "== version" in text and "== config get" in text and "StartupOfTheDevice" in text
    assert "alice (admin)" in text
    assert_no_secret(text)


async def test_n01_getlog_security_log_holds_the_security_events(csms, tmp_path):
    async with UploadServer(tmp_path / "uploads") as uploads, \
            running_agent(site(tmp_path, csms)):
        await csms.wait_for("SecurityEventNotification", timeout_s=10)
        mark = csms.mark()
        answer = await csms.call(STATION, get_log(uploads.url, 7, "SecurityLog"))
        await until_statuses(csms, "LogStatusNotification", mark, 2)
    [upload] = uploads.received
    assert upload.name == answer["filename"] and "-security-" in upload.name
    assert b"* StartupOfTheDevice boot reason PowerUp" in upload.body


async def test_n01_fr_10_a_failing_server_is_retried_then_upload_failure(csms, tmp_path):
    async with UploadServer(tmp_path / "uploads", behaviour="fail") as uploads, \
            running_agent(site(tmp_path, csms)):
        await csms.wait_for("SecurityEventNotification", timeout_s=10)
        mark = csms.mark()
        await csms.call(STATION, get_log(uploads.url, 9, retries=2, retryInterval=0))
        assert await until_statuses(csms, "LogStatusNotification", mark, 2) == [
            ("Uploading", 9), ("UploadFailure", 9)]
    assert uploads.attempts == 3


async def test_n01_a_stalled_server_times_out_then_upload_failure(csms, tmp_path):
    async with UploadServer(tmp_path / "uploads", behaviour="stall") as uploads, \
            running_agent(site(tmp_path, csms, upload_timeout_s=0.5)):
        await csms.wait_for("SecurityEventNotification", timeout_s=10)
        mark = csms.mark()
        await csms.call(STATION, get_log(uploads.url, 10, retries=1, retryInterval=0))
        assert await until_statuses(csms, "LogStatusNotification", mark, 2) == [
            ("Uploading", 10), ("UploadFailure", 10)]
    assert uploads.attempts == 2


async def test_16_getdiagnostics_uploads_and_reports_diagnostics_statuses(csms, tmp_path):
    async with UploadServer(tmp_path / "uploads") as uploads, \
            running_agent(site(tmp_path, csms)):
        await csms.wait_for("SecurityEventNotification", timeout_s=10)
        mark = csms.mark()
        answer = await csms.call(STATION, ("GetDiagnostics", {"location": uploads.url}))
        assert await until_statuses(csms, "DiagnosticsStatusNotification", mark, 2) == [
            ("Uploading", None), ("Uploaded", None)]
    assert uploads.received[0].name == answer["fileName"]
    assert_no_secret(uploads.received[0].body.decode())


async def test_16_getdiagnostics_to_a_refusing_server_is_upload_failed(csms, tmp_path):
    async with running_agent(site(tmp_path, csms)):
        await csms.wait_for("SecurityEventNotification", timeout_s=10)
        mark = csms.mark()
        await csms.call(STATION, ("GetDiagnostics", {"location": refused_url(), "retries": 1,
                                                     "retryInterval": 0}))
        assert await until_statuses(csms, "DiagnosticsStatusNotification", mark, 2) == [
            ("Uploading", None), ("UploadFailed", None)]


async def test_n01_fr_11_getlog_during_an_upload_is_accepted_canceled(csms, tmp_path):
    async with UploadServer(tmp_path / "stall", behaviour="stall") as stalled, \
            UploadServer(tmp_path / "ok") as healthy, running_agent(site(tmp_path, csms)):
        await csms.wait_for("SecurityEventNotification", timeout_s=10)
        mark = csms.mark()
        await csms.call(STATION, get_log(stalled.url, 1))
        await until_statuses(csms, "LogStatusNotification", mark, 1)
        assert (await csms.call(STATION, get_log(healthy.url, 2)))["status"] == "AcceptedCanceled"
        assert await until_statuses(csms, "LogStatusNotification", mark, 3) == [
            ("Uploading", 1), ("Uploading", 2), ("Uploaded", 2)]


async def test_sec3_extended_trigger_log_status_reports_idle(csms, tmp_path):
    async with running_agent(site(tmp_path, csms)):
        await csms.wait_for("SecurityEventNotification", timeout_s=10)
        mark = csms.mark()
        assert await csms.call(STATION, ("ExtendedTriggerMessage", {
            "requestedMessage": "LogStatusNotification"})) == {"status": "Accepted"}
        assert await until_statuses(csms, "LogStatusNotification", mark, 1) == [("Idle", None)]
