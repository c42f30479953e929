"""The ``payments`` table (migration 6) and the CSMS-set tariff (``meta``).

A payment's record is stored whole as JSON (``PaymentRecord.as_dict``); its state is a
column too, so the next start loads only the unfinished ones. Finished payments are
kept for the console's history, the newest ``KEEP_FINISHED``.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from firmware.core.payment import FINAL, PaymentRecord

from .repositories import get_meta, set_meta

KEEP_FINISHED = 1000
TARIFF_KEY = "payment_tariff"


def save_payment(conn: sqlite3.Connection, record: PaymentRecord, now: float) -> None:
    conn.execute("INSERT OR REPLACE INTO payments (payment_id, state, record, updated_at_s) "
                 "VALUES (?, ?, ?, ?)", (record.payment_id, record.state,
                                         json.dumps(record.as_dict()), now))
    if record.state in FINAL:
        conn.execute(f"DELETE FROM payments WHERE state IN ({','.join('?' * len(FINAL))}) "
                     "AND payment_id <= (SELECT MAX(payment_id) FROM payments) - ?",
                     (*FINAL, KEEP_FINISHED))


def _record(text: str) -> PaymentRecord:
    return PaymentRecord.from_dict(json.loads(text))


def payments(conn: sqlite3.Connection, *, unfinished_only: bool = False) -> list[PaymentRecord]:
    """Every stored payment (oldest first), or only the unfinished ones."""
    if unfinished_only:
        rows = conn.execute(
            f"SELECT record FROM payments WHERE state NOT IN ({','.join('?' * len(FINAL))}) "
            "ORDER BY payment_id", FINAL).fetchall()
    else:
        rows = conn.execute("SELECT record FROM payments ORDER BY payment_id").fetchall()
    return [_record(text) for (text,) in rows]


def payment(conn: sqlite3.Connection, payment_id: int) -> PaymentRecord | None:
    """The stored payment ``payment_id``, None when there is none (also for an id no
    SQLite integer can hold)."""
    if not -2**63 <= payment_id < 2**63:
        return None
    row = conn.execute("SELECT record FROM payments WHERE payment_id = ?",
                       (payment_id,)).fetchone()
    return None if row is None else _record(row[0])


def last_payment_id(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COALESCE(MAX(payment_id), 0) FROM payments").fetchone()[0])


def save_tariff(conn: sqlite3.Connection, tariff: dict[str, Any]) -> None:
    set_meta(conn, TARIFF_KEY, json.dumps(tariff))


def tariff(conn: sqlite3.Connection) -> dict[str, Any] | None:
    text = get_meta(conn, TARIFF_KEY)
    return None if text is None else dict(json.loads(text))
