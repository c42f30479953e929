"""The HTTP upload client against devcsms's upload server on 127.0.0.1, healthy and
misbehaving (issue 11: a server that fails, stalls and refuses)."""

import pytest

from devcsms.uploads import UploadServer, refused_url
from firmware.diagnostics.upload import (UnsupportedLocation, UploadFailed, UploadRefused,
                                         target, upload)


async def test_put_to_a_directory_url_appends_the_file_name(tmp_path):
    async with UploadServer(tmp_path) as server:
        await upload(server.url, "CP-1-diagnostics.log", b"hello\n", timeout_s=5)
    [got] = server.received
    assert (got.method, got.name, got.body) == ("PUT", "CP-1-diagnostics.log", b"hello\n")
    assert (tmp_path / "CP-1-diagnostics.log").read_bytes() == b"hello\n"


async def test_a_server_without_put_gets_a_multipart_post(tmp_path):
    async with UploadServer(tmp_path, behaviour="no-put") as server:
        await upload(server.url, "a.log", b"x" * 100_000, timeout_s=5)
    [got] = server.received
    assert (got.method, got.name, got.body) == ("POST", "a.log", b"x" * 100_000)


async def test_http_500_is_a_failure_a_retry_may_fix(tmp_path):
    async with UploadServer(tmp_path, behaviour="fail") as server:
        with pytest.raises(UploadFailed, match="HTTP 500"):
            await upload(server.url, "a.log", b"x", timeout_s=5)
    assert server.received == []


async def test_403_is_permission_denied(tmp_path):
    async with UploadServer(tmp_path, behaviour="deny") as server:
        with pytest.raises(UploadRefused) as refused:
            await upload(server.url, "a.log", b"x", timeout_s=5)
    assert refused.value.status == "PermissionDenied"


async def test_a_stalled_server_costs_one_timeout(tmp_path):
    async with UploadServer(tmp_path, behaviour="stall") as server:
        with pytest.raises(UploadFailed, match="no answer"):
            await upload(server.url, "a.log", b"x", timeout_s=0.5)
    assert server.attempts == 1


async def test_a_refused_connection_is_a_failure():
    with pytest.raises(UploadFailed):
        await upload(refused_url(), "a.log", b"x", timeout_s=5)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/up/", "file:///tmp/x", "http:///nohost",
                                 "not a url", "http://[::1/"])
def test_locations_we_cannot_upload_to(url):
    with pytest.raises(UnsupportedLocation):
        target(url, "a.log")


def test_credentials_in_the_url_become_basic_auth_and_a_file_url_is_kept():
    where = target("https://cp:s%3Acret@example.org:8443/in/file.txt?x=1", "a.log")
    assert (where.https, where.host, where.port, where.path) == (
        True, "example.org", 8443, "/in/file.txt?x=1")
    assert where.authorization == "Basic Y3A6czpjcmV0"  # base64("cp:s:cret")
