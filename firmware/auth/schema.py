"""The authorization store's tables in the agent's SQLite database (prefix ``auth_``).

``migrate(conn)`` creates or upgrades them idempotently and records the version in
``auth_schema`` (the store's own ``PRAGMA user_version`` belongs to firmware.store);
``AuthorizationStore`` runs it when it opens the database. A database whose
auth schema is newer than this release is refused (``AuthSchemaError``), never guessed.

Tables:

- ``auth_state``: one row: list_version (as the CSMS sent it), list_count,
  index_generation (which derived index file matches auth_list).
- ``auth_list``: the local authorization list, the source of truth. Tags and parents
  normalised (ASCII upper case); status as a code (index into STATUSES); expiry as
  whole epoch seconds (0/NULL = none), exactly as the index stores it.
- ``auth_list_delta``: changes applied since the index file was built (status NULL =
  removed); small, loaded into memory at open, emptied when the index is rebuilt.
- ``auth_cache``: the authorization cache, ``used_seq`` orders it for LRU eviction.
- Transient: ``auth_list_shadow`` (a Full update being written; dropped if found at
  open: it was never committed as the list) and ``auth_list_old_<n>`` (a replaced
  list being deleted in small chunks).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from firmware.errors import StoreError

SCHEMA_VERSION = 1

_V1 = [
    "CREATE TABLE IF NOT EXISTS auth_state (id INTEGER PRIMARY KEY CHECK (id = 1), "
    "list_version INTEGER NOT NULL, list_count INTEGER NOT NULL, "
    "index_generation INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO auth_state VALUES (1, 0, 0, 0)",
    "CREATE TABLE IF NOT EXISTS auth_list (id_tag TEXT PRIMARY KEY, status INTEGER NOT NULL, "
    "expiry_s INTEGER, parent_id_tag TEXT) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS auth_list_delta (id_tag TEXT PRIMARY KEY, status INTEGER, "
    "expiry_s INTEGER, parent_id_tag TEXT) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS auth_cache (id_tag TEXT PRIMARY KEY, status INTEGER NOT NULL, "
    "expiry_s REAL, parent_id_tag TEXT, used_seq INTEGER NOT NULL) WITHOUT ROWID",
]

LIST_COLUMNS = ("(id_tag TEXT PRIMARY KEY, status INTEGER NOT NULL, expiry_s INTEGER, "
                "parent_id_tag TEXT) WITHOUT ROWID")


@dataclass(frozen=True)
class ListState:
    """What ``auth_state`` says: the version as sent by the CSMS, the entry count and
    the generation of the index file that matches ``auth_list`` minus the delta."""

    version: int
    count: int
    generation: int


class AuthSchemaError(StoreError):
    """The auth tables cannot be created or were written by a newer release."""


def schema_version(conn: sqlite3.Connection) -> int:
    conn.execute("CREATE TABLE IF NOT EXISTS auth_schema "
                 "(id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)")
    row = conn.execute("SELECT version FROM auth_schema WHERE id = 1").fetchone()
    return 0 if row is None else int(row[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Create/upgrade the auth tables; idempotent; returns the schema version.

    Works in autocommit (isolation_level=None) and in the default sqlite3 mode; runs
    each step in its own transaction.
    """
    in_tx = conn.in_transaction
    if in_tx:
        raise AuthSchemaError("migrate(conn) must not run inside an open transaction")
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = schema_version(conn)
        if version > SCHEMA_VERSION:
            raise AuthSchemaError(f"auth schema version {version} is newer than this "
                                  f"release understands ({SCHEMA_VERSION})")
        if version < 1:
            for statement in _V1:
                conn.execute(statement)
            conn.execute("INSERT OR REPLACE INTO auth_schema VALUES (1, 1)")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return SCHEMA_VERSION


def table_exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (name,)).fetchone() is not None


def garbage_tables(conn: sqlite3.Connection) -> list[str]:
    """Replaced lists still being deleted, and a Full update's uncommitted shadow."""
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND "
                        "(name LIKE 'auth\\_list\\_old\\_%' ESCAPE '\\' "
                        "OR name = 'auth_list_shadow')").fetchall()
    return [r[0] for r in rows]


def read_state(conn: sqlite3.Connection) -> ListState:
    row = conn.execute("SELECT list_version, list_count, index_generation FROM auth_state "
                       "WHERE id = 1").fetchone()
    return ListState(int(row[0]), int(row[1]), int(row[2]))
