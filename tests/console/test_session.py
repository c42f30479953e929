"""Console sessions over a real pseudo-terminal: login, lockout, roles, ^C/^D, audit."""

from __future__ import annotations

import asyncio
import os
import random
import tomllib
import tty

import pytest

from firmware.config import load_site_config
from firmware.console.accounts import Account, hash_password
from firmware.console.audit import AuditLog
from firmware.console.console import Console
from firmware.console.passwd import set_account
from firmware.console.session import ConsoleSession
from firmware.console.transport import ConsoleTransport
from firmware.store.db import open_database

DEADLINE_S = 20.0  # for a broken session, not a measure of a slow one (the machine is loaded)


class Clock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


class Peer:
    """The technician's end of the pty."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        os.set_blocking(fd, False)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    async def send_all(self, data: bytes) -> None:
        """Write everything, waiting while the pty's buffer is full (a loaded machine
        moves pty data late) and reading what the console wrote meanwhile, so neither
        side's buffer stays full."""
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.fd, view):]
            except BlockingIOError:
                try:
                    self.buffer += os.read(self.fd, 4096)
                except BlockingIOError:
                    await asyncio.sleep(0.01)

    async def until(self, marker: bytes, timeout_s: float = DEADLINE_S) -> bytes:
        async with asyncio.timeout(timeout_s):
            while marker not in self.buffer:
                try:
                    self.buffer += os.read(self.fd, 4096)
                except BlockingIOError:
                    await asyncio.sleep(0.01)
        head, _, self.buffer = self.buffer.partition(marker)
        return head + marker


@pytest.fixture
async def station(tmp_path):
    conn = open_database(tmp_path / "state")
    console = Console()
    ran = []

    async def say(args):
        ran.append(args)
        return [" ".join(args)]

    async def slow(args):
        ran.append(["slow"])  # the test waits for this, not for a fixed time
        await asyncio.sleep(60)
        return []

    async def many(args):
        return [f"line {i}" for i in range(60)]

    console.register("say TEXT", "echo", say)
    console.register("slow", "sleeps", slow)
    console.register("many", "long listing", many)
    console.register("reset hard", "admin only", say, role="admin")
    peer_fd, agent_fd = os.openpty()
    tty.setraw(peer_fd)
    tty.setraw(agent_fd)
    transport = ConsoleTransport(agent_fd, agent_fd, echo=True, newline=b"\r\n",
                                 description="pty-test")
    clock = Clock()
    accounts = {"ann": Account("ann", "viewer", hash_password("goodpass", iterations=1000))}
    session = ConsoleSession(console, transport, station_id="CP-9", accounts=accounts,
                             audit=AuditLog(conn), idle_logout_s=30, page_lines=20,
                             monotonic=clock)
    task = asyncio.create_task(session.run())
    peer = Peer(peer_fd)
    yield peer, session, clock, ran, conn
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    os.close(peer_fd)
    os.close(agent_fd)
    conn.close()


async def login(peer, user=b"ann", password=b"goodpass"):
    peer.send(user + b"\r")
    await peer.until(b"password: ")
    peer.send(password + b"\r")


async def test_banner_login_prompt_and_password_not_echoed(station):
    peer, session, clock, ran, conn = station
    assert b"CP-9" in await peer.until(b"Log in.\r\nlogin: ")
    await login(peer)
    out = await peer.until(b"CP-9 ann> ")
    assert b"goodpass" not in out and b"logged in as ann (viewer)" in out
    peer.send(b"whoami\r")
    assert b"ann (viewer) on pty-test" in await peer.until(b"OK\r\n")


async def test_wrong_password_locks_for_a_growing_delay(station):
    peer, session, clock, ran, conn = station
    await peer.until(b"login: ")
    await login(peer, password=b"wrong")
    assert b"next attempt in 1 s" in await peer.until(b"login: ")
    await login(peer, password=b"goodpass")  # within the delay: not even checked
    assert b"try again in 1 s" in await peer.until(b"login: ")
    clock.now_s += 1.5
    await login(peer, b"nobody", b"whatever")
    assert b"next attempt in 2 s" in await peer.until(b"login: ")
    clock.now_s += 2.5
    await login(peer)
    await peer.until(b"CP-9 ann> ")
    kinds = [e.kind for e in AuditLog(conn).recent(10)]
    assert kinds == ["login-failed", "login-refused", "login-failed", "login"]


async def test_roles_ctrl_c_discards_ctrl_d_logs_out(station):
    peer, session, clock, ran, conn = station
    await peer.until(b"login: ")
    await login(peer)
    await peer.until(b"ann> ")
    peer.send(b"reset hard\r")
    assert b"ERROR: reset hard needs role admin (you are viewer)" in await peer.until(b"ann> ")
    peer.send(b"say garbage\x03say k\x1b[Do\r")
    out = await peer.until(b"OK\r\n")
    assert ran == [["ok"]] and b"\x1b" not in out
    await peer.until(b"ann> ")
    peer.send(b"slow\r")
    async with asyncio.timeout(DEADLINE_S):  # Ctrl-C must reach a running command
        while ["slow"] not in ran:
            await asyncio.sleep(0.01)
    peer.send(b"\x03")
    assert b"ERROR: cancelled" in await peer.until(b"ann> ")
    peer.send(b"\x04")
    assert b"logged out (Ctrl-D)" in await peer.until(b"login: ")
    audit = [(e.kind, e.detail) for e in AuditLog(conn).recent(10)]
    assert ("refused", "reset hard") in audit and audit[-1][0] == "logout"


