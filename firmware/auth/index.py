"""A read-only, mmap'ed open-addressing hash index of the local authorization list.

Why: a million Python objects cost ~200 bytes each, and an indexed SQLite lookup costs
~5 µs. This file is derived from the SQLite list (the source of truth) and gives a
lookup in ~1 µs with only the touched pages resident.

File layout (little-endian), built once, never modified in place:

    header (128 B)  magic "BORNEIX1", generation u64, count u64, slot_bits u32,
                   record_size u32, parent_count u32, header crc32 u32,
                   records_off u64, parents_off u64, blob_off u64, file_size u64
    slots          2**slot_bits x u64: 0 = empty, else (fingerprint32 << 32) | (record+1)
    records        count x 32 B: tag[20] (UTF-8, NUL padded; or a 20-byte BLAKE2b
                   digest when the tag is longer than 20 bytes), tag_len u8 (255 =
                   digest form), status u8, pad u16, parent u32 (1-based, 0 = none),
                   expiry u32 (epoch s, 0 = none)
    parent offsets (parent_count + 1) x u32 into the blob; blob = UTF-8 parent tags

The slot of a tag is the low ``slot_bits`` of the 64-bit BLAKE2b hash of its UTF-8
bytes, probed linearly; the high 32 bits are a fingerprint checked before the record,
and the record's stored tag is compared exactly, so a hash collision can never return
the wrong entry. Load factor ≤ 0.6 keeps probe chains short.

A file is published by ``write_index``: written under a temporary name, fsynced,
renamed, and the directory fsynced — so a file with the final name is always complete.
"""

from __future__ import annotations

import mmap
import os
import sqlite3
import struct
import zlib
from hashlib import blake2b
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from firmware.core.authorization import STATUSES, LocalEntry
from firmware.errors import StoreError

if TYPE_CHECKING:
    from .schema import ListState

MAGIC = b"BORNEIX1"
_HEADER = struct.Struct("<8sQQIIIIQQQQ")
HEADER_SIZE = 128  # the 72-byte header, padded so the slots start aligned
RECORD_SIZE = 32
_RECORD = struct.Struct("<20sBBHII")
_DIGEST_FORM = 255
MAX_LOAD = 0.6
MAX_RECORDS = (1 << 32) - 2
EXPIRY_MAX_S = (1 << 32) - 1  # 2106-02-07: later expiries are stored as this

_STATUS_CODE = {s: i for i, s in enumerate(STATUSES)}
_new_entry = tuple.__new__


class IndexFileError(StoreError):
    """The index file is missing, torn or does not match the database (rebuild it)."""


def index_file_name(generation: int) -> str:
    return f"auth_list.{generation:016x}.idx"


