"""devcsms's upload server as `make run` uses it: a POST on its control path makes the
CSMS send GetLog / GetDiagnostics to the real agent, whose upload lands in the directory."""

import asyncio
import json

from devcsms import DevCsms
from devcsms.__main__ import log_requester
from devcsms.uploads import UploadServer
from tests.integration.agent import running_agent, write_site


async def post(port: int, target: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode())
    await writer.drain()
    answer = await reader.read()
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def test_control_requests_a_security_log_and_the_file_arrives(tmp_path):
    async with DevCsms(host="127.0.0.1", port=0) as csms:
        uploads: UploadServer | None = None
        uploads = UploadServer(tmp_path / "uploads", on_request=log_requester(csms, lambda: uploads))
        async with uploads, running_agent(write_site(tmp_path, csms.url)):
            await csms.wait_for("SecurityEventNotification", timeout_s=10)
            status, body = await post(uploads.port, "/request/getlog?station=CP-IT&type=SecurityLog")
            assert status == 200 and json.loads(body)["status"] == "Accepted"
            got = await uploads.wait_upload(timeout_s=15)
            assert b"StartupOfTheDevice" in got.body
            assert (tmp_path / "uploads" / got.name).exists()
            status, body = await post(uploads.port, "/request/getdiagnostics?station=CP-IT")
            assert status == 200 and "fileName" in json.loads(body)
            status, _ = await post(uploads.port, "/request/getlog")
            assert status == 400