async def test_long_replies_are_paged(station):
    peer, session, clock, ran, conn = station
    await peer.until(b"login: ")
    await login(peer)
    await peer.until(b"ann> ")
    peer.send(b"many\r")
    first = await peer.until(b"-- more")
    assert b"line 19" in first and b"line 20" not in first
    peer.send(b"q")
    assert b"more lines not shown" in await peer.until(b"OK\r\n")


async def test_event_lines_keep_the_typed_line(station):
    peer, session, clock, ran, conn = station
    await peer.until(b"login: ")
    await login(peer)
    await peer.until(b"ann> ")
    peer.send(b"say hal")
    await peer.until(b"hal")
    session.notify(["* card 04**** REFUSED on connector 1: Blocked"])
    assert b"ann> say hal" in await peer.until(b"ann> say hal")
    peer.send(b"f\r")
    assert b"hal" in await peer.until(b"OK\r\n") and ran == [["half"]]


async def test_audit_survives_a_restart_and_is_bounded(tmp_path):
    conn = open_database(tmp_path)
    audit = AuditLog(conn, max_rows=5)
    for i in range(12):
        audit.record("ttyS0", "ann", "command", f"say {i}")
    conn.close()
    conn = open_database(tmp_path)
    assert [e.detail for e in AuditLog(conn).recent(100)] == [f"say {i}" for i in range(7, 12)]
    conn.close()


async def test_fuzz_the_parser_with_random_lines_never_a_traceback():
    console = Console()

    async def ok(args):
        return []

    console.register("config get [KEY]", "x", ok)
    console.register("config set KEY VALUE", "x", ok, role="technician")
    console.register("help [CMD]", "x", lambda a: _help(console, a), words=1)
    rng = random.Random(14)
    for _ in range(500):
        line = "".join(rng.choice('cofig set help "\'\\ x\x00\ufffd') for _ in range(
            rng.randint(0, 30)))
        reply = await console.execute(line, rng.choice(["viewer", "technician", "admin"]))
        assert reply == [] or reply[-1] == "OK" or reply[-1].startswith("ERROR: ")
        assert not any("internal error" in r for r in reply)


async def _help(console, args):
    return console.help_lines(args)


async def test_help_cmd_and_a_bare_group_give_usage():
    console = Console()

    async def ok(args):
        return []

    console.register("config get [KEY]", "show keys", ok)
    console.register("config set KEY VALUE", "change a key", ok, role="technician")
    assert console.help_lines(["config", "set"]) == ["config set KEY VALUE  change a key",
                                                      "(needs role technician)"]
    assert await console.execute("config") == [
        "ERROR: usage: config get [KEY] | config set KEY VALUE"]
    assert console.complete("con") == ["config"] and console.complete("config s") == ["set"]


def test_borne_passwd_writes_a_hash_that_the_config_accepts(tmp_path):
    site = tmp_path / "site.toml"
    site.write_text('[console]\ndevice = "/dev/null"\n')
    set_account(site, "ann", "admin", "long enough")
    set_account(site, "ann", "viewer", "changed it")  # replaces, never duplicates
    data = tomllib.loads(site.read_text())
    assert list(data["console"]["accounts"]) == ["ann"]
    assert data["console"]["accounts"]["ann"]["role"] == "viewer"
    assert "changed it" not in site.read_text()
    with pytest.raises(ValueError):
        set_account(site, "bad name!", "admin", "long enough")


def site_with_console(tmp_path, console_lines: str):
    site = tmp_path / "site.toml"
    site.write_text('[station]\nid = "CP-1"\n[ocpp]\ncsms_url = "ws://127.0.0.1:1/x"\n'
                    '[board]\nconfig = "b.toml"\n[storage]\nstate_dir = "s"\n[console]\n'
                    + console_lines)
    return site


def test_a_serial_console_without_accounts_is_refused_unless_login_none(tmp_path):
    from firmware.errors import ConfigError

    with pytest.raises(ConfigError, match="needs accounts"):
        load_site_config(site_with_console(tmp_path, 'device = "/dev/null"\n'),
                         with_board=False)
    site = load_site_config(site_with_console(
        tmp_path, 'device = "/dev/null"\nlogin = "none"\n'), with_board=False)
    assert site.console["group"] == "dialout" and site.console["mode"] == "0660"
    with pytest.raises(ConfigError, match="password_hash"):
        load_site_config(site_with_console(
            tmp_path, 'device = "/dev/null"\n[console.accounts.ann]\nrole = "admin"\n'
            'password_hash = "plain"\n'), with_board=False)
    with pytest.raises(ConfigError, match="octal"):
        load_site_config(site_with_console(tmp_path, 'mode = "rw"\n'), with_board=False)


async def test_the_first_keystroke_brings_the_banner_again_and_after_a_logout(station):
    """Issue 14: whoever plugs into the serial line after start-up never saw the banner;
    their first key (an Enter, which then runs nothing) shows it with a prompt, and so
    does the next person's after a logout."""
    peer, session, clock, ran, conn = station
    await peer.until(b"Log in.\r\nlogin: ")       # written at start, maybe to nobody
    peer.send(b"\r")
    woke = await peer.until(b"login: ")
    assert b"Borne console on CP-9 (pty-test). Log in." in woke
    await login(peer)
    await peer.until(b"ann> ")
    peer.send(b"logout\r")
    await peer.until(b"logged out")
    await peer.until(b"login: ")
    peer.send(b"\r")
    assert b"Borne console on CP-9 (pty-test). Log in." in await peer.until(b"login: ")
