"""The console's audit trail in the agent's database: who did what, when, from where.

Table ``console_audit`` (schema version 4 in ``firmware.store.db.MIGRATIONS``): one row per login, failed login, logout and
command, with the wall-clock time (epoch s), the port, the user and the outcome. It is
bounded: beyond ``max_rows`` the oldest rows are deleted. Rows are written with the
agent's connection between events (never inside an open transaction of the core);
secrets never reach it (password lines are not commands, and ``detail`` of a
``config set`` of a write-only key is masked by the caller).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Callable

from firmware.store import db

MAX_ROWS = 10_000




@dataclass(frozen=True)
class AuditEntry:
    at_s: float
    port: str
    user: str
    kind: str  # login, login-failed, logout, command, refused
    detail: str


class AuditLog:
    def __init__(self, conn: sqlite3.Connection, max_rows: int = MAX_ROWS,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self._conn = conn
        self._max_rows = max_rows
        self._clock = wall_clock
        db.migrate(conn)

    def record(self, port: str, user: str, kind: str, detail: str = "") -> None:
        """Write one row (durable on return); oldest rows beyond the bound go."""
        with db.atomic(self._conn) as conn:
            cursor = conn.execute(
                "INSERT INTO console_audit (at_s, port, user, kind, detail) VALUES (?,?,?,?,?)",
                (self._clock(), port, user, kind, detail[:500]))
            conn.execute("DELETE FROM console_audit WHERE seq <= ?",
                         ((cursor.lastrowid or 0) - self._max_rows,))

    def recent(self, count: int) -> list[AuditEntry]:
        rows = self._conn.execute(
            "SELECT at_s, port, user, kind, detail FROM console_audit ORDER BY seq DESC "
            "LIMIT ?", (count,)).fetchall()
        return [AuditEntry(*row) for row in reversed(rows)]
