"""The agent's one SQLite database: connection, durability settings, migrations.

- WAL journal, ``synchronous=FULL``: a commit is on disk before ``commit()`` returns,
  which is what "persist, then send" needs (an outbox row must survive a power cut the
  instant after the frame left).
- Versioned migrations in ``MIGRATIONS`` (index = version); ``PRAGMA user_version``
  records the version. Migrations only ever add: a database written by any earlier
  release opens with a later one without a wipe. A database from a *newer* release is
  refused (``StoreError``) rather than guessed at.
- ``atomic()`` groups writes into one transaction (the runtime commits every effect
  list of one event at once, so a transaction row and its outbox message cannot
  disagree after a crash).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from pathlib import Path
from typing import Iterator

from firmware.errors import StoreError

log = logging.getLogger(__name__)

DB_FILENAME = "borne.db"


MIGRATIONS: list[str] = [
    "",  # version 0: empty database
    # version 1: configuration, availability, transactions, the durable outbox
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE config_keys (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE availability (connector_id INTEGER PRIMARY KEY, operative INTEGER NOT NULL);
    CREATE TABLE transactions (
        local_tx_id INTEGER PRIMARY KEY,
        connector_id INTEGER NOT NULL,
        id_tag TEXT NOT NULL,
        parent_id_tag TEXT,
        meter_start_wh INTEGER NOT NULL,
        started_at_s REAL NOT NULL,
        transaction_id INTEGER,
        last_meter_wh INTEGER,
        last_meter_at_s REAL,
        suspended_by_evse INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        action TEXT NOT NULL,
        local_tx_id INTEGER,
        payload TEXT NOT NULL,
        created_at_s REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at_s REAL NOT NULL DEFAULT 0
    );
    CREATE TABLE tx_ids (local_tx_id INTEGER PRIMARY KEY, transaction_id INTEGER NOT NULL);
    """,
    # version 2: a transaction's queued messages are found without scanning the queue
    # (delivering a StopTransaction, dropping the messages of a dropped start); a
    # backlog of 100,000 messages made each of those a full scan.
    """
    CREATE INDEX outbox_by_local_tx ON outbox(local_tx_id);
    """,
    # version 3: a running transaction's StopTxn*Data samples, so a PowerLoss stop after
    # a crash carries the transactionData recorded before it (issue #8 item 14).
    """
    ALTER TABLE transactions ADD COLUMN stop_data TEXT NOT NULL DEFAULT '[]';
    """,
    # version 4: the console's audit trail (issue #14 item 2), bounded by its writer
    # (firmware.console.audit), surviving restarts with the rest of the station's state.
    """
    CREATE TABLE IF NOT EXISTS console_audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at_s REAL NOT NULL,
        port TEXT NOT NULL,
        user TEXT NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL);
    """,
    # version 5 (issue #9 item 2): every queued message names the OCPP version it is
    # written in (rows queued before are 1.6), so a site switched between versions never
    # replays one in the wrong protocol; and a 2.0.1 transaction's station-chosen
    # transactionId, EVSE and next seqNo, written in the same commit as the message
    # that used the previous seqNo (so a restart continues the sequence, gap-free).
    """
    ALTER TABLE outbox ADD COLUMN protocol TEXT NOT NULL DEFAULT 'ocpp1.6';
    CREATE TABLE ocpp201_transactions (
        local_tx_id INTEGER PRIMARY KEY,
        transaction_id TEXT NOT NULL UNIQUE,
        evse_id INTEGER NOT NULL,
        next_seq_no INTEGER NOT NULL,
        remote_start_id INTEGER);
    """,
    # version 6 (issue #12): ad-hoc card payments, one row per payment, written in the
    # same commit as the effects of every step (firmware.core.payment), so the next
    # start finishes or reverses a reservation exactly once. IF NOT EXISTS: harmless if
    # a parallel branch's migration took this version number first.
    """
    CREATE TABLE IF NOT EXISTS payments (
        payment_id INTEGER PRIMARY KEY,
        state TEXT NOT NULL,
        record TEXT NOT NULL,
        updated_at_s REAL NOT NULL);
    CREATE INDEX IF NOT EXISTS payments_by_state ON payments(state);
    """,
    # version 7 (issue #11 item 3): the security log, every security event critical or
    # not (whitepaper A04.FR.04, N01.FR.05), circular: its writer keeps the newest rows
    # (firmware.store.security_log).
    """
    CREATE TABLE IF NOT EXISTS security_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at_s REAL NOT NULL,
        kind TEXT NOT NULL,
        critical INTEGER NOT NULL,
        tech_info TEXT);
    """,
]

def open_database(state_dir: str | Path) -> sqlite3.Connection:
    """Open (creating if needed) and migrate ``state_dir/borne.db``.

    Raises ``StoreError`` with the path and the reason when the directory cannot be
    created, the file is not a database, or it was written by a newer release.
    """
    directory = Path(state_dir)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StoreError(f"cannot create state_dir {directory}: {e.strerror}") from e
    path = directory / DB_FILENAME
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        migrate(conn)
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{path}: {e}") from e
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to the latest version; returns the version."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    latest = len(MIGRATIONS) - 1
    if version > latest:
        raise StoreError(f"database schema version {version} is newer than this release "
                         f"understands ({latest}); refusing to touch it")
    for target in range(version + 1, latest + 1):
        log.info("migrating database schema to version %d", target)
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[target]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {target}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return latest


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


@contextlib.contextmanager
def atomic(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction; nested use joins the outer one."""
    if conn.in_transaction:
        yield conn
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
