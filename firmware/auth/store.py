"""AuthorizationStore: the local list, the authorization cache and the negative cache.

Threads: every public method except ``apply_send_local_list`` (a coroutine) is called
from ONE thread, the event loop's, and never does disk I/O in the hot path. All
SQLite and index-file writes run in one worker thread with its own connection, in
submission order; the loop thread only swaps in the immutable list view the worker
publishes (one attribute assignment), so a lookup always sees one complete version.

Lookup path (``lookup``, ~1-2 µs): normalise → overlay dict (Differential changes
since the index was built) → mmap hash index (``index.ListIndex``) → cache dict.
The list's source of truth is SQLite (``schema``); the index is derived from it and
rebuilt (``listdb.ListWriter.compact``) when the overlay grows or the file is lost.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable

from firmware.core import authorization as rules
from firmware.core.authorization import STATUSES, AuthKeys, LocalEntry
from firmware.core.idtag import normalise_id_tag

from . import report
from .cache import AuthCache, CacheWrite, NegativeCache, write_cache_batches
from .index import (EmptyIndex, IndexFileError, ListIndex, ListView, SqliteList,
                    index_file_name, status_code)
from .listdb import ListTooLong, ListWriter, refuse_update, stored_row
from .schema import ListState, migrate, read_state
from .validate import ParsedLocalList, SendLocalListFormatError, validate_send_local_list

log = logging.getLogger(__name__)

OVERLAY_MIN = 4_096      # below this many pending changes the index is never rebuilt
OVERLAY_MAX = 65_536     # above this it always is (bounds the overlay's memory, ~15 MB)


class AuthorizationStore:
    """Local authorization data of one station.

    ``db_path``: the agent's SQLite file (or pass ``connect``, a factory returning new
    connections to it). ``index_dir``: where the derived index files live (default:
    next to the database). ``cache_capacity``: max cache entries (0 = no cache).
    ``keys``: current ``AuthKeys``; assign ``store.keys`` when the CSMS changes one.
    ``negative_window_s``: how long a CSMS refusal is replayed locally.
    Opening is synchronous and quick (the index is mmap'ed, not read); raises
    ``sqlite3.DatabaseError`` or ``schema.AuthSchemaError`` if the database is unusable.
    """

    def __init__(self, db_path: str | Path | None = None, index_dir: str | Path | None = None,
                 *, cache_capacity: int = 10_000, keys: AuthKeys = AuthKeys(),
                 negative_window_s: float = 30.0,
                 connect: Callable[[], sqlite3.Connection] | None = None,
                 crash_hook: Callable[[str], None] | None = None):
        if connect is None:
            if db_path is None:
                raise ValueError("give db_path or connect")
            path = Path(db_path)

            def connect() -> sqlite3.Connection:
                return sqlite3.connect(path, check_same_thread=False, timeout=30)
            index_dir = index_dir if index_dir is not None else path.parent
        if index_dir is None:
            raise ValueError("index_dir is required with a connection factory")
        self.keys = keys
        self.index_dir = Path(index_dir)
        self.index_dir.mkdir(parents=True, exist_ok=True)
        self._connect = connect
        self._conn = self._new_connection()
        migrate(self._conn)
        self._writer: ListWriter | None = None
        self._crash_hook = crash_hook
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="auth-writer")
        self._jobs = 0  # submitted and not finished (wait_idle)
        self._jobs_done = threading.Condition()
        self._closing = False
        self.cache = AuthCache(cache_capacity)
        self._cache_batches: deque[CacheWrite] = deque()  # loop thread → worker
        self._cache_job_queued = False
        self.negative = NegativeCache(negative_window_s)
        self.lookups = 0
        self.list_hits = 0
        self.last_update: str = "none since start"
        self._view = self._open_view()
        if isinstance(self._view.index, SqliteList):
            self._submit(self._job_compact)  # rebuild the lost index
        self.cache.load(self._load_cache_rows())
        self._submit(self._job_open_cleanup)
        self._flush_cache()

    def _new_connection(self) -> sqlite3.Connection:
        conn = self._connect()
        conn.isolation_level = None
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def _open_view(self) -> ListView:
        state = read_state(self._conn)
        overlay: dict[str, tuple | None] = {}
        for tag, status, expiry, parent in self._conn.execute(
                "SELECT id_tag, status, expiry_s, parent_id_tag FROM auth_list_delta"):
            overlay[tag] = None if status is None else (
                tag, STATUSES[status], float(expiry) if expiry else None, parent, "list")
        if state.generation == 0:
            return ListView(EmptyIndex(), overlay, state)
        path = self.index_dir / index_file_name(state.generation)
        try:
            return ListView(ListIndex(path, state.generation), overlay, state)
        except IndexFileError as e:
            log.warning("local list index unusable (%s); serving from SQLite while it is "
                        "rebuilt", e)
            return ListView(SqliteList(self._conn), {}, state)

    def _load_cache_rows(self) -> list[tuple[LocalEntry, int]]:
        rows = self._conn.execute("SELECT id_tag, status, expiry_s, parent_id_tag, used_seq "
                                  "FROM auth_cache ORDER BY used_seq").fetchall()
        return [(LocalEntry(t, STATUSES[s], e, p, "cache"), q) for t, s, e, p, q in rows]

    # ------------------------------------------------------------- hot path
    def lookup(self, id_tag: str) -> tuple[LocalEntry | None, LocalEntry | None]:
        """(list entry, cache entry) for a tag (any case). Marks a cache hit as
        recently used. ~1-2 µs; no I/O beyond page faults on the mmap'ed index.
        A list hit comes without a cache entry, unless LocalAuthListEnabled is false:
        then the list is unused and its tags are cached like any other."""
        return self._lookup(id_tag.upper() if id_tag.isascii() else normalise_id_tag(id_tag))

    def _lookup(self, tag: str) -> tuple[LocalEntry | None, LocalEntry | None]:
        entry = self._view.get(tag)
        self.lookups += 1
        if entry is not None:
            self.list_hits += 1
            if not self.keys.local_auth_list_enabled:
                return entry, self.cache.get(tag)
            if self.cache.peek(tag) is not None:  # list ids are never cached (§3.5.3)
                self.cache.remove(tag)
            return entry, None
        return None, self.cache.get(tag)

    def list_entry(self, id_tag: str) -> LocalEntry | None:
        """The list entry alone (no statistics, no cache access)."""
        return self._view.get(normalise_id_tag(id_tag))

    # -------------------------------------------------------- list management
    def list_version(self) -> int:
        """GetLocalListVersion: -1 when LocalAuthListEnabled is false, 0 when the list
        is empty ([16] §5.10), else the version of the last update."""
        if not self.keys.local_auth_list_enabled:
            return -1
        state = self._view.state
        return state.version if state.count > 0 else 0

    def list_size(self) -> int:
        return self._view.state.count

    async def apply_send_local_list(self, payload: dict) -> str:
        """Handle SendLocalList.req (raw camelCase payload): "Accepted", "Failed",
        "NotSupported" or "VersionMismatch".

        Raises ``validate.SendLocalListFormatError`` (code, description) for a payload
        that breaks the schema: answer with that CALLERROR. Validation and writing run
        in the worker thread; the event loop keeps running. If the caller is
        cancelled the update still completes or not as a whole.
        """
        future = self._submit(self._job_send_local_list, payload, self.keys, log_errors=False)
        status, changed = await asyncio.wrap_future(future)
        self._purge_list_ids_from_cache(changed)
        return status

    def apply_send_local_list_sync(self, payload: dict) -> str:
        """Blocking variant for tools and tests (never call it on the event loop)."""
        status, changed = self._submit(self._job_send_local_list, payload, self.keys,
                                       log_errors=False).result()
        self._purge_list_ids_from_cache(changed)
        return status

    def _purge_list_ids_from_cache(self, tags: list[str]) -> None:
        """New list ids leave the cache (§3.5.3)."""
        if len(self.cache):
            for tag in tags:
                self.cache.remove(tag)
            self._flush_cache()

    def replace_list(self, entries: Iterable[tuple[str, str, float | None, str | None]],
                     count: int, version: int) -> None:
        """Provisioning/bench: a Full update from (idTag, status name, expiry_s,
        parent) tuples, ``count`` of them, unique. Blocks until published."""
        rows = (stored_row(normalise_id_tag(t), status_code(s), e,
                           normalise_id_tag(p) if p else None) for t, s, e, p in entries)
        self._submit(self._full, rows, count, version).result()

    def _job_send_local_list(self, payload: dict, keys: AuthKeys) -> tuple[str, list[str]]:
        started = time.monotonic()
        try:
            parsed = validate_send_local_list(payload)
        except SendLocalListFormatError as e:
            self.last_update = f"CALLERROR {e.code}: {e.description}"
            raise
        try:
            status, detail, changed = self._apply_parsed(parsed, keys)
        except (sqlite3.Error, OSError) as e:  # disk full, I/O error: the old list stays
            log.error("SendLocalList could not be stored: %s", e)
            status, detail, changed = "Failed", f" (storage error: {e})", []
        self.last_update = (f"{status} {parsed.update_type} v{parsed.list_version} "
                            f"{len(parsed.entries)} entries in "
                            f"{time.monotonic() - started:.2f} s{detail}")
        log.info("SendLocalList %s", self.last_update)
        return status, changed

    def _apply_parsed(self, parsed: ParsedLocalList,
                      keys: AuthKeys) -> tuple[str, str, list[str]]:
        state = self._view.state
        refusal = refuse_update(parsed, keys, state)
        if refusal is not None:
            return refusal[0], refusal[1], []
        rows = [stored_row(t, s, e, p) for t, s, e, p in parsed.entries if s is not None]
        if parsed.full:
            self._full(rows, len(rows), parsed.list_version)
            return "Accepted", "", [r[0] for r in rows]
        removals = [t for t, s, _, _ in parsed.entries if s is None]
        try:
            new_state = self._list_writer().differential(
                rows, removals, parsed.list_version, keys.local_auth_list_max_length, state)
        except ListTooLong as e:
            return "Failed", f" ({e}, LocalAuthListMaxLength " \
                             f"{keys.local_auth_list_max_length})", []
        overlay = dict(self._view.overlay)
        for tag in removals:
            overlay[tag] = None
        for tag, status, expiry, parent in rows:
            overlay[tag] = (tag, STATUSES[status], float(expiry) if expiry else None, parent,
                            "list")
        self._view = ListView(self._view.index, overlay, new_state)
        if len(overlay) > min(OVERLAY_MAX, max(OVERLAY_MIN, new_state.count // 4)):
            self._submit(self._job_compact)
        return "Accepted", "", [r[0] for r in rows]

    def _full(self, rows: Iterable[tuple], count: int, version: int) -> None:
        writer = self._list_writer()
        new_state = writer.replace(rows, count, version, self._view.state)
        self._publish_index(new_state)
        self._submit(self._job_delete_garbage)

    def _publish_index(self, state: ListState) -> None:
        index = ListIndex(self.index_dir / index_file_name(state.generation), state.generation)
        self._view = ListView(index, {}, state)
        self._list_writer().remove_stale_index_files(state.generation)

    # ------------------------------------------------------------ worker jobs
    def _list_writer(self) -> ListWriter:
        if self._writer is None:  # created in the worker thread, used only there
            self._writer = ListWriter(self._new_connection(), self.index_dir, self._crash_hook)
        return self._writer

    def _submit(self, job: Callable[..., Any], *args: Any, log_errors: bool = True) -> Future:
        with self._jobs_done:
            self._jobs += 1
        try:
            future = self._executor.submit(job, *args)
        except RuntimeError:  # closed: nothing will run it
            with self._jobs_done:
                self._jobs -= 1
            raise
        future.add_done_callback(self._job_finished)
        if log_errors:
            future.add_done_callback(_log_failure)
        return future

    def _job_finished(self, future: Future) -> None:
        with self._jobs_done:
            self._jobs -= 1
            self._jobs_done.notify_all()

    def _job_open_cleanup(self) -> None:
        writer = self._list_writer()
        writer.retire_shadow()
        state = self._view.state
        if not isinstance(self._view.index, SqliteList):
            writer.remove_stale_index_files(state.generation)
        self._job_delete_garbage()

    def _job_delete_garbage(self) -> None:
        if self._closing:
            return
        for _ in range(20):  # then yield the worker to queued jobs
            if not self._list_writer().delete_garbage_chunk():
                return
        self._submit(self._job_delete_garbage)

    def _job_compact(self) -> None:
        if self._closing and not isinstance(self._view.index, SqliteList):
            return
        state = self._list_writer().compact(self._view.state)
        self._publish_index(state)

    def _flush_cache(self, touches_too: bool = False) -> None:
        """Hand the cache's changes to the worker. At most one write job is queued:
        batches arriving meanwhile ride along in the same transaction."""
        if not (self.cache.has_pending_writes() or touches_too):
            return
        batch = self.cache.take_pending()
        if not batch:
            return
        self._cache_batches.append(batch)
        if not self._cache_job_queued:
            self._cache_job_queued = True
            self._submit(self._job_cache_write)

    def _job_cache_write(self) -> None:
        self._cache_job_queued = False  # before draining: a later batch queues a new job
        batches = []
        while self._cache_batches:
            batches.append(self._cache_batches.popleft())
        write_cache_batches(self._list_writer().conn, batches)

    def wait_idle(self, timeout_s: float | None = None) -> bool:
        """Block until every queued write, including the ones jobs queue themselves
        (index rebuild, old-list deletion), has run. Never on the event loop.
        Returns False on timeout."""
        with self._jobs_done:
            return self._jobs_done.wait_for(lambda: self._jobs == 0, timeout_s)

    # ------------------------------------------------------------------ cache
    def cache_update(self, id_tag: str, status: str, expiry_s: float | None,
                     parent_id_tag: str | None, now: float) -> bool:
        """Record an IdTagInfo from the CSMS ([16] §3.5.1). Returns False (nothing
        stored) when the cache is disabled or absent, or the tag is in the local list
        and the list is enabled (§3.5.3). ``now`` is unused today: expiry is judged at
        decision time."""
        if not self.keys.authorization_cache_enabled or self.cache.capacity == 0:
            return False
        if status not in STATUSES:
            raise ValueError(f"not an AuthorizationStatus: {status!r}")
        tag = normalise_id_tag(id_tag)
        if self.keys.local_auth_list_enabled and self.list_entry(tag) is not None:
            return False
        parent = normalise_id_tag(parent_id_tag) if parent_id_tag else None
        self.cache.put(LocalEntry(tag, status, expiry_s, parent, "cache"))
        self._flush_cache()
        return True

    def cache_clear(self) -> bool:
        """ClearCache: True (Accepted) after emptying it, False (Rejected) when the
        station has no cache (capacity 0) ([E16] 3.23)."""
        if self.cache.capacity == 0:
            return False
        self.cache.clear()
        self._flush_cache()
        return True

    def record_id_tag_info(self, id_tag: str, info: Any, now: float) -> rules.CsmsVerdict:
        """Apply an IdTagInfo from any CSMS answer: cache it (unless a list id),
        negative-cache a refusal, and return the verdict (incl. LocalListConflict)."""
        tag = normalise_id_tag(id_tag)
        verdict = rules.on_csms_id_tag_info(tag, info, list_entry=self.list_entry(tag),
                                            keys=self.keys, now=now)
        if verdict.cache_entry is not None and self.cache.capacity:
            self.cache.put(verdict.cache_entry)
            self._flush_cache()
        if verdict.remember_rejection:
            self.negative.remember(tag, now)
        else:
            self.negative.forget(tag)
        return verdict

    def remember_rejection(self, id_tag: str, now: float) -> None:
        self.negative.remember(normalise_id_tag(id_tag), now)

    def negative_cached(self, id_tag: str, now: float) -> bool:
        """Whether the negative cache holds the tag (counted as a refusal: the
        decision rules refuse or ask for it without the list or cache)."""
        negative = self.negative.contains(normalise_id_tag(id_tag), now)
        if negative:
            self.negative.refusals += 1
        return negative

    # ---------------------------------------------------------- accountability
    def stats_lines(self) -> list[str]:
        """Console ``auth stats``."""
        return report.stats_lines(self)

    def lookup_report(self, id_tag: str, keys: AuthKeys | None, now: float) -> list[str]:
        """Console ``auth lookup TAG``: canonical form, eMAID check, list and cache
        entries, negative cache, decision online and offline under ``keys`` (None:
        ``self.keys``). No statistics or recency are changed."""
        return report.lookup_lines(self, id_tag, keys or self.keys, now)

    # ---------------------------------------------------------------- closing
    def close(self) -> None:
        """Write pending cache changes (with hit recency), stop the worker, close.
        Idempotent."""
        if self._closing:
            return
        self._flush_cache(touches_too=True)
        self._closing = True
        self._executor.shutdown(wait=True)
        if self._writer is not None:
            self._writer.conn.close()
        self._conn.close()


def _log_failure(future: Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("authorization store background write failed",
                  exc_info=future.exception())
