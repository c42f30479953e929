"""Typed reads and writes over the agent's tables (no SQL outside this package).

All writes are meant to run inside ``db.atomic(conn)`` opened by the caller, so a
group of them commits together.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from typing import Any

from firmware.core.connector import TransactionRecord
from firmware.core.effects import MeterSample, SampledValue

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------- meta
def get_meta(conn: sqlite3.Connection, key: str, default: str | None = None) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    return default if row is None else row[0]


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT INTO meta(key, value) VALUES(?, ?) "
                 "ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, value))


# ---------------------------------------------------------------------- configuration
def load_configuration(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT key, value FROM config_keys"))


def save_configuration(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT INTO config_keys(key, value) VALUES(?, ?) "
                 "ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, value))


# ---------------------------------------------------------------------- availability
def load_availability(conn: sqlite3.Connection) -> dict[int, bool]:
    return {cid: bool(op) for cid, op in conn.execute(
        "SELECT connector_id, operative FROM availability")}


def save_availability(conn: sqlite3.Connection, connector_id: int, operative: bool) -> None:
    conn.execute("INSERT INTO availability(connector_id, operative) VALUES(?, ?) "
                 "ON CONFLICT(connector_id) DO UPDATE SET operative=excluded.operative",
                 (connector_id, int(operative)))


# ---------------------------------------------------------------------- transactions
_TX_COLUMNS = ("local_tx_id", "connector_id", "id_tag", "parent_id_tag", "meter_start_wh",
               "started_at_s", "transaction_id", "last_meter_wh", "last_meter_at_s",
               "suspended_by_evse")


def save_transaction(conn: sqlite3.Connection, r: TransactionRecord) -> None:
    conn.execute(
        f"INSERT OR REPLACE INTO transactions({', '.join(_TX_COLUMNS)}) "
        f"VALUES({', '.join('?' * len(_TX_COLUMNS))})",
        (r.local_tx_id, r.connector_id, r.id_tag, r.parent_id_tag, r.meter_start_wh,
         r.started_at_s, r.transaction_id, r.last_meter_wh, r.last_meter_at_s,
         int(r.suspended_by_evse)))
    bump_local_tx_id(conn, r.local_tx_id + 1)


def save_stop_data(conn: sqlite3.Connection, local_tx_id: int,
                   samples: tuple[MeterSample, ...]) -> None:
    """Replace a running transaction's StopTxn*Data samples (at most
    ``STOP_DATA_MAX_SAMPLES``, written only when one is added)."""
    conn.execute("UPDATE transactions SET stop_data=? WHERE local_tx_id=?",
                 (json.dumps([_sample_row(s) for s in samples], separators=(",", ":")),
                  local_tx_id))


def _sample_row(sample: MeterSample) -> list[Any]:
    return [sample.timestamp_s, [[v.value, v.measurand, v.context, v.unit, v.phase, v.location]
                                 for v in sample.values]]


def _sample_from_row(row: list[Any]) -> MeterSample:
    return MeterSample(float(row[0]), tuple(SampledValue(*map(_text_or_none, v)) for v in row[1]))


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def stop_data(conn: sqlite3.Connection, local_tx_id: int) -> tuple[MeterSample, ...]:
    """The samples saved by ``save_stop_data``; () when none or unreadable."""
    row = conn.execute("SELECT stop_data FROM transactions WHERE local_tx_id=?",
                       (local_tx_id,)).fetchone()
    try:
        return tuple(_sample_from_row(r) for r in json.loads(row[0])) if row else ()
    except (ValueError, TypeError, IndexError):
        log.warning("transaction %d: saved stop data unreadable; sending none", local_tx_id)
        return ()


def delete_transaction(conn: sqlite3.Connection, local_tx_id: int) -> None:
    conn.execute("DELETE FROM transactions WHERE local_tx_id=?", (local_tx_id,))


def open_transactions(conn: sqlite3.Connection) -> list[TransactionRecord]:
    rows = conn.execute(f"SELECT {', '.join(_TX_COLUMNS)} FROM transactions "
                        "ORDER BY local_tx_id").fetchall()
    return [TransactionRecord(*row[:-1], suspended_by_evse=bool(row[-1])) for row in rows]


def next_local_tx_id(conn: sqlite3.Connection) -> int:
    return int(get_meta(conn, "next_local_tx_id", "1"))


def bump_local_tx_id(conn: sqlite3.Connection, at_least: int) -> None:
    if at_least > next_local_tx_id(conn):
        set_meta(conn, "next_local_tx_id", str(at_least))


# ---------------------------------------------------------------------- CSMS transaction ids
def save_transaction_id(conn: sqlite3.Connection, local_tx_id: int, transaction_id: int) -> None:
    conn.execute("INSERT OR REPLACE INTO tx_ids(local_tx_id, transaction_id) VALUES(?, ?)",
                 (local_tx_id, transaction_id))


def transaction_id_for(conn: sqlite3.Connection, local_tx_id: int) -> int | None:
    row = conn.execute("SELECT transaction_id FROM tx_ids WHERE local_tx_id=?",
                       (local_tx_id,)).fetchone()
    return None if row is None else row[0]


def forget_transaction_id(conn: sqlite3.Connection, local_tx_id: int) -> None:
    conn.execute("DELETE FROM tx_ids WHERE local_tx_id=?", (local_tx_id,))


# ---------------------------------------------------------------------- outbox
# Bytes a queued row costs beyond its payload text (row header, the other columns, the
# index entry): an estimate for the disk budget, not an exact figure.
OUTBOX_ROW_OVERHEAD_BYTES = 64


@dataclass(frozen=True)
class OutboxMessage:
    seq: int
    action: str
    local_tx_id: int | None
    payload: dict[str, Any]
    created_at_s: float
    attempts: int
    next_attempt_at_s: float
    stored_bytes: int = 0  # payload length + OUTBOX_ROW_OVERHEAD_BYTES


def outbox_append(conn: sqlite3.Connection, action: str, local_tx_id: int | None,
                  payload: dict[str, Any], created_at_s: float,
                  protocol: str = "ocpp1.6") -> int:
    """Queue one message written in ``protocol`` (the websocket subprotocol, "ocpp1.6")."""
    cursor = conn.execute(
        "INSERT INTO outbox(action, local_tx_id, payload, created_at_s, protocol) "
        "VALUES(?, ?, ?, ?, ?)",
        (action, local_tx_id, json.dumps(payload, separators=(",", ":")), created_at_s,
         protocol))
    return int(cursor.lastrowid)


def outbox_protocols(conn: sqlite3.Connection) -> dict[str, int]:
    """How many messages are queued in each OCPP version (subprotocol -> count)."""
    return {str(row[0]): int(row[1]) for row in conn.execute(
        "SELECT protocol, COUNT(*) FROM outbox GROUP BY protocol")}


def outbox_count_of(conn: sqlite3.Connection, protocol: str,
                    transaction_id: str | None = None) -> int:
    """Queued messages of ``protocol``; with ``transaction_id``, only the 2.0.1 ones
    naming that station-chosen transactionId (TransactionEvent's transactionInfo)."""
    if transaction_id is None:
        row = conn.execute("SELECT COUNT(*) FROM outbox WHERE protocol = ?",
                           (protocol,)).fetchone()
    else:
        row = conn.execute(
            "SELECT COUNT(*) FROM outbox WHERE protocol = ? AND "
            "json_extract(payload, '$.transactionInfo.transactionId') = ?",
            (protocol, transaction_id)).fetchone()
    return int(row[0])


def outbox_discard_other_than(conn: sqlite3.Connection, protocol: str) -> int:
    """Delete every queued message not written in ``protocol`` (a forced protocol
    switch); returns how many."""
    return int(conn.execute("DELETE FROM outbox WHERE protocol != ?", (protocol,)).rowcount)


_OUTBOX_COLUMNS = "seq, action, local_tx_id, payload, created_at_s, attempts, next_attempt_at_s"


def _outbox_message(row: tuple[Any, ...]) -> OutboxMessage:
    return OutboxMessage(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5], row[6],
                         len(row[3]) + OUTBOX_ROW_OVERHEAD_BYTES)


