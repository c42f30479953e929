"""`python -m devcsms` as a real process: prints the bound port and readable lines, stops on SIGINT."""

import asyncio
import re
import signal
import socket
import sys
from pathlib import Path

import pytest
import websockets
from ocpp.v16 import call

from .devcsms_client import connected_charge_point
from .station201 import BOOT, raw_station

REPOSITORY = Path(__file__).resolve().parents[2]


async def read_line_containing(stream: asyncio.StreamReader, text: str, seen: list[str]) -> str:
    """Read lines (collected in `seen`) until one contains `text`; the caller bounds the time."""
    while True:
        line = (await stream.readline()).decode()
        if not line:
            raise AssertionError(f"output ended before {text!r}; got {seen}")
        seen.append(line.rstrip("\n"))
        if text in line:
            return line


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
async def test_cli_serves_prints_and_exits_zero_when_signalled(stop_signal):
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "devcsms", "--port", "0", "--first-transaction-id", "7000", "--reject-tag", "BAD1",
        cwd=REPOSITORY, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    seen: list[str] = []
    try:
        async with asyncio.timeout(20):
            listening = await read_line_containing(process.stdout, "listening on ", seen)
            url = re.search(r"listening on (ws://127\.0\.0\.1:\d+/ocpp)", listening).group(1)
            async with connected_charge_point(url, "CP-0001") as charge_point:
                await charge_point.call(call.BootNotification(charge_point_vendor="Borne", charge_point_model="AC-22-1C"))
                refused = await charge_point.call(call.Authorize(id_tag="BAD1"))
                started = await charge_point.call(
                    call.StartTransaction(connector_id=1, id_tag="OK1", meter_start=0, timestamp="2025-03-01T12:00:00Z")
                )
                await read_line_containing(process.stdout, "← transactionId=7000 Accepted", seen)
            process.send_signal(stop_signal)
            remaining_output, errors = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, errors.decode()
    assert refused.id_tag_info == {"status": "Invalid"} and started.transaction_id == 7000
    printed = "\n".join(seen) + remaining_output.decode()
    assert "CP-0001 → BootNotification vendor=Borne model=AC-22-1C" in printed
    assert "CP-0001 ← Accepted interval=300" in printed
    assert "CP-0001 ← Invalid" in printed
    assert "devcsms: stopping" in printed


async def test_cli_exits_one_when_the_port_is_taken():
    with socket.create_server(("127.0.0.1", 0)) as occupant:
        port = occupant.getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "devcsms", "--port", str(port),
            cwd=REPOSITORY, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        async with asyncio.timeout(20):
            _, errors = await process.communicate()
    assert process.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in errors.decode()


async def test_cli_limited_to_2_0_1_serves_a_2_0_1_station_and_refuses_a_1_6_offer():
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "devcsms", "--port", "0", "--ocpp", "2.0.1", "--tag", "LATE1=NotAtThisTime",
        cwd=REPOSITORY, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    seen: list[str] = []
    try:
        async with asyncio.timeout(20):
            listening = await read_line_containing(process.stdout, "listening on ", seen)
            url = re.search(r"listening on (ws://127\.0\.0\.1:\d+/ocpp)$", listening.rstrip()).group(1)
            await read_line_containing(process.stdout, "speaks ocpp2.0.1", seen)
            async with raw_station(url, "CS-0001", ["ocpp1.6", "ocpp2.0.1"]) as station:
                assert station.subprotocol == "ocpp2.0.1"
                await station.result("BootNotification", BOOT)
                answer = await station.result("Authorize", {"idToken": {"idToken": "LATE1", "type": "ISO14443"}})
                await read_line_containing(process.stdout, "CS-0001 ← NotAtThisTime", seen)
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with websockets.connect(f"{url}/CP-OLD", subprotocols=["ocpp1.6"]):
                    pass
            process.send_signal(signal.SIGINT)
            remaining_output, errors = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, errors.decode()
    assert answer == {"idTokenInfo": {"status": "NotAtThisTime"}}
    assert refused.value.response.status_code == 400
    printed = "\n".join(seen) + remaining_output.decode()
    assert "CS-0001 → BootNotification vendor=Borne model=AC-22-1C reason=PowerUp" in printed
    assert "CS-0001 → Authorize idToken=LATE1 (ISO14443)" in printed
