"""`make run`: the development CSMS plus the agent, with the technician console on this terminal.

    .venv/bin/python -m devcsms.devrun --config dev/site.toml [--ocpp 1.6|2.0.1|2.1] [--log-dir .dev] [--grace 5]
                                       [--offer-firmware IMAGE]

0. With `--ocpp` (`make run OCPP=2.0.1`) naming another version than the site config's `[ocpp] protocol`
   (absent: ocpp1.6), writes a copy of the config beside it, `.<name>.ocpp2.0.1.toml`, whose only change
   is `protocol = "ocpp2.0.1"`, and runs the agent on that copy (relative paths still resolve as in the
   original; the original is never touched). The CSMS speaks every version (1.6, 2.0.1, 2.1); the agent's offer decides.
1. Reads `[ocpp] csms_url` from the site config to learn the CSMS host, port and path (and
   `[ocpp.defaults] HeartbeatInterval`, which the CSMS then hands out in its BootNotification answer).
2. Starts `python -m devcsms` as a child in its own process group (so Ctrl-C reaches the agent first and
   the CSMS can still see the agent close cleanly), prefixes each of its output lines with "csms | ", and
   waits for its "listening on" line, which it prints once its socket accepts connections.
3. Starts the agent in the foreground: `<venv>/bin/borne run --config FILE` (or `python -m firmware run`
   when the console script is not installed), stdin/stdout inherited, stderr appended to
   `<log-dir>/agent.log`.
4. Ctrl-C: the terminal sends SIGINT to the agent and to us; we wait up to `--grace` seconds for the agent,
   then SIGTERM it (and SIGKILL after another grace period); then we SIGTERM the CSMS the same way and
   exit 0. SIGTERM to us is forwarded to the agent at once. When the agent exits on its own, the CSMS is
   stopped too and its exit status is ours.

Exit 1 when the CSMS port is already in use, the CSMS does not start, or the agent cannot be started;
2 when the site config cannot be read (or its protocol cannot be rewritten). `--agent-cmd` replaces the agent
command (tests use a stand-in; a `{config}` argument becomes the config the agent must run on).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shlex
import signal
import socket
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from devcsms.errors import DevCsmsError

CSMS_PREFIX = "csms | "
READY_MARKER = "listening on "
DEFAULT_GRACE_S = 5.0
CSMS_START_TIMEOUT_S = 15.0
PROTOCOLS = ("ocpp1.6", "ocpp2.0.1", "ocpp2.1")
DEFAULT_PROTOCOL = "ocpp1.6"  # what the agent speaks when [ocpp] protocol is absent

_TABLE_HEADER = re.compile(r"^\s*\[(?!\[)\s*([^\]]*?)\s*\]")
_PROTOCOL_KEY = re.compile(r"^\s*protocol\s*=")


class LaunchError(DevCsmsError):
    """Something the technician must fix before `make run` can work; the message says what."""

    def __init__(self, message: str, exit_status: int = 1) -> None:
        super().__init__(message)
        self.exit_status = exit_status


@dataclass(frozen=True)
class CsmsEndpoint:
    """Where the dev CSMS must listen, and the heartbeat interval its BootNotification answer hands out
    (the site's `[ocpp.defaults] HeartbeatInterval`, so the CSMS does not override the developer's choice)."""

    host: str
    port: int
    path: str
    heartbeat_interval_s: int | None = None


def csms_endpoint(config_path: Path) -> CsmsEndpoint:
    """Host, port and path of `[ocpp] csms_url` in the site config. Raises LaunchError (status 2)."""
    try:
        config = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise LaunchError(f"cannot read {config_path}: {error}", 2) from error
    url = config.get("ocpp", {}).get("csms_url")
    if not isinstance(url, str):
        raise LaunchError(f"{config_path}: ocpp.csms_url: missing", 2)
    parts = urlsplit(url)
    if parts.scheme != "ws":
        raise LaunchError(f"{config_path}: ocpp.csms_url: the development CSMS serves ws:// only, got {url!r}", 2)
    try:
        port = parts.port or 80
    except ValueError as error:
        raise LaunchError(f"{config_path}: ocpp.csms_url: {error}", 2) from error
    heartbeat_interval_s = config.get("ocpp", {}).get("defaults", {}).get("HeartbeatInterval")
    if not isinstance(heartbeat_interval_s, int) or isinstance(heartbeat_interval_s, bool) or heartbeat_interval_s < 0:
        heartbeat_interval_s = None  # the agent's check-config reports a bad value; the CSMS keeps its default
    return CsmsEndpoint(parts.hostname or "127.0.0.1", port, parts.path or "/", heartbeat_interval_s)


def normalized_protocol(text: str) -> str:
    """"2.0.1" or "ocpp2.0.1" → "ocpp2.0.1" (likewise "2.1", "1.6"). Raises ValueError for a version we do not speak."""
    protocol = text if text.startswith("ocpp") else f"ocpp{text}"
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown OCPP version {text!r} (1.6, 2.0.1 or 2.1)")
    return protocol


def with_protocol(text: str, protocol: str) -> str:
    """The site config `text` with `[ocpp] protocol = "<protocol>"` (replaced, or added after the header);
    every other line kept as written. Raises LaunchError (status 2) when there is no [ocpp] table or the
    result does not say `protocol` (e.g. a multi-line value: the developer edits it by hand)."""
    lines = text.splitlines(keepends=True)
    header_index: int | None = None
    protocol_line = f'protocol = "{protocol}"                 # written by devcsms.devrun (make run OCPP=...)\n'
    in_ocpp = replaced = False
    for index, line in enumerate(lines):
        header = _TABLE_HEADER.match(line)
        if header is not None:
            in_ocpp = header.group(1) == "ocpp"
            header_index = index if in_ocpp else header_index
        elif in_ocpp and _PROTOCOL_KEY.match(line):
            lines[index] = protocol_line
            replaced = True
            break
    if header_index is None:
        raise LaunchError("the site config has no [ocpp] table", 2)
    if not replaced:
        if not lines[header_index].endswith("\n"):
            lines[header_index] += "\n"
        lines.insert(header_index + 1, protocol_line)
    result = "".join(lines)
    try:
        written = tomllib.loads(result).get("ocpp", {}).get("protocol")
    except tomllib.TOMLDecodeError:
        written = None
    if written != protocol:
        raise LaunchError(f"cannot set [ocpp] protocol = {protocol!r} in the site config: write it there by hand", 2)
    return result


def site_config_for(config_path: Path, protocol: str | None) -> Path:
    """The config the agent must run on to speak `protocol` (None: the site config's own choice): the site
    config itself when it already says so, else the rewritten copy beside it. Raises LaunchError (2)."""
    if protocol is None:
        return config_path
    try:
        text = config_path.read_text(encoding="utf-8")
        current = tomllib.loads(text).get("ocpp", {}).get("protocol", DEFAULT_PROTOCOL)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise LaunchError(f"cannot read {config_path}: {error}", 2) from error
    if current == protocol:
        return config_path
    derived = config_path.with_name(f".{config_path.stem}.{protocol}.toml")
    header = f"# Written by devcsms.devrun from {config_path.name} for `make run OCPP=...`: edit that file instead.\n"
    try:
        derived.write_text(header + with_protocol(text, protocol), encoding="utf-8")
    except OSError as error:
        raise LaunchError(f"cannot write {derived}: {error}", 2) from error
    return derived


def port_in_use(endpoint: CsmsEndpoint) -> bool:
    """True when something already accepts TCP connections on the CSMS address."""
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=1.0):
            return True
    except OSError:
        return False


def default_agent_command(config_path: Path) -> list[str]:
    """`<venv>/bin/borne run --config FILE`, or `python -m firmware run --config FILE` without the script."""
    console_script = Path(sys.executable).parent / "borne"
    if console_script.exists():
        return [str(console_script), "run", "--config", str(config_path)]
    return [sys.executable, "-m", "firmware", "run", "--config", str(config_path)]


class Terminal:
    """Our stdout. The agent may put the shared terminal in raw mode (no CR added to LF), so lines end in
    CRLF when stdout is a terminal."""

    def __init__(self) -> None:
        self._line_end = "\r\n" if sys.stdout.isatty() else "\n"

    def say(self, line: str) -> None:
        sys.stdout.write(line + self._line_end)
        sys.stdout.flush()


async def _pump_csms_output(stream: asyncio.StreamReader, terminal: Terminal, ready: asyncio.Future[None]) -> None:
    """Copy the CSMS output line by line with the prefix; resolve `ready` at its "listening on" line."""
    while line := await stream.readline():
        text = line.decode("utf-8", errors="replace").rstrip("\r\n")
        terminal.say(CSMS_PREFIX + text)
        if READY_MARKER in text and not ready.done():
            ready.set_result(None)


async def _stop(process: asyncio.subprocess.Process, exited: asyncio.Task, first_signal: int | None, grace_s: float) -> None:
    """Make `process` exit: send `first_signal` (None: it already got one), wait `grace_s`, SIGTERM,
    wait `grace_s`, SIGKILL. Returns once it has exited."""
    escalation = [first_signal, signal.SIGTERM, signal.SIGKILL]
    if first_signal == signal.SIGTERM:
        escalation = [signal.SIGTERM, signal.SIGKILL]
    for signal_number in escalation:
        if exited.done():
            return
        if signal_number is not None:
            try:
                process.send_signal(signal_number)
            except ProcessLookupError:
                pass
        if signal_number == signal.SIGKILL:
            await exited
            return
        try:
            await asyncio.wait_for(asyncio.shield(exited), grace_s)
            return
        except TimeoutError:
            continue


def _only_launch_error(group: BaseExceptionGroup) -> LaunchError | None:
    """The LaunchError when it is the group's only leaf exception, else None."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        error = pending.pop()
        if isinstance(error, BaseExceptionGroup):
            pending.extend(error.exceptions)
        else:
            leaves.append(error)
    return leaves[0] if len(leaves) == 1 and isinstance(leaves[0], LaunchError) else None


class DevRun:
    """One `make run`: owns the two child processes and the tasks that watch them."""

    def __init__(
        self,
        config_path: Path,
        agent_command: list[str] | None,
        log_dir: Path,
        grace_s: float,
        protocol: str | None = None,
        csms_script: Path | None = None,
        offer_firmware: Path | None = None,
    ) -> None:
        self.offer_firmware = offer_firmware  # devcsms --offer-firmware (make run FIRMWARE=...)
        self.config_path = config_path
        self.protocol = protocol
        self.csms_script = csms_script
        self.agent_command = agent_command
        self.log_dir = log_dir
        self.grace_s = grace_s
        self.terminal = Terminal()
        self.signals: asyncio.Queue[int] = asyncio.Queue()

    async def run(self) -> int:
        """Start both, supervise, stop both; return our exit status. Raises LaunchError."""
        endpoint = csms_endpoint(self.config_path)
        agent_config = site_config_for(self.config_path, self.protocol)
        if agent_config != self.config_path:
            self.terminal.say(f"devrun: OCPP {(self.protocol or '').removeprefix('ocpp')}: the agent runs on {agent_config}")
        if self.agent_command is None:
            self.agent_command = default_agent_command(agent_config)
        else:
            self.agent_command = [str(agent_config) if part == "{config}" else part for part in self.agent_command]
        if port_in_use(endpoint):
            raise LaunchError(
                f"the CSMS port {endpoint.host}:{endpoint.port} (ocpp.csms_url in {self.config_path}) is already "
                f"in use: stop whatever listens there (another `make run`?) or change csms_url"
            )
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signal_number, self.signals.put_nowait, signal_number)
        csms_arguments = ["--host", endpoint.host, "--port", str(endpoint.port), "--path", endpoint.path]
        # Its stdin is a pipe we never write: should we be killed outright, it reads end of file and stops.
        csms_arguments.append("--stop-on-stdin-close")
        # GetLog / GetDiagnostics uploads land here (the CSMS prints how to ask for one).
        csms_arguments += ["--uploads", str(self.log_dir / "uploads")]
        if endpoint.heartbeat_interval_s is not None:
            csms_arguments += ["--heartbeat-interval", str(endpoint.heartbeat_interval_s)]
        if self.csms_script is not None:
            csms_arguments += ["--script", str(self.csms_script)]
        if self.offer_firmware is not None:
            # The root certificate goes beside the log, where dev/site.toml's
            # [firmware] manufacturer_roots looks for it.
            csms_arguments += ["--offer-firmware", str(self.offer_firmware),
                               "--firmware-roots", str(self.log_dir / "firmware-roots")]
        csms = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "devcsms", *csms_arguments,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            limit=1 << 20,  # bytes per output line
            process_group=0,  # Ctrl-C must not reach it: it outlives the agent to see it close cleanly
        )  # fmt: skip
        ready: asyncio.Future[None] = loop.create_future()
        try:
            async with asyncio.TaskGroup() as tasks:
                pump = tasks.create_task(_pump_csms_output(csms.stdout, self.terminal, ready))
                csms_exited = tasks.create_task(csms.wait())
                try:
                    return await self._supervise(tasks, ready, csms_exited)
                finally:
                    await _stop(csms, csms_exited, signal.SIGTERM, self.grace_s)
                    await pump
        except ExceptionGroup as group:
            # The TaskGroup wraps a LaunchError of `_supervise` (e.g. an agent command that cannot be
            # started): hand it on bare so `main` reports it in one line instead of a traceback.
            launch_error = _only_launch_error(group)
            if launch_error is None:
                raise
            raise launch_error from None

    async def _next_event(self, tasks: asyncio.TaskGroup, *watched: asyncio.Future) -> int | None:
        """Wait for a signal or for one of `watched` to finish; return the signal number, or None."""
        next_signal = tasks.create_task(self.signals.get())
        await asyncio.wait({next_signal, *watched}, return_when=asyncio.FIRST_COMPLETED)
        if next_signal.done():
            return next_signal.result()
        next_signal.cancel()
        return None

    async def _supervise(self, tasks: asyncio.TaskGroup, ready: asyncio.Future, csms_exited: asyncio.Task) -> int:
        try:
            async with asyncio.timeout(CSMS_START_TIMEOUT_S):
                if await self._next_event(tasks, ready, csms_exited) is not None:
                    return 0  # Ctrl-C while the CSMS was starting
        except TimeoutError:
            raise LaunchError(f"the CSMS printed no {READY_MARKER!r} line within {CSMS_START_TIMEOUT_S} s") from None
        if not ready.done():
            raise LaunchError(f"the CSMS exited with status {csms_exited.result()} before listening (see csms | lines)")

        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / "agent.log"
        self.terminal.say(f"devrun: agent stderr → {log_path}   (Ctrl-C stops the agent, then the CSMS)")
        with open(log_path, "ab") as log_file:
            try:
                agent = await asyncio.create_subprocess_exec(*self.agent_command, stderr=log_file)
            except OSError as error:
                raise LaunchError(f"cannot start the agent `{shlex.join(self.agent_command)}`: {error}") from error
        agent_exited = tasks.create_task(agent.wait())

        while True:
            watched = [agent_exited] if csms_exited.done() else [agent_exited, csms_exited]
            signal_number = await self._next_event(tasks, *watched)
            if signal_number is not None:
                self.terminal.say("devrun: stopping the agent, then the CSMS")
                # A terminal's SIGINT already reached the agent (our process group); a SIGTERM did not.
                first = None if signal_number == signal.SIGINT else signal.SIGTERM
                await _stop(agent, agent_exited, first, self.grace_s)
                return 0
            if agent_exited.done():
                status = agent_exited.result()
                self.terminal.say(f"devrun: the agent exited with status {status}; stopping the CSMS")
                return status if status >= 0 else 1
            self.terminal.say(
                f"devrun: the CSMS exited with status {csms_exited.result()}; the agent keeps running offline"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devcsms.devrun", description="Dev CSMS + agent (make run).")
    parser.add_argument("--config", required=True, type=Path, help="site config TOML (e.g. dev/site.toml)")
    parser.add_argument("--log-dir", type=Path, default=Path(".dev"), help="where agent.log goes (default .dev)")
    parser.add_argument("--grace", type=float, default=DEFAULT_GRACE_S, metavar="SECONDS",
                        help="how long a child may take to stop before it gets SIGTERM, then SIGKILL")  # fmt: skip
    parser.add_argument("--ocpp", metavar="VERSION", help="1.6, 2.0.1 or 2.1 (default: the site config's [ocpp] protocol)")
    parser.add_argument("--csms-script", type=Path, metavar="FILE",
                        help="operator script the CSMS runs once the agent's boot is accepted "
                        "(devcsms/operator.py; e.g. dev/smart-charging.csms)")
    parser.add_argument("--offer-firmware", type=Path, metavar="IMAGE",
                        help="devcsms serves IMAGE and sends the agent a signed update for it after its boot")
    parser.add_argument("--agent-cmd", help=argparse.SUPPRESS)  # tests: a stand-in for the agent, shell-quoted
    arguments = parser.parse_args(argv)
    agent_command = shlex.split(arguments.agent_cmd) if arguments.agent_cmd else None
    try:
        protocol = normalized_protocol(arguments.ocpp) if arguments.ocpp else None
    except ValueError as error:
        parser.error(str(error))
    try:
        devrun = DevRun(arguments.config, agent_command, arguments.log_dir, arguments.grace, protocol,
                        arguments.csms_script, arguments.offer_firmware)
        return asyncio.run(devrun.run())
    except LaunchError as error:
        print(f"devrun: {error}", file=sys.stderr, flush=True)
        return error.exit_status


if __name__ == "__main__":
    sys.exit(main())