def outbox_head(conn: sqlite3.Connection, protocol: str = "ocpp1.6") -> OutboxMessage | None:
    """The oldest queued message written in ``protocol``."""
    row = conn.execute(f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE protocol=? "
                       "ORDER BY seq LIMIT 1", (protocol,)).fetchone()
    return None if row is None else _outbox_message(row)


def outbox_rows_from(conn: sqlite3.Connection, after_seq: int, limit: int,
                     protocol: str = "ocpp1.6") -> list[OutboxMessage]:
    """The first ``limit`` messages of ``protocol`` queued after ``after_seq``, in order
    (a key range; rows of another version are skipped, never handed out)."""
    return [_outbox_message(row) for row in conn.execute(
        f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE seq > ? AND protocol=? "
        "ORDER BY seq LIMIT ?", (after_seq, protocol, limit))]


def outbox_remove(conn: sqlite3.Connection, seq: int) -> None:
    conn.execute("DELETE FROM outbox WHERE seq=?", (seq,))


def outbox_remove_seqs(conn: sqlite3.Connection, seqs: list[int]) -> None:
    conn.executemany("DELETE FROM outbox WHERE seq=?", [(seq,) for seq in seqs])


def outbox_record_attempt(conn: sqlite3.Connection, seq: int, next_attempt_at_s: float) -> None:
    conn.execute("UPDATE outbox SET attempts=attempts+1, next_attempt_at_s=? WHERE seq=?",
                 (next_attempt_at_s, seq))


