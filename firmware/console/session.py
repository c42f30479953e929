"""One console port's sessions: banner, login, prompt, commands, watch, paging, logout.

``ConsoleSession.run()`` serves a transport until its input ends (a pipe closed); a
tty's Ctrl-D or ``logout`` only ends the login, the port stays served. Obligations and
failure modes:

- Login (``login = "accounts"`` with accounts): user, then password (not echoed);
  wrong ones answer ``ERROR: login incorrect`` and lock the port for a growing delay
  (``accounts.Lockout``); the hash is checked off the event loop. Without accounts (or
  ``login = "none"``) the port is in as ``admin`` (the site config refuses that on a
  serial device unless said explicitly).
- Every login, failed login, logout and command goes to the audit trail with port and
  user; the value of ``config set`` is never recorded (keys may be secrets).
- A command runs as a task: Ctrl-C cancels it (and ``watch``); other keys typed
  meanwhile are kept and fed to the editor afterwards. Long replies are paged.
- No keystroke for ``idle_logout_s``: logged out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Callable, Protocol

from hal.tasks import cancel_and_wait

from . import editor as ed
from .accounts import Account, Lockout, hash_password, verify_password
from .audit import AuditLog
from .console import Console
from .transport import ConsoleTransport

log = logging.getLogger(__name__)


class LogSource(Protocol):
    def since(self, seen: int, level: str = "DEBUG") -> tuple[int, list[str]]: ...


WATCH_INTERVAL_S = 2.0
_DUMMY_HASH = hash_password("borne-no-such-user", iterations=200_000, salt=b"\0" * 16)
_MORE = "-- more: Space/Enter next page, q quit --"


class ConsoleSession:
    def __init__(self, console: Console, transport: ConsoleTransport, *, station_id: str,
                 accounts: dict[str, Account], audit: AuditLog | None, login: str = "accounts",
                 idle_logout_s: float = 900.0, page_lines: int = 24,
                 monotonic: Callable[[], float] = time.monotonic,
                 log_ring: LogSource | None = None) -> None:
        self.console = console
        self.transport = transport
        self.station_id = station_id
        self.accounts = accounts
        self.audit = audit
        self.login_required = login == "accounts" and bool(accounts)
        self.idle_logout_s = idle_logout_s
        self.interactive = transport.echo or _is_tty(transport)
        self.page_lines = page_lines if transport.echo else 0
        self.monotonic = monotonic
        self.port = transport.description
        self.log_ring = log_ring
        self.lockout = Lockout()
        self.user: str | None = None
        self.role = "viewer"
        self.editor = ed.Editor(self._complete, echo=transport.echo)
        self._pending = bytearray()
        self._actions: deque[ed.Action] = deque()
        self._closed = False
        # A serial line or pty: whoever plugs in later never saw the banner written at
        # start (nobody was listening), so the first keystroke brings it (issue 14).
        self._greet_on_input = transport.echo

    # ------------------------------------------------------------------ public
    async def run(self) -> None:
        self.transport.start()
        try:
            self._banner()
            while not self._closed:
                await self._session()
        finally:
            self.transport.stop()

    def notify(self, lines: list[str]) -> None:
        """Unsolicited event lines, above the prompt, keeping what is being typed (on a
        terminal only: a script on a pipe reads replies, never unsolicited lines)."""
        if self.user is not None and self.interactive:
            self.transport.write_bytes(self.editor.print_above(lines))

    # ------------------------------------------------------------------ the loop
    def _greeting(self) -> None:
        self.transport.write_lines([f"Borne console on {self.station_id} ({self.port}). "
                                    + ("Log in." if self.login_required else "Type help.")])

    def _banner(self) -> None:
        self._greeting()
        if not self.login_required:
            self._logged_in("admin", "admin", "no-login")
        self._set_prompt()
        self._prompt()

    async def _session(self) -> None:
        awaiting_password: str | None = None
        while not self._closed:
            action = await self._next_action()
            if action is None:
                return
            if isinstance(action, ed.LoggedOut):
                if self.user is not None:
                    self._logout("logged out (Ctrl-D)")
                self._prompt()
                continue
            if isinstance(action, ed.Cancelled):
                awaiting_password = None
                self.editor.secret = False
                self._set_prompt()
            elif isinstance(action, ed.Overflow):
                self.transport.write_lines(["ERROR: line too long"])
            elif isinstance(action, ed.Line):
                if self.user is None and awaiting_password is None:
                    if action.text.strip():
                        awaiting_password = action.text.strip()
                        self.editor.secret = True
                        self.editor.prompt = "password: "
                elif self.user is None:
                    await self._check_login(awaiting_password or "", action.text)
                    awaiting_password = None
                    self.editor.secret = False
                    self._set_prompt()
                else:
                    await self._command(action.text.strip())
            self._prompt()

    async def _next_action(self) -> ed.Action | None:
        """The next non-output action from the editor, reading bytes as needed."""
        while True:
            while self._actions:
                action = self._actions.popleft()
                if isinstance(action, ed.Output):
                    self.transport.write_bytes(action.data)
                else:
                    return action
            if self._pending:
                data = bytes(self._pending)
                self._pending.clear()
            else:
                timeout = self.idle_logout_s if self.user is not None and self.login_required \
                    else None
                try:
                    # asyncio.timeout, not wait_for: 3.11's wait_for returns the data and
                    # drops our cancellation when both arrive in the same loop turn
                    async with asyncio.timeout(timeout):
                        chunk = await self.transport.read_bytes()
                except TimeoutError:
                    self._logout(f"idle for {self.idle_logout_s:.0f} s: logged out")
                    self._prompt()
                    continue
                if chunk is None:
                    if self.transport.echo or not _is_tty(self.transport):
                        self._closed = True
                        return None
                    # stdio on a terminal: Ctrl-D ends this login, the agent runs on
                    self.transport.resume_reading()
                    chunk = b"\x04"
                if self._greet_on_input:
                    self._greet_on_input = False
                    self._greeting()
                    self._prompt()
                    if chunk.strip(b"\r\n") == b"":
                        continue  # the Enter that woke the console: already answered
                data = chunk
            self._actions.extend(self.editor.feed(data))

    # ------------------------------------------------------------------ login
    async def _check_login(self, user: str, password: str) -> None:
        wait_s = self.lockout.wait_s(self.monotonic())
        if wait_s > 0:
            self._audit(user, "login-refused", f"locked for {wait_s:.0f} s")
            self.transport.write_lines([f"ERROR: too many failed logins; try again in "
                                        f"{wait_s:.0f} s"])
            return
        account = self.accounts.get(user)
        stored = account.password_hash if account else _DUMMY_HASH
        ok = await asyncio.to_thread(verify_password, password, stored)
        if ok and account is not None:
            self.lockout.succeeded()
            self._logged_in(account.name, account.role, "login")
            self.transport.write_lines([f"logged in as {account.name} ({account.role}). "
                                        "Type help."])
            return
        delay = self.lockout.failed(self.monotonic())
        self._audit(user, "login-failed", f"failure {self.lockout.failures}")
        log.warning("console %s: failed login for %r (%d in a row)", self.port, user,
                    self.lockout.failures)
        self.transport.write_lines([f"ERROR: login incorrect (next attempt in {delay:.0f} s)"])

    def _logged_in(self, user: str, role: str, how: str) -> None:
        self.user, self.role = user, role
        self._audit(user, "login", how)

    def _logout(self, message: str) -> None:
        if self.user is not None:
            self._audit(self.user, "logout", message)
        self.transport.write_bytes(b"\r" + message.encode() + self.transport.newline)
        if self.login_required:
            self.user = None
            self.role = "viewer"
            self.editor.history.clear()
            self._greet_on_input = self.transport.echo  # the next person gets the banner
        self._set_prompt()

    def _prompt(self) -> None:
        # A script on a pipe (stdio, not a terminal) reads reply lines only: no prompt.
        if self.interactive:
            self.transport.write_bytes(self.editor.show_prompt())

    def _set_prompt(self) -> None:
        if self.user is None:
            self.editor.prompt = "login: "
        else:
            mark = "#" if self.role == "admin" else ">"
            self.editor.prompt = f"{self.station_id} {self.user}{mark} "

    # ------------------------------------------------------------------ commands
    async def _command(self, line: str) -> None:
        if not line:
            return
        words = line.split()
        verb = words[0].lower()
        if verb == "logout" and len(words) == 1:
            self._logout("logged out")
            return
        if verb == "whoami" and len(words) == 1:
            self._audit(self.user or "-", "command", line)
            self.transport.write_lines([f"{self.user} ({self.role}) on {self.port}", "OK"])
            return
        self._audit(self.user or "-", "command", redact(line))
        if [w.lower() for w in words[:2]] == ["log", "follow"] and self.log_ring is not None:
            await self._follow(words[2:])
            return
        if verb == "watch":
            await self._watch(" ".join(words[1:]))
            return
        reply = await self._cancellable(self.console.execute(line, self.role))
        if reply is None:
            self.transport.write_lines(["ERROR: cancelled"])
            return
        if reply and reply[-1].startswith("ERROR: ") and "needs role" in reply[-1]:
            self._audit(self.user or "-", "refused", redact(line))
        await self._page(reply)

    async def _watch(self, line: str) -> None:
        if not line:
            self.transport.write_lines(["ERROR: usage: watch CMD (Ctrl-C stops)"])
            return

        async def loop() -> None:
            while True:
                reply = await self.console.execute(line, self.role)
                self.transport.write_lines([f"--- {line} (Ctrl-C stops)"] + reply)
                if reply and reply[-1].startswith("ERROR: "):
                    return
                await asyncio.sleep(WATCH_INTERVAL_S)

        if await self._cancellable(loop()) is None:
            self.transport.write_lines(["OK"])

    async def _follow(self, args: list[str]) -> None:
        level = args[0].upper() if args else "INFO"
        if len(args) > 1 or level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            self.transport.write_lines(["ERROR: usage: log follow [LEVEL]"])
            return
        ring = self.log_ring
        assert ring is not None

        async def loop() -> None:
            seen, _ = ring.since(0, level)
            self.transport.write_lines([f"--- following the log at {level} (Ctrl-C stops)"])
            while True:
                await asyncio.sleep(0.25)
                seen, lines = ring.since(seen, level)
                if lines:
                    self.transport.write_lines(lines)

        await self._cancellable(loop())
        self.transport.write_lines(["OK"])

    async def _cancellable(self, work):  # type: ignore[no-untyped-def]
        """Run ``work``; None if Ctrl-C cancelled it. Other keys wait in ``_pending``."""
        task = asyncio.ensure_future(work)
        reader = asyncio.ensure_future(self.transport.read_bytes())
        try:
            while True:
                done, _ = await asyncio.wait({task, reader},
                                             return_when=asyncio.FIRST_COMPLETED)
                if task in done:
                    if reader in done:  # typed ahead as the command ended: keep it
                        self._pending += reader.result() or b""
                    return task.result()
                data = reader.result()
                if data is None:
                    self.transport.resume_reading()
                    data = b""
                if b"\x03" in data:
                    await cancel_and_wait(task)
                    self._pending += data.split(b"\x03", 1)[1]
                    return None
                self._pending += data
                reader = asyncio.ensure_future(self.transport.read_bytes())
        finally:
            if not reader.done():
                reader.cancel()
            if not task.done():
                task.cancel()

    async def _page(self, lines: list[str]) -> None:
        size = self.page_lines
        while size and len(lines) > size + 1:
            self.transport.write_lines(lines[:size])
            lines = lines[size:]
            self.transport.write_bytes(_MORE.encode())
            key = await self._key()
            self.transport.write_bytes(b"\r" + b" " * len(_MORE) + b"\r")
            if key in (b"q", b"Q", b"\x03", None):
                self.transport.write_lines([f"({len(lines) - 1} more lines not shown)",
                                            lines[-1]])
                return
        self.transport.write_lines(lines)

    async def _key(self) -> bytes | None:
        if self._pending:
            key = bytes(self._pending[:1])
            del self._pending[:1]
            return key
        data = await self.transport.read_bytes()
        if data:
            self._pending += data[1:]
            return data[:1]
        return None

    # ------------------------------------------------------------------ helpers
    def _complete(self, text: str) -> list[str]:
        if self.user is None:
            return []
        return self.console.complete(text, self.role) + \
            (["logout", "whoami", "watch"] if " " not in text else [])

    def _audit(self, user: str, kind: str, detail: str) -> None:
        if self.audit is None:
            return
        try:
            self.audit.record(self.port, user, kind, detail)
        except Exception:  # the console must keep working on a full disk
            log.exception("console audit write failed")


def redact(line: str) -> str:
    """A command line fit for the audit trail: a ``config set`` value is hidden."""
    words = line.split()
    if len(words) >= 3 and [w.lower() for w in words[:2]] == ["config", "set"]:
        return " ".join(words[:3]) + " ***"
    return line


def _is_tty(transport: ConsoleTransport) -> bool:
    import os

    try:
        return os.isatty(transport.read_fd)
    except OSError:
        return False
