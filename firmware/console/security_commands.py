"""``security log [N]``: the station's security log (whitepaper A04.FR.04), newest last.

Read from the database (``firmware.store.security_log``) on the agent's connection, on
the loop (the connection is not shared across threads; the read is bounded by the
log's 2,000 rows, an indexed range scan). Each line: time, the event (``*`` = critical,
queued with guaranteed delivery), its techInfo.
"""

from __future__ import annotations

import sqlite3

from firmware.store import security_log

from .console import Console, need_args, parse_int, stamp


def format_entry(entry: security_log.SecurityLogEntry) -> str:
    mark = "*" if entry.critical else " "
    return f"{stamp(entry.at_s)} {mark} {entry.kind} {entry.tech_info or ''}".rstrip()


def install_security_commands(console: Console, conn: sqlite3.Connection) -> None:
    async def security_log_(args: list[str]) -> list[str]:
        need_args(args, 0, 1, "security log [N]")
        count = parse_int(args[0], "N", 1) if args else 20
        entries = security_log.entries(conn, newest=min(count, security_log.SECURITY_LOG_MAX_ROWS))
        if not entries:
            return ["security log is empty"]
        return [format_entry(e) for e in entries]

    console.register("security log [N]", "the last N security events (default 20; * = "
                     "critical, delivered to the CSMS even after an outage)", security_log_,
                     role="technician")



