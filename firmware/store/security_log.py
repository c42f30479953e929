"""The security log: every security event, critical or not, in the station's database
(whitepaper A04.FR.04 "rolling recommended", N01.FR.05).

Circular: ``append`` keeps the newest ``SECURITY_LOG_MAX_ROWS`` rows and drops the
oldest in the same transaction, so the log never grows past its bound however long the
station runs. Written by the runtime in the commit of the event that produced the
``SendSecurityEvent`` effect, so the log and the durable outbox never disagree after a
crash. ``tech_info`` is operator text the reporting part promises is free of secrets.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

SECURITY_LOG_MAX_ROWS = 2000


@dataclass(frozen=True)
class SecurityLogEntry:
    seq: int
    at_s: float  # UTC epoch s of the event
    kind: str
    critical: bool
    tech_info: str | None


def append(conn: sqlite3.Connection, at_s: float, kind: str, critical: bool,
           tech_info: str | None, max_rows: int = SECURITY_LOG_MAX_ROWS) -> None:
    """Add one entry and drop what falls off the end; the caller holds ``atomic``."""
    cursor = conn.execute(
        "INSERT INTO security_log (at_s, kind, critical, tech_info) VALUES (?, ?, ?, ?)",
        (at_s, kind, int(critical), tech_info))
    newest = cursor.lastrowid or 0
    conn.execute("DELETE FROM security_log WHERE seq <= ?", (newest - max_rows,))


def entries(conn: sqlite3.Connection, *, newest: int | None = None,
            oldest_s: float | None = None, latest_s: float | None = None
            ) -> list[SecurityLogEntry]:
    """Entries oldest first: the last ``newest`` of them (None: all), only those with
    ``oldest_s <= at_s <= latest_s`` when given (GetLog's oldest/latestTimestamp)."""
    clauses, params = [], []
    if oldest_s is not None:
        clauses.append("at_s >= ?")
        params.append(oldest_s)
    if latest_s is not None:
        clauses.append("at_s <= ?")
        params.append(latest_s)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    limit = f"LIMIT {int(newest)}" if newest is not None else ""
    rows = conn.execute(f"SELECT seq, at_s, kind, critical, tech_info FROM security_log "
                        f"{where} ORDER BY seq DESC {limit}", params).fetchall()
    return [SecurityLogEntry(seq, at_s, kind, bool(critical), tech_info)
            for seq, at_s, kind, critical, tech_info in reversed(rows)]


def clear(conn: sqlite3.Connection) -> None:
    """Forget every entry (the caller reports SecurityLogWasCleared afterwards)."""
    conn.execute("DELETE FROM security_log")