def expiry_to_u32(expiry_s: float | None) -> int:
    """The stored expiry: whole seconds, rounded down (expires no later than asked);
    None → 0 (no expiry); before 1970 → 1 (long expired); after 2106 → the maximum."""
    if expiry_s is None:
        return 0
    value = int(expiry_s // 1)
    return 1 if value < 1 else min(value, EXPIRY_MAX_S)


def _hash64(data: bytes) -> int:
    return int.from_bytes(blake2b(data, digest_size=8).digest(), "little")


def _slot_bits(count: int) -> int:
    bits = 4
    while (1 << bits) * MAX_LOAD < count:
        bits += 1
    return bits


def write_index(directory: Path, generation: int, count: int,
                rows: Iterable[tuple[str, int, int | None, str | None]]) -> Path:
    """Build the index of exactly ``count`` rows (normalised tag, status code, expiry as
    stored (u32 seconds or None/0), parent or None) and publish it atomically.

    The caller guarantees the tags are unique (they come from a primary key). Raises
    ValueError if the rows are not ``count`` long; OSError on I/O failure (then no
    file with the final name exists).
    """
    if count > MAX_RECORDS:
        raise ValueError(f"{count} entries exceed the index format's limit")
    bits = _slot_bits(count)
    mask = (1 << bits) - 1
    slots_off = HEADER_SIZE
    records_off = slots_off + (8 << bits)
    slots_buf = bytearray(8 << bits)
    slots = memoryview(slots_buf).cast("Q")
    parents: dict[str, int] = {}
    final = directory / index_file_name(generation)
    tmp = directory / (final.name + ".tmp")
    pack = _RECORD.pack
    n = 0
    with open(tmp, "wb") as f:
        f.seek(records_off)
        chunk: list[bytes] = []
        for tag, status, expiry, parent in rows:
            data = tag.encode()
            h = _hash64(data)
            i = h & mask
            while slots[i]:
                i = (i + 1) & mask
            n += 1
            if n > count:
                raise ValueError(f"more than {count} rows")
            slots[i] = ((h >> 32) << 32) | n
            if len(data) > 20:
                data, length = blake2b(data, digest_size=20).digest(), _DIGEST_FORM
            else:
                length = len(data)
            pidx = 0
            if parent:
                pidx = parents.get(parent, 0)
                if not pidx:
                    pidx = parents[parent] = len(parents) + 1
            chunk.append(pack(data, length, status, 0, pidx, expiry or 0))
            if len(chunk) >= 8192:
                f.write(b"".join(chunk))
                chunk.clear()
        f.write(b"".join(chunk))
        if n != count:
            raise ValueError(f"expected {count} rows, got {n}")
        parents_off = records_off + RECORD_SIZE * count
        blob_parts = [p.encode() for p in parents]  # dict order = 1-based index order
        offsets = [0]
        for part in blob_parts:
            offsets.append(offsets[-1] + len(part))
        f.write(struct.pack(f"<{len(offsets)}I", *offsets))
        blob_off = parents_off + 4 * len(offsets)
        f.write(b"".join(blob_parts))
        file_size = blob_off + offsets[-1]
        f.seek(slots_off)
        f.write(slots_buf)
        f.seek(0)
        f.write(_header(generation, count, bits, len(parents), records_off, parents_off,
                        blob_off, file_size))
        f.flush()
        os.fsync(f.fileno())
    slots.release()
    os.replace(tmp, final)
    fsync_dir(directory)
    return final


def _header(generation: int, count: int, bits: int, parent_count: int, records_off: int,
            parents_off: int, blob_off: int, file_size: int) -> bytes:
    fields = [MAGIC, generation, count, bits, RECORD_SIZE, parent_count, 0,
              records_off, parents_off, blob_off, file_size]
    crc = zlib.crc32(_HEADER.pack(*fields))
    fields[6] = crc
    return _HEADER.pack(*fields)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ListIndex:
    """An open index file. ``get`` is the hot path: no SQLite, no per-entry objects
    except the returned ``LocalEntry``. Immutable; safe to share between threads.
    The mapping is released when the last reference goes (never closed explicitly,
    so a lookup running while a newer index is published cannot fault)."""

    __slots__ = ("path", "generation", "count", "_mm", "_slots", "_u32", "_mask",
                 "_records_off", "_parents_off", "_blob_off")

    def __init__(self, path: Path, expected_generation: int):
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < HEADER_SIZE:
                    raise IndexFileError(f"{path}: truncated ({size} bytes)")
                mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except FileNotFoundError:
            raise IndexFileError(f"{path}: missing") from None
        fields = list(_HEADER.unpack_from(mm, 0))
        (magic, generation, count, bits, record_size, parent_count, crc, records_off,
         parents_off, blob_off, file_size) = fields
        fields[6] = 0
        problems = []
        if magic != MAGIC:
            problems.append("bad magic")
        elif zlib.crc32(_HEADER.pack(*fields)) != crc:
            problems.append("header checksum mismatch")
        elif file_size != size or record_size != RECORD_SIZE:
            problems.append(f"size {size} != {file_size}")
        elif generation != expected_generation:
            problems.append(f"generation {generation} != {expected_generation}")
        if problems:
            mm.close()
            raise IndexFileError(f"{path}: {', '.join(problems)}")
        self.path = path
        self.generation = generation
        self.count = count
        self._mm = mm
        self._slots = memoryview(mm)[HEADER_SIZE:records_off].cast("Q")
        self._u32 = memoryview(mm)[:size - size % 4].cast("I")
        self._mask = (1 << bits) - 1
        self._records_off = records_off
        self._parents_off = parents_off
        self._blob_off = blob_off

    def get(self, tag: str) -> LocalEntry | None:
        """The list entry for a normalised tag, or None. ~1 µs."""
        data = tag.encode()
        h = int.from_bytes(blake2b(data, digest_size=8).digest(), "little")
        slots = self._slots
        mask = self._mask
        i = h & mask
        fp = h >> 32
        mm = self._mm
        length = len(data)
        if length > 20:
            data, length = blake2b(data, digest_size=20).digest(), _DIGEST_FORM
            cmp_len = 20
        else:
            cmp_len = length
        while True:
            s = slots[i]
            if not s:
                return None
            if s >> 32 == fp:
                off = self._records_off + ((s & 0xFFFFFFFF) - 1) * RECORD_SIZE
                if mm[off + 20] == length and mm[off:off + cmp_len] == data:
                    u32 = self._u32
                    q = (off + 24) >> 2
                    pidx = u32[q]
                    expiry = u32[q + 1]
                    return _new_entry(LocalEntry, (
                        tag, STATUSES[mm[off + 21]], float(expiry) if expiry else None,
                        self._parent(pidx) if pidx else None, "list"))
            i = (i + 1) & mask

    def _parent(self, pidx: int) -> str:
        q = (self._parents_off >> 2) + pidx - 1
        start = self._blob_off + self._u32[q]
        end = self._blob_off + self._u32[q + 1]
        return self._mm[start:end].decode()


def status_code(status: str) -> int:
    """The stored code of an AuthorizationStatus name (KeyError if unknown)."""
    return _STATUS_CODE[status]


class EmptyIndex:
    """The index of a list that was never filled (generation 0: no file)."""

    generation = 0
    count = 0

    @staticmethod
    def get(tag: str) -> None:
        return None


class SqliteList:
    """Fallback while the index file is rebuilt: reads auth_list (the truth) through
    the event loop thread's connection (~5 µs a lookup)."""

    generation = -1

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    def get(self, tag: str) -> LocalEntry | None:
        row = self._conn.execute("SELECT status, expiry_s, parent_id_tag FROM auth_list "
                                 "WHERE id_tag = ?", (tag,)).fetchone()
        if row is None:
            return None
        return LocalEntry(tag, STATUSES[row[0]], float(row[1]) if row[1] else None, row[2],
                          "list")


class ListView:
    """One consistent version of the list: index + overlay + state. Never mutated
    after publication (the worker builds a new one and swaps the reference).

    ``overlay``: tag → plain tuple of LocalEntry's fields, or None (removed) — plain
    tuples of strings and numbers are not tracked by the garbage collector, so a
    large overlay adds nothing to GC pauses (namedtuple instances would).
    """

    __slots__ = ("index", "overlay", "state")

    def __init__(self, index: Any, overlay: dict[str, tuple | None], state: "ListState"):
        self.index = index
        self.overlay = overlay
        self.state = state

    def get(self, tag: str) -> LocalEntry | None:
        """The list entry for a normalised tag, or None."""
        fields = self.overlay.get(tag, _MISSING)
        if fields is _MISSING:
            return self.index.get(tag)
        return None if fields is None else _new_entry(LocalEntry, fields)


_MISSING = object()
