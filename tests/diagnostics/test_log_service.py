"""GetLog / GetDiagnostics service (security-whitepaper.md §8, N01; [16] GetDiagnostics):
answers, the status facts it reports, retries, cancellation."""

import asyncio
import contextlib

import pytest

from devcsms.uploads import UploadServer, refused_url
from firmware.core import events as ev
from firmware.diagnostics.service import LogService
from firmware.ocpp import frames


class Bundles:
    async def diagnostics(self, oldest_s=None, latest_s=None):
        return f"diagnostics {oldest_s} {latest_s}\n"

    def security(self, oldest_s=None, latest_s=None):
        return "2026-01-01T00:00:00Z * StartupOfTheDevice\n"


@contextlib.asynccontextmanager
async def running(protocol="ocpp1.6", timeout_s=5.0):
    facts: list[ev.LogUploadProgressed] = []
    service = LogService(protocol, Bundles(), facts.append, "CP-1", timeout_s)
    task = asyncio.create_task(service.run())
    try:
        yield service, facts
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def settle(facts, count, timeout_s=10.0):
    async with asyncio.timeout(timeout_s):
        while len(facts) < count:
            await asyncio.sleep(0.01)


def get_log(url, request_id=1, log_type="DiagnosticsLog", **extra):
    payload = {"logType": log_type, "requestId": request_id, "log": {"remoteLocation": url}}
    payload.update(extra)
    assert frames.schema_problem(2, "GetLog", payload) is None
    return payload


async def ask(service, action, payload):
    answer, continuation = await service.answer(action, payload)
    assert frames.schema_problem(3, action, answer) is None
    if continuation is not None:
        await continuation()
    return answer


async def test_n01_fr_08_09_accepted_then_uploading_then_uploaded(tmp_path):
    async with UploadServer(tmp_path) as server, running() as (service, facts):
        answer = await ask(service, "GetLog", get_log(server.url, 17, "SecurityLog"))
        assert answer["status"] == "Accepted"
        assert answer["filename"].startswith("CP-1-security-")
        await settle(facts, 2)
    assert [(f.status, f.request_id) for f in facts] == [("Uploading", 17), ("Uploaded", 17)]
    [upload] = server.received
    assert upload.name == answer["filename"] and b"StartupOfTheDevice" in upload.body


async def test_n01_fr_10_every_attempt_failing_is_upload_failure_after_retries(tmp_path):
    async with UploadServer(tmp_path, behaviour="fail") as server, running() as (service, facts):
        await ask(service, "GetLog", get_log(server.url, 3, retries=2, retryInterval=0))
        await settle(facts, 2)
    assert [f.status for f in facts] == ["Uploading", "UploadFailure"]
    assert server.attempts == 3  # the first try and 2 retries


async def test_a_stalling_server_is_retried_then_upload_failure(tmp_path):
    async with UploadServer(tmp_path, behaviour="stall") as server, \
            running(timeout_s=0.3) as (service, facts):
        await ask(service, "GetLog", get_log(server.url, 4, retries=1, retryInterval=0))
        await settle(facts, 2)
    assert [f.status for f in facts] == ["Uploading", "UploadFailure"]
    assert server.attempts == 2


async def test_a_refusing_server_is_upload_failure():
    async with running() as (service, facts):
        await ask(service, "GetLog", get_log(refused_url(), 5, retries=0))
        await settle(facts, 2)
    assert [f.status for f in facts] == ["Uploading", "UploadFailure"]


async def test_n01_fr_10_permission_denied_is_not_retried(tmp_path):
    async with UploadServer(tmp_path, behaviour="deny") as server, running() as (service, facts):
        await ask(service, "GetLog", get_log(server.url, 6, retries=3, retryInterval=0))
        await settle(facts, 2)
    assert [f.status for f in facts] == ["Uploading", "PermissionDenied"]
    assert server.attempts == 1


async def test_n01_fr_11_a_new_getlog_during_an_upload_is_accepted_canceled(tmp_path):
    async with UploadServer(tmp_path, behaviour="stall") as stalled, \
            UploadServer(tmp_path / "ok") as healthy, running(timeout_s=30) as (service, facts):
        await ask(service, "GetLog", get_log(stalled.url, 1))
        await settle(facts, 1)
        answer = await ask(service, "GetLog", get_log(healthy.url, 2))
        assert answer["status"] == "AcceptedCanceled"
        await settle(facts, 3)
    assert [(f.status, f.request_id) for f in facts] == [
        ("Uploading", 1), ("Uploading", 2), ("Uploaded", 2)]


@pytest.mark.parametrize("payload", [
    get_log("ftp://127.0.0.1/logs/"), get_log("http://127.0.0.1:1/x", retries=-1),
    {"logType": "DiagnosticsLog", "requestId": 1,
     "log": {"remoteLocation": "http://127.0.0.1:1/", "oldestTimestamp": "yesterday"}}])
async def test_a_getlog_we_cannot_serve_is_rejected_and_changes_nothing(payload):
    async with running() as (service, facts):
        assert await ask(service, "GetLog", payload) == {"status": "Rejected"}
        await asyncio.sleep(0.05)
    assert facts == []


async def test_timestamps_filter_the_bundle(tmp_path):
    async with UploadServer(tmp_path) as server, running() as (service, facts):
        await ask(service, "GetLog", get_log(server.url, 8, log={
            "remoteLocation": server.url, "oldestTimestamp": "2026-01-01T00:00:00Z",
            "latestTimestamp": "2026-01-02T00:00:00Z"}))
        await settle(facts, 2)
    assert server.received[0].body == b"diagnostics 1767225600.0 1767312000.0\n"


async def test_16_getdiagnostics_file_name_and_diagnostics_statuses(tmp_path):
    async with UploadServer(tmp_path, behaviour="fail") as server, running() as (service, facts):
        answer = await ask(service, "GetDiagnostics", {"location": server.url, "retries": 1,
                                                       "retryInterval": 0})
        assert answer["fileName"].startswith("CP-1-diagnostics-")
        await settle(facts, 2)
    assert [(f.status, f.diagnostics) for f in facts] == [("Uploading", True),
                                                          ("UploadFailed", True)]


async def test_16_getdiagnostics_to_ftp_is_a_property_constraint_violation():
    async with running() as (service, _):
        with pytest.raises(frames.CallErrorReply) as refused:
            await service.answer("GetDiagnostics", {"location": "ftp://example.org/"})
    assert refused.value.code == "PropertyConstraintViolation"


def test_201_has_no_getdiagnostics():
    assert LogService("ocpp2.0.1", Bundles(), print, "CP", 1).actions == {"GetLog"}
