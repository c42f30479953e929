"""The `make run` launcher with a stand-in agent: start order, prefixed output, log file, Ctrl-C, failures."""

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import tomllib
import websockets

from devcsms.devrun import LaunchError, with_protocol

REPOSITORY = Path(__file__).resolve().parents[2]

# Boots against the CSMS named in the site config, then behaves as its second argument says:
# "wait" until Ctrl-C, "stubborn" ignores Ctrl-C (devrun must escalate to SIGTERM), "exit" leaves with status 3.
STAND_IN_AGENT = """
import json, signal, sys, threading, tomllib
from websockets.sync.client import connect

config_path, mode = sys.argv[1], sys.argv[2]
with open(config_path, "rb") as config_file:
    config = tomllib.load(config_file)
print("stand-in agent: this goes to the log", file=sys.stderr, flush=True)
interrupted = threading.Event()
if mode == "stubborn":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
else:
    signal.signal(signal.SIGINT, lambda number, frame: interrupted.set())
protocol = config["ocpp"].get("protocol", "ocpp1.6")
if protocol in ("ocpp2.0.1", "ocpp2.1"):
    boot = {"reason": "PowerUp", "chargingStation": {"vendorName": "Borne", "model": "Stand-in"}}
else:
    boot = {"chargePointVendor": "Borne", "chargePointModel": "Stand-in"}
with connect(config["ocpp"]["csms_url"] + "/" + config["station"]["id"], subprotocols=[protocol]) as websocket:
    websocket.send(json.dumps([2, "boot-1", "BootNotification", boot]))
    websocket.recv()
    print("stand-in agent: booted", flush=True)
    if mode == "exit":
        sys.exit(3)
    interrupted.wait()
    print("stand-in agent: stopped by Ctrl-C", flush=True)
"""


def free_port() -> int:
    # devrun needs a fixed port in the site config (the agent reads it too); the tiny race is acceptable here.
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


@pytest.fixture
def site(tmp_path: Path):
    """(working directory, site config path, port) for one devrun."""
    port = free_port()
    config = tmp_path / "site.toml"
    config.write_text(
        f'[station]\nid = "CP-DEV"\n\n[ocpp]\ncsms_url = "ws://127.0.0.1:{port}/ocpp"\nprotocol = "ocpp1.6"\n\n'
        "[ocpp.defaults]\nHeartbeatInterval = 42\n"
    )
    (tmp_path / "agent.py").write_text(STAND_IN_AGENT)
    return tmp_path, config, port