def outbox_stats(conn: sqlite3.Connection) -> tuple[int, float | None, int]:
    """(depth, created_at_s of the oldest, total attempts of queued messages)."""
    depth, oldest, attempts = conn.execute(
        "SELECT COUNT(*), MIN(created_at_s), COALESCE(SUM(attempts), 0) FROM outbox").fetchone()
    return int(depth), oldest, int(attempts)


def outbox_usage(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """(rows, estimated bytes, highest seq) of the whole queue: one scan, at start-up."""
    rows, payload_bytes, last_seq = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0), COALESCE(MAX(seq), 0) "
        "FROM outbox").fetchone()
    return int(rows), int(payload_bytes) + int(rows) * OUTBOX_ROW_OVERHEAD_BYTES, int(last_seq)


def outbox_rows_after(conn: sqlite3.Connection, seq: int) -> list[tuple[int, int]]:
    """(seq, estimated bytes) of the rows appended after ``seq`` (a primary-key range)."""
    return [(row[0], row[1] + OUTBOX_ROW_OVERHEAD_BYTES) for row in conn.execute(
        "SELECT seq, LENGTH(payload) FROM outbox WHERE seq > ? ORDER BY seq", (seq,))]


def outbox_pending_for(conn: sqlite3.Connection, local_tx_id: int) -> int:
    return conn.execute("SELECT COUNT(*) FROM outbox WHERE local_tx_id=?",
                        (local_tx_id,)).fetchone()[0]


def outbox_remove_for(conn: sqlite3.Connection, local_tx_id: int) -> list[tuple[int, str, int]]:
    """Delete every queued message of one transaction; returns (seq, action, bytes) of each."""
    rows = [(row[0], row[1], row[2] + OUTBOX_ROW_OVERHEAD_BYTES) for row in conn.execute(
        "SELECT seq, action, LENGTH(payload) FROM outbox WHERE local_tx_id=? ORDER BY seq",
        (local_tx_id,))]
    conn.execute("DELETE FROM outbox WHERE local_tx_id=?", (local_tx_id,))
    return rows


# ---------------------------------------------------------------------- OCPP 2.0.1 transactions
@dataclass(frozen=True)
class Ocpp201Transaction:
    """A 2.0.1 transaction's protocol state: the transactionId the station chose, its
    EVSE, the seqNo its next TransactionEvent gets, and the remoteStartId it was
    started with (None: not a remote start)."""

    local_tx_id: int
    transaction_id: str
    evse_id: int
    next_seq_no: int
    remote_start_id: int | None


def save_ocpp201_transaction(conn: sqlite3.Connection, t: Ocpp201Transaction) -> None:
    conn.execute("INSERT OR REPLACE INTO ocpp201_transactions(local_tx_id, transaction_id, "
                 "evse_id, next_seq_no, remote_start_id) VALUES(?, ?, ?, ?, ?)",
                 (t.local_tx_id, t.transaction_id, t.evse_id, t.next_seq_no, t.remote_start_id))


def ocpp201_transaction(conn: sqlite3.Connection, local_tx_id: int) -> Ocpp201Transaction | None:
    row = conn.execute("SELECT local_tx_id, transaction_id, evse_id, next_seq_no, "
                       "remote_start_id FROM ocpp201_transactions WHERE local_tx_id=?",
                       (local_tx_id,)).fetchone()
    return None if row is None else Ocpp201Transaction(int(row[0]), str(row[1]), int(row[2]),
                                                       int(row[3]), row[4])


