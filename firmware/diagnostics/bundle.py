"""The diagnostics bundle and the security log file, one builder for every consumer
(the console's ``diag export``, GetDiagnostics, GetLog).

The diagnostics bundle: versions, status, connectors, link, queue, configuration
(``config get``: write-only keys such as AuthorizationKey are never read), authorization
stats, hardware, the site (CSMS URL without credentials, console accounts by name and
role, no hashes), the security log, and the recent log lines including OCPP frames at
DEBUG. The security log file: the security log's entries.

No secret leaves in a bundle: besides never reading them, the builder replaces every
current secret value (``secrets()``: AuthorizationKey, console password hashes) found
anywhere in the text with ``***``, so a secret that reached a log line by mistake is
cut too. ``oldest_s`` / ``latest_s`` (UTC epoch s, None = unbounded) keep the log lines
and security events of that window (GetLog oldest/latestTimestamp, GetDiagnostics
startTime/stopTime); the state sections describe now.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any, Callable, Protocol
from urllib.parse import urlparse, urlunparse

from firmware.store import security_log

LOG_LINES_MAX = 1000
SECURITY_ENTRIES_MAX = 200  # in the diagnostics bundle; the security log file has all

# Console commands whose replies make the bundle's state sections (viewer role).
STATE_COMMANDS = ("version", "status", "connectors", "net", "queue", "config get",
                  "auth stats", "hw")


class CommandRunner(Protocol):
    async def execute(self, line: str, role: str = ...) -> list[str]: ...


class LogLines(Protocol):
    def between(self, oldest_s: float | None, latest_s: float | None,
                count: int) -> list[str]: ...


def safe_url(url: str) -> str:
    """``url`` without user:password (Basic auth lives in the URL for some CSMSs)."""
    parts = urlparse(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunparse(parts._replace(netloc=host))


def stamp(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


def security_lines(conn: sqlite3.Connection, oldest_s: float | None,
                   latest_s: float | None, newest: int | None = None) -> list[str]:
    return [f"{stamp(e.at_s)} {'*' if e.critical else ' '} {e.kind} {e.tech_info or ''}".rstrip()
            for e in security_log.entries(conn, newest=newest, oldest_s=oldest_s,
                                          latest_s=latest_s)]


class BundleBuilder:
    def __init__(self, commands: CommandRunner, site: Any, conn: sqlite3.Connection,
                 ring: LogLines, secrets: Callable[[], list[str]]) -> None:
        self._commands = commands
        self._site = site
        self._conn = conn
        self._ring = ring
        self._secrets = secrets

    async def diagnostics(self, oldest_s: float | None = None,
                          latest_s: float | None = None) -> str:
        sections: list[tuple[str, list[str]]] = []
        for name in STATE_COMMANDS:
            sections.append((name, await self._commands.execute(name, "viewer")))
        accounts = self._site.console.get("accounts", {})
        sections.append(("site", [
            f"station {self._site.station['id']}",
            f"csms {safe_url(self._site.ocpp['csms_url'])}",
            f"console {self._site.console['device']}, login {self._site.console['login']}, "
            "accounts " + (", ".join(f"{n} ({a['role']})" for n, a in accounts.items())
                           or "none")]))
        sections.append((f"security log (last {SECURITY_ENTRIES_MAX})",
                         security_lines(self._conn, oldest_s, latest_s, SECURITY_ENTRIES_MAX)))
        sections.append((f"log (last {LOG_LINES_MAX} lines, OCPP frames at DEBUG)",
                         self._ring.between(oldest_s, latest_s, LOG_LINES_MAX)))
        return self._scrub("".join(f"== {title}\n" + "".join(f"{line}\n" for line in body)
                                   + "\n" for title, body in sections))

    def security(self, oldest_s: float | None = None, latest_s: float | None = None) -> str:
        lines = security_lines(self._conn, oldest_s, latest_s)
        return self._scrub("".join(f"{line}\n" for line in lines))

    def _scrub(self, text: str) -> str:
        for secret in self._secrets():
            if len(secret) >= 4:  # never blank out "" or a one-character value
                text = text.replace(secret, "***")
        return text
