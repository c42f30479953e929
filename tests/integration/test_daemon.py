"""`borne run` as a real process: systemd notify, SIGTERM, logs, reset restarts."""

import asyncio
import os
import signal
import socket
import sys

from ocpp.v16 import call

from tests.integration.agent import write_site

STATION = "CP-IT"
SECRET = "very-secret-key-9876"


async def start_agent(site, env_extra=None, log_level="DEBUG"):
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "INVOCATION_ID")}
    env.update(env_extra or {})
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "firmware", "run", "--config", str(site), "--log-level", log_level,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env)


async def test_systemd_ready_watchdog_and_graceful_sigterm(csms, tmp_path):
    notify_path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(notify_path)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    site = write_site(tmp_path, csms.url, defaults={"AuthorizationKey": SECRET})
    process = await start_agent(site, {"NOTIFY_SOCKET": notify_path, "WATCHDOG_USEC": "400000"})
    try:
        received = []
        async with asyncio.timeout(20):
            while "READY=1" not in received or "WATCHDOG=1" not in received:
                received.append((await loop.sock_recv(sock, 256)).decode())
        await csms.wait_for("StatusNotification", timeout_s=10)
        await csms.call(STATION, call.ChangeConfiguration(key="AuthorizationKey",
                                                          value=SECRET + "-2"))
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            _, stderr = await process.communicate()
        assert process.returncode == 0
        closed = await csms.wait_disconnected(STATION, timeout_s=5)
        assert closed is not None and closed.close_code in (1000, 1001)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        sock.close()
    log = stderr.decode()
    assert SECRET not in log  # not even at DEBUG, where frames are logged
    assert '"AuthorizationKey","value":"***"' in log
    lines = [line for line in log.splitlines() if line]
    assert all(" " in line and ("Z " in line[:30]) for line in lines), lines[:3]


async def test_id_tags_are_masked_at_info(csms, tmp_path):
    site = write_site(tmp_path, csms.url, console="stdio")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "firmware", "run", "--config", str(site), "--log-level", "INFO",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={k: v for k, v in os.environ.items()
                                             if k not in ("NOTIFY_SOCKET", "INVOCATION_ID")})
    await csms.wait_for("StatusNotification", timeout_s=15)
    process.stdin.write(b"sim plug 1\nsim tap 04A2B3C4D5\n")
    await process.stdin.drain()
    await csms.wait_for("StartTransaction", timeout_s=10)
    process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(20):
        stdout, stderr = await process.communicate()
    assert process.returncode == 0
    assert b"04A2B3C4D5" not in stderr
    assert b"04A2B3C4D5" in stdout  # the console echoes what the technician asked for
    stop = await csms.wait_for("StopTransaction", timeout_s=5)
    assert stop.payload["reason"] == "Reboot"  # a graceful stop ends the session cleanly


async def test_reset_reexecs_without_systemd_and_exits_75_under_it(csms, tmp_path):
    site = write_site(tmp_path, csms.url)
    process = await start_agent(site, log_level="INFO")
    try:
        await csms.wait_for("BootNotification", timeout_s=15)
        mark = csms.mark()
        assert await csms.call(STATION, call.Reset(type="Hard")) == {"status": "Accepted"}
        await csms.wait_for("BootNotification", after=mark, timeout_s=20)  # same pid, re-exec'd
        assert process.returncode is None
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            await process.communicate()
    assert process.returncode == 0
    process = await start_agent(site, {"INVOCATION_ID": "test", "NOTIFY_SOCKET": "@borne-test"},
                                log_level="INFO")
    mark = csms.mark()
    await csms.wait_for("BootNotification", after=mark, timeout_s=15)
    assert await csms.call(STATION, call.Reset(type="Soft")) == {"status": "Accepted"}
    async with asyncio.timeout(20):
        await process.communicate()
    assert process.returncode == 75  # RestartForceExitStatus=75 in the unit
