"""The authorization cache (bounded, LRU, persistent) and the short negative cache.

Both live in the caller's thread (the event loop); neither does I/O itself. The cache
hands its changes to the store as ``CacheWrite`` batches that a worker thread writes
to ``auth_cache``, so a tap never waits for SQLite.

Persistence of recency: every hit and write gets the next ``seq``; the rows carry it
as ``used_seq`` and the cache is reloaded in that order. Recency from hits is written
with the next batch (or at close), so after a crash the LRU order may lag by the hits
since the last write — only eviction order is affected, never an entry's content.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from dataclasses import dataclass, field

from firmware.core.authorization import LocalEntry

from .index import status_code

_new_entry = tuple.__new__


@dataclass
class CacheWrite:
    """One batch for ``auth_cache``, applied in order: ``clear`` first (delete every
    row), then ``ops`` (tag, entry, seq) — entry None deletes the row —, then
    ``touches`` (tag → seq of its latest hit)."""

    ops: list[tuple[str, LocalEntry | None, int]] = field(default_factory=list)
    touches: dict[str, int] = field(default_factory=dict)
    clear: bool = False

    def __bool__(self) -> bool:
        return bool(self.ops or self.touches or self.clear)


class AuthCache:
    """LRU map of normalised idTag → ``LocalEntry`` (source "cache"), at most
    ``capacity`` entries (0 = the station has no cache: ClearCache is Rejected).

    Values are kept as plain tuples (untracked by the garbage collector, so 100,000
    entries add nothing to GC pauses) and returned as ``LocalEntry``."""

    def __init__(self, capacity: int):
        if capacity < 0:
            raise ValueError("cache capacity must be >= 0")
        self.capacity = capacity
        self._entries: OrderedDict[str, tuple] = OrderedDict()
        self._seq = 0
        self._pending = CacheWrite()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def load(self, rows: list[tuple[LocalEntry, int]]) -> None:
        """Fill from persisted rows ordered by used_seq (oldest first); entries beyond
        capacity are dropped (oldest first) and queued for deletion."""
        excess = len(rows) - self.capacity
        for entry, seq in rows[:max(excess, 0)]:
            self._pending.ops.append((entry.id_tag, None, 0))
        for entry, seq in rows[max(excess, 0):]:
            self._entries[entry.id_tag] = tuple(entry)
            self._seq = max(self._seq, seq)

    def get(self, tag: str) -> LocalEntry | None:
        """The entry for a normalised tag, marking it most recently used."""
        entry = self._entries.get(tag)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(tag)
        self._seq += 1
        self._pending.touches[tag] = self._seq
        return _new_entry(LocalEntry, entry)

    def peek(self, tag: str) -> LocalEntry | None:
        """The entry without touching recency or statistics (reports)."""
        entry = self._entries.get(tag)
        return None if entry is None else _new_entry(LocalEntry, entry)

    def put(self, entry: LocalEntry) -> None:
        """Insert or replace; evicts the least recently used beyond capacity."""
        if self.capacity == 0:
            return
        tag = entry.id_tag
        self._entries[tag] = tuple(entry)
        self._entries.move_to_end(tag)
        self._seq += 1
        self._pending.ops.append((tag, entry, self._seq))
        self._pending.touches.pop(tag, None)
        while len(self._entries) > self.capacity:
            self._drop_lru()

    def remove(self, tag: str) -> bool:
        if self._entries.pop(tag, None) is None:
            return False
        self._pending.ops.append((tag, None, 0))
        self._pending.touches.pop(tag, None)
        return True

    def _drop_lru(self) -> None:
        old, _ = self._entries.popitem(last=False)
        self._pending.ops.append((old, None, 0))
        self._pending.touches.pop(old, None)

    def clear(self) -> None:
        self._entries.clear()
        self._pending = CacheWrite(clear=True)

    def take_pending(self) -> CacheWrite:
        """The changes since the last call (for the writer thread)."""
        pending, self._pending = self._pending, CacheWrite()
        return pending

    def has_pending_writes(self) -> bool:
        return bool(self._pending.ops or self._pending.clear)


class NegativeCache:
    """Tags the CSMS refused moments ago: a re-tap within ``window_s`` seconds is
    refused locally instead of sending another Authorize. In memory only (a restart
    forgets it: the window is short), bounded to ``capacity`` tags (oldest dropped)."""

    def __init__(self, window_s: float, capacity: int = 256):
        self.window_s = window_s
        self.capacity = capacity
        self._until: dict[str, float] = {}
        self.refusals = 0

    def remember(self, tag: str, now: float) -> None:
        if self.window_s <= 0:
            return
        self._until.pop(tag, None)
        self._until[tag] = now + self.window_s
        if len(self._until) > self.capacity:
            del self._until[next(iter(self._until))]

    def forget(self, tag: str) -> None:
        self._until.pop(tag, None)

    def contains(self, tag: str, now: float) -> bool:
        until = self._until.get(tag)
        if until is None:
            return False
        if now < until:
            return True
        del self._until[tag]
        return False

    def remaining_s(self, tag: str, now: float) -> float | None:
        until = self._until.get(tag)
        return None if until is None or now >= until else until - now

    def __len__(self) -> int:
        return len(self._until)


def write_cache_batches(conn: sqlite3.Connection, batches: list[CacheWrite]) -> None:
    """Apply batches in order in one transaction (worker thread)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for batch in batches:
            if batch.clear:
                conn.execute("DELETE FROM auth_cache")
            for tag, entry, seq in batch.ops:
                if entry is None:
                    conn.execute("DELETE FROM auth_cache WHERE id_tag = ?", (tag,))
                else:
                    conn.execute("INSERT OR REPLACE INTO auth_cache VALUES (?, ?, ?, ?, ?)",
                                 (tag, status_code(entry.status), entry.expiry_s,
                                  entry.parent_id_tag, seq))
            conn.executemany("UPDATE auth_cache SET used_seq = ? WHERE id_tag = ?",
                             [(seq, tag) for tag, seq in batch.touches.items()])
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