@asynccontextmanager
async def running_devrun(
    site, mode: str, *extra: str, agent_config: str | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """devrun with the stand-in agent in `mode`, reading `agent_config` (default: the site config; "{config}"
    lets devrun name the config it chose); whatever the test does, nothing it started outlives it."""
    work_directory, config, _ = site
    agent_command = f"{sys.executable} {work_directory / 'agent.py'} {agent_config or config} {mode}"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "devcsms.devrun", "--config", str(config), "--agent-cmd", agent_command, *extra,
        cwd=work_directory,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # its own process group, like a shell job: killpg() plays the terminal's Ctrl-C
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.returncode is None:  # the test failed midway: devrun stops both children on SIGTERM
            process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(15):
                    await process.communicate()
            except TimeoutError:
                os.killpg(process.pid, signal.SIGKILL)  # the CSMS then stops at the end of its stdin
                await process.wait()


async def read_until(process: asyncio.subprocess.Process, seen: list[str], *texts: str) -> None:
    """Read output lines into `seen` until each of `texts` appeared in one of them (in any order)."""
    while not all(any(text in line for line in seen) for text in texts):
        line = (await process.stdout.readline()).decode()
        if not line:
            raise AssertionError(f"output ended before {texts!r}: {seen}")
        seen.append(line.rstrip("\n"))


async def finish(process: asyncio.subprocess.Process, seen: list[str]) -> str:
    """Wait (bounded) for devrun's exit; add the rest of its output to `seen`; return its stderr."""
    async with asyncio.timeout(20):
        rest, errors = await process.communicate()
    seen.extend(rest.decode().splitlines())
    return errors.decode()


def port_is_free(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except OSError:
        return True


async def test_ctrl_c_stops_the_agent_then_the_csms_and_exits_zero(site):
    work_directory, _, port = site
    seen: list[str] = []
    async with running_devrun(site, "wait") as process:
        async with asyncio.timeout(20):
            await read_until(process, seen, "stand-in agent: booted", "CP-DEV ← Accepted")
        os.killpg(process.pid, signal.SIGINT)
        errors = await finish(process, seen)

    assert process.returncode == 0, errors
    output = "\n".join(seen)
    assert "csms | devcsms: listening on ws://127.0.0.1:" in output
    assert "csms | devcsms: boot Accepted interval=42 s" in output  # the site's HeartbeatInterval
    assert "CP-DEV → BootNotification vendor=Borne model=Stand-in" in output
    assert output.index("listening on") < output.index("stand-in agent: booted")
    assert "stand-in agent: stopped by Ctrl-C" in output
    assert output.index("stand-in agent: stopped by Ctrl-C") < output.index("csms | devcsms: stopping")
    assert output.count("agent stderr → .dev/agent.log") == 1
    assert "stand-in agent: this goes to the log" in (work_directory / ".dev" / "agent.log").read_text()
    assert "this goes to the log" not in output
    assert port_is_free(port)


async def test_agent_that_ignores_ctrl_c_gets_sigterm_after_the_grace_period(site):
    _, _, port = site
    seen: list[str] = []
    async with running_devrun(site, "stubborn", "--grace", "0.3") as process:
        async with asyncio.timeout(20):
            await read_until(process, seen, "stand-in agent: booted")
        os.killpg(process.pid, signal.SIGINT)
        errors = await finish(process, seen)
    assert process.returncode == 0, errors
    assert "csms | devcsms: stopping" in "\n".join(seen)
    assert port_is_free(port)


async def test_agent_exiting_on_its_own_stops_the_csms_and_passes_its_status(site):
    _, _, port = site
    seen: list[str] = []
    async with running_devrun(site, "exit") as process:
        errors = await finish(process, seen)
    output = "\n".join(seen)
    assert process.returncode == 3, errors
    assert "devrun: the agent exited with status 3; stopping the CSMS" in output
    assert "csms | devcsms: stopping" in output
    assert port_is_free(port)


async def test_csms_stops_by_itself_when_the_launcher_is_killed(site):
    _, _, port = site
    seen: list[str] = []
    async with running_devrun(site, "wait") as process:
        async with asyncio.timeout(20):
            await read_until(process, seen, "stand-in agent: booted")
            async with websockets.connect(f"ws://127.0.0.1:{port}/ocpp/CP-WATCH", subprotocols=["ocpp1.6"]) as watcher:
                os.killpg(process.pid, signal.SIGKILL)  # devrun and the agent; the CSMS has its own group
                await watcher.wait_closed()
            await process.communicate()
    assert watcher.close_code == 1001  # the orphaned CSMS saw its stdin end and closed cleanly
    assert port_is_free(port)


async def test_port_in_use_is_reported_and_nothing_starts(site):
    work_directory, config, port = site
    seen: list[str] = []
    with socket.create_server(("127.0.0.1", port)):
        async with running_devrun(site, "wait") as process:
            errors = await finish(process, seen)
    assert process.returncode == 1
    assert f"the CSMS port 127.0.0.1:{port}" in errors and "already in use" in errors
    assert seen == []
    assert not (work_directory / ".dev").exists()


async def test_unreadable_config_exits_two(tmp_path):
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "devcsms.devrun", "--config", str(tmp_path / "missing.toml"),
        cwd=REPOSITORY, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(20):
        _, errors = await process.communicate()
    assert process.returncode == 2
    assert "cannot read" in errors.decode()


@pytest.mark.parametrize("version", ["2.0.1", "2.1"])
async def test_ocpp_2_x_runs_the_agent_on_a_site_config_saying_so_beside_the_original(site, version):
    work_directory, config, port = site
    original = config.read_text()
    seen: list[str] = []
    async with running_devrun(site, "wait", "--ocpp", version, agent_config="{config}") as process:
        async with asyncio.timeout(20):
            await read_until(process, seen, "stand-in agent: booted", "CP-DEV ← Accepted")
        os.killpg(process.pid, signal.SIGINT)
        errors = await finish(process, seen)
    assert process.returncode == 0, errors
    output = "\n".join(seen)
    derived = work_directory / f".site.ocpp{version}.toml"
    assert f"devrun: OCPP {version}: the agent runs on {derived}" in output
    assert f"(ocpp{version})" in output  # the CSMS's connected line names the negotiated subprotocol
    assert "CP-DEV → BootNotification vendor=Borne model=Stand-in reason=PowerUp" in output
    assert tomllib.loads(derived.read_text())["ocpp"]["protocol"] == f"ocpp{version}"
    assert config.read_text() == original
    assert port_is_free(port)


async def test_the_site_s_own_protocol_needs_no_second_config(site):
    work_directory, _, _ = site
    seen: list[str] = []
    async with running_devrun(site, "exit", "--ocpp", "1.6", agent_config="{config}") as process:
        errors = await finish(process, seen)
    assert process.returncode == 3, errors
    assert "CP-DEV → BootNotification vendor=Borne model=Stand-in" in "\n".join(seen)
    assert not list(work_directory.glob(".site.*.toml"))


def test_with_protocol_rewrites_only_the_ocpp_table_s_protocol():
    text = (
        '# comment\n[station]\nprotocol = "keep"\n\n[ocpp]  # the link\ncsms_url = "ws://x/ocpp"\n'
        'protocol = "ocpp1.6"   # was\n\n[ocpp.defaults]\nHeartbeatInterval = 60\n'
    )
    rewritten = with_protocol(text, "ocpp2.0.1")
    values = tomllib.loads(rewritten)
    assert values["ocpp"] == {"csms_url": "ws://x/ocpp", "protocol": "ocpp2.0.1", "defaults": {"HeartbeatInterval": 60}}
    assert values["station"] == {"protocol": "keep"}
    assert rewritten.startswith("# comment\n")

    without = '[ocpp]\ncsms_url = "ws://x/ocpp"\n[board]\nconfig = "b.toml"\n'
    assert tomllib.loads(with_protocol(without, "ocpp2.0.1"))["ocpp"]["protocol"] == "ocpp2.0.1"
    with pytest.raises(LaunchError, match=r"no \[ocpp\] table"):
        with_protocol('[station]\nid = "X"\n', "ocpp2.0.1")
    with pytest.raises(LaunchError, match="protocol"):
        with_protocol('[ocpp]\nprotocol = [\n  "ocpp1.6",\n]\n', "ocpp2.0.1")


async def test_an_agent_that_cannot_be_started_is_one_line_and_exit_one_not_a_traceback(site):
    work_directory, config, port = site
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "devcsms.devrun", "--config", str(config),
        "--agent-cmd", str(work_directory / "no-such-agent"), "--log-dir", str(work_directory / ".dev"),
        cwd=work_directory, env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    seen: list[str] = []
    errors = await finish(process, seen)
    assert process.returncode == 1
    assert errors.startswith("devrun: cannot start the agent") and "no-such-agent" in errors
    assert "Traceback" not in errors and "Traceback" not in "\n".join(seen)
    assert "csms | devcsms: stopping" in "\n".join(seen)
    assert port_is_free(port)