def ocpp201_local_tx_id(conn: sqlite3.Connection, transaction_id: str) -> int | None:
    """The local id of the running 2.0.1 transaction ``transaction_id`` (None: unknown)."""
    row = conn.execute("SELECT local_tx_id FROM ocpp201_transactions WHERE transaction_id=?",
                       (transaction_id,)).fetchone()
    return None if row is None else int(row[0])


def forget_ocpp201_transaction(conn: sqlite3.Connection, local_tx_id: int) -> None:
    conn.execute("DELETE FROM ocpp201_transactions WHERE local_tx_id=?", (local_tx_id,))


# ---------------------------------------------------------------------- counters
def get_counter(conn: sqlite3.Connection, name: str) -> int:
    """A persistent counter kept in ``meta`` (0 when never written)."""
    return int(get_meta(conn, name, "0") or 0)


def add_counter(conn: sqlite3.Connection, name: str, amount: int = 1) -> None:
    conn.execute("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET "
                 "value=CAST(CAST(value AS INTEGER) + ? AS TEXT)", (name, str(amount), amount))


# ---------------------------------------------------------------------- charging profiles
def save_charging_profiles(conn: sqlite3.Connection, profiles: tuple[Any, ...]) -> None:
    """Replace the installed charging profiles (``ChargingProfile``s), [E16] 3.37."""
    from dataclasses import asdict

    set_meta(conn, "charging_profiles", json.dumps([asdict(p) for p in profiles],
                                                   separators=(",", ":")))


def save_reservations(conn: sqlite3.Connection, reservations: tuple[Any, ...]) -> None:
    """Replace the reservations (``firmware.core.reservations.Reservation``s)."""
    from dataclasses import asdict

    set_meta(conn, "reservations", json.dumps([asdict(r) for r in reservations],
                                              separators=(",", ":")))


def reservations(conn: sqlite3.Connection) -> list[Any]:
    """The reservations saved by ``save_reservations``; [] when none or unreadable
    (logged: the CSMS then sees the connectors Available and may reserve again)."""
    from firmware.core.reservations import Reservation

    try:
        rows = json.loads(get_meta(conn, "reservations", "[]") or "[]")
        return [Reservation(int(row["reservation_id"]), int(row["connector_id"]),
                            str(row["id_tag"]), float(row["expiry_s"]),
                            None if row.get("parent_id_tag") is None
                            else str(row["parent_id_tag"]))
                for row in rows]
    except (ValueError, TypeError, KeyError, AttributeError):
        log.warning("saved reservations unreadable; starting without them")
        return []


def charging_profiles(conn: sqlite3.Connection) -> list[Any]:
    """The profiles saved by ``save_charging_profiles``; [] when none or unreadable."""
    from firmware.core.smart_charging import ChargingProfile, SchedulePeriod

    try:
        rows = json.loads(get_meta(conn, "charging_profiles", "[]") or "[]")
        return [ChargingProfile(**{**row, "periods": tuple(SchedulePeriod(**p)
                                                           for p in row["periods"])})
                for row in rows]
    except (ValueError, TypeError, KeyError):
        log.warning("saved charging profiles unreadable; starting without them")
        return []


# ---------------------------------------------------------------------- firmware update
FIRMWARE_UPDATE_KEY = "firmware_update"


def save_firmware_update(conn: sqlite3.Connection, record: Any) -> None:
    """The firmware update's state (``firmware.core.firmware_update.FirmwareUpdateRecord``)
    as JSON in ``meta``; None forgets it."""
    import dataclasses

    if record is None:
        conn.execute("DELETE FROM meta WHERE key=?", (FIRMWARE_UPDATE_KEY,))
        return
    set_meta(conn, FIRMWARE_UPDATE_KEY, json.dumps(dataclasses.asdict(record)))


def load_firmware_update(conn: sqlite3.Connection) -> Any:
    """The stored firmware update record, or None (none stored, or unreadable: logged;
    an update whose state is lost cannot be resumed, and the old firmware runs)."""
    from firmware.core.firmware_update import FirmwareRequest, FirmwareUpdateRecord

    text = get_meta(conn, FIRMWARE_UPDATE_KEY)
    if not text:
        return None
    try:
        data = json.loads(text)
        request = FirmwareRequest(**data.pop("request"))
        return FirmwareUpdateRecord(request=request, **data)
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        log.error("stored firmware update state unreadable, forgotten: %s", e)
        return None
