"""Writes to the local list, run only in the store's single worker thread.

Crash safety (SIGKILL or power loss at any instant):

- Full: entries go into ``auth_list_shadow`` in short transactions (the event loop and
  other writers of the database wait at most one chunk), the index file for the next
  generation is written and published (fsync, rename, fsync dir), and only then ONE
  transaction renames the old list away, renames the shadow to ``auth_list``, empties
  the delta and sets version, count and index generation. Before that commit the old
  list, version and index are untouched; after it the new ones are complete. Leftovers
  (shadow, index files of other generations, old lists) are cleaned at the next open.
- Differential: one transaction changes ``auth_list``, records the changes in
  ``auth_list_delta`` and sets version and count. The index file is not touched; the
  delta is the overlay until ``compact`` rebuilds the index (new generation, one
  transaction clears the delta and switches the generation).

``crash_hook(phase)`` is called at every step boundary (tests kill the process there).
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from firmware.errors import AuthError

from .index import expiry_to_u32, index_file_name, write_index
from .schema import LIST_COLUMNS, ListState, garbage_tables, read_state, table_exists

if TYPE_CHECKING:
    from firmware.core.authorization import AuthKeys

    from .validate import ParsedLocalList

log = logging.getLogger(__name__)

SHADOW_CHUNK_ROWS = 2_000  # ~5 ms of write lock per chunk
DELETE_CHUNK_ROWS = 5_000

Row = tuple[str, int, "int | None", "str | None"]  # tag, status code, expiry u32|None, parent


class ListTooLong(AuthError):
    """The update would make the list longer than LocalAuthListMaxLength."""

    def __init__(self, count: int):
        super().__init__(f"the list would hold {count} entries")
        self.count = count


def refuse_update(parsed: "ParsedLocalList", keys: "AuthKeys",
                  state: ListState) -> tuple[str, str] | None:
    """(status, reason) when a validated SendLocalList must not be applied, else None.

    [16] §5.15: NotSupported when LocalAuthListEnabled is false; Failed for more
    entries than SendLocalListMaxLength (or a Full beyond LocalAuthListMaxLength), a
    duplicate idTag, or a non-empty Full whose listVersion cannot be reported (0 means
    empty, -1 unsupported); VersionMismatch for a Differential not above the current
    version (0 when the list is empty).
    """
    n = len(parsed.entries)
    if not keys.local_auth_list_enabled:
        return "NotSupported", " (LocalAuthListEnabled is false)"
    if n > keys.send_local_list_max_length:
        return "Failed", (f" ({n} entries, SendLocalListMaxLength "
                           f"{keys.send_local_list_max_length})")
    if parsed.duplicate is not None:
        return "Failed", " (an idTag appears twice)"
    if parsed.full:
        if n > keys.local_auth_list_max_length:
            return "Failed", (f" ({n} entries, LocalAuthListMaxLength "
                               f"{keys.local_auth_list_max_length})")
        if n and parsed.list_version < 1:
            return "Failed", " (a non-empty list needs listVersion >= 1)"
        return None
    current = state.version if state.count > 0 else 0
    if parsed.list_version <= current:
        return "VersionMismatch", f" (current version {current})"
    return None


def stored_row(tag: str, status: int, expiry_s: float | None, parent: str | None) -> Row:
    expiry = expiry_to_u32(expiry_s)
    return tag, status, expiry or None, parent


class ListWriter:
    """Owns the worker thread's connection. Not thread-safe: one thread only."""

    def __init__(self, conn: sqlite3.Connection, index_dir: Path,
                 crash_hook: Callable[[str], None] | None = None):
        self.conn = conn
        self.index_dir = index_dir
        self.crash_hook = crash_hook

    def _phase(self, name: str) -> None:
        if self.crash_hook is not None:
            self.crash_hook(name)

    def state(self) -> ListState:
        return read_state(self.conn)

    # ----------------------------------------------------------------- Full
    def replace(self, rows: Iterable[Row], count: int, version: int,
                old: ListState) -> ListState:
        """Replace the whole list with ``count`` unique ``rows`` and ``version``."""
        c = self.conn
        c.execute("PRAGMA synchronous=NORMAL")  # the shadow is invisible until the swap
        try:
            c.execute("DROP TABLE IF EXISTS auth_list_shadow")  # empty: cleaned at open
            c.execute(f"CREATE TABLE auth_list_shadow {LIST_COLUMNS}")
            self._phase("shadow-created")
            batch: list[Row] = []
            insert = "INSERT INTO auth_list_shadow VALUES (?, ?, ?, ?)"
            for row in rows:
                batch.append(row)
                if len(batch) >= SHADOW_CHUNK_ROWS:
                    self._insert_chunk(insert, batch)
                    batch = []
            if batch:
                self._insert_chunk(insert, batch)
        finally:
            c.execute("PRAGMA synchronous=FULL")
        generation = old.generation + 1
        write_index(self.index_dir, generation, count, self._scan("auth_list_shadow"))
        self._phase("index-written")
        old_name = self._free_old_name()
        c.execute("BEGIN IMMEDIATE")
        try:
            c.execute(f"ALTER TABLE auth_list RENAME TO {old_name}")
            c.execute("ALTER TABLE auth_list_shadow RENAME TO auth_list")
            c.execute("DELETE FROM auth_list_delta")
            c.execute("UPDATE auth_state SET list_version = ?, list_count = ?, "
                      "index_generation = ? WHERE id = 1", (version, count, generation))
            self._phase("swap-before-commit")
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        self._phase("swap-committed")
        return ListState(version, count, generation)

    def _insert_chunk(self, sql: str, batch: list[Row]) -> None:
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            c.executemany(sql, batch)
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        self._phase("shadow-chunk")

    def _scan(self, table: str) -> Iterable[Row]:
        cur = self.conn.execute(f"SELECT id_tag, status, expiry_s, parent_id_tag FROM {table}")
        while True:
            rows = cur.fetchmany(4096)
            if not rows:
                return
            yield from rows

    def _free_old_name(self) -> str:
        taken = set(garbage_tables(self.conn))
        n = 1
        while f"auth_list_old_{n}" in taken:
            n += 1
        return f"auth_list_old_{n}"

    # --------------------------------------------------------- Differential
    def differential(self, upserts: list[Row], removals: list[str], version: int,
                     max_count: int, old: ListState) -> ListState:
        """Apply one Differential atomically (the caller checked the version).

        Raises ``ListTooLong`` (nothing applied) when the result would exceed
        ``max_count`` entries. Membership is read before the write transaction (this
        thread is the only writer of the list) so the write lock is held only for the
        writes themselves.
        """
        c = self.conn
        exists = c.execute
        count = old.count
        sql = "SELECT 1 FROM auth_list WHERE id_tag = ?"
        for tag in removals:
            if exists(sql, (tag,)).fetchone() is not None:
                count -= 1
        for row in upserts:
            if exists(sql, (row[0],)).fetchone() is None:
                count += 1
        if count > max_count:
            raise ListTooLong(count)
        c.execute("BEGIN IMMEDIATE")
        try:
            if removals:
                c.executemany("DELETE FROM auth_list WHERE id_tag = ?",
                              [(t,) for t in removals])
                c.executemany("INSERT OR REPLACE INTO auth_list_delta VALUES (?, NULL, NULL, "
                              "NULL)", [(t,) for t in removals])
            if upserts:
                c.executemany("INSERT OR REPLACE INTO auth_list VALUES (?, ?, ?, ?)", upserts)
                c.executemany("INSERT OR REPLACE INTO auth_list_delta VALUES (?, ?, ?, ?)",
                              upserts)
            c.execute("UPDATE auth_state SET list_version = ?, list_count = ? WHERE id = 1",
                      (version, count))
            self._phase("differential-before-commit")
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        self._phase("differential-committed")
        return ListState(version, count, old.generation)

    # ------------------------------------------------------------ compaction
    def compact(self, old: ListState) -> ListState:
        """Rebuild the index from ``auth_list`` and empty the delta (same content)."""
        generation = old.generation + 1
        count = self.conn.execute("SELECT COUNT(*) FROM auth_list").fetchone()[0]
        if count != old.count:
            log.warning("auth_list holds %d entries, auth_state says %d; using the table",
                        count, old.count)
        write_index(self.index_dir, generation, count, self._scan("auth_list"))
        self._phase("compact-index-written")
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            c.execute("DELETE FROM auth_list_delta")
            c.execute("UPDATE auth_state SET list_count = ?, index_generation = ? WHERE id = 1",
                      (count, generation))
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        self._phase("compact-committed")
        return ListState(old.version, count, generation)

    # --------------------------------------------------------------- cleanup
    def remove_stale_index_files(self, keep_generation: int) -> None:
        keep = index_file_name(keep_generation)
        for path in self.index_dir.glob("auth_list.*.idx*"):
            if path.name != keep:
                try:
                    path.unlink()
                except FileNotFoundError:
                    pass

    def retire_shadow(self) -> None:
        """A shadow found at open was never committed: rename it for chunked deletion."""
        if table_exists(self.conn, "auth_list_shadow"):
            self.conn.execute(f"ALTER TABLE auth_list_shadow RENAME TO {self._free_old_name()}")

    def delete_garbage_chunk(self) -> bool:
        """Delete up to DELETE_CHUNK_ROWS rows of a replaced list (one short
        transaction); drops emptied tables. Returns True while garbage remains."""
        c = self.conn
        names = [n for n in garbage_tables(c) if n != "auth_list_shadow"]
        if not names:
            return False
        name = names[0]
        c.execute("BEGIN IMMEDIATE")
        try:
            deleted = c.execute(f"DELETE FROM {name} WHERE id_tag IN (SELECT id_tag FROM "
                                f"{name} LIMIT {DELETE_CHUNK_ROWS})").rowcount
            if deleted < DELETE_CHUNK_ROWS:
                c.execute(f"DROP TABLE {name}")
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        return deleted >= DELETE_CHUNK_ROWS or len(names) > 1
