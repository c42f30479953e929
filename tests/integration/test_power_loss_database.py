"""What the outbox keeps across restarts and upgrades, on the real SQLite database.

A database written by the first release (schema version 1) opens with this one and
keeps its queue; the retry state, the failure and drop counters and the disk budget's
figures are read back from disk after a restart.
"""

import json
import sqlite3

from firmware.ocpp.outbox import Outbox, RetryPolicy
from firmware.store import db
from firmware.store import repositories as repo

T0 = 1_767_225_600.0


def payload(n: int) -> dict:
    return {"connectorId": 1, "idTag": f"DB{n:06d}", "meterStart": n,
            "timestamp": "2026-01-01T00:00:00.000Z"}


def test_a_version_1_database_is_upgraded_with_its_queue_intact(tmp_path):
    path = tmp_path / db.DB_FILENAME
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in db._statements(db.MIGRATIONS[1]):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    for n in range(3):  # the columns a version-1 release wrote (no protocol: version 5)
        conn.execute("INSERT INTO outbox(action, local_tx_id, payload, created_at_s) "
                     "VALUES(?, ?, ?, ?)", ("StartTransaction", n + 1,
                                            json.dumps(payload(n)), T0 + n))
    conn.close()

    upgraded = db.open_database(tmp_path)
    assert upgraded.execute("PRAGMA user_version").fetchone()[0] == len(db.MIGRATIONS) - 1
    assert [name for (name,) in upgraded.execute(
        "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='outbox'")] == [
        "outbox_by_local_tx"]
    assert repo.outbox_stats(upgraded)[0] == 3
    assert repo.outbox_head(upgraded).payload == payload(0)
    assert repo.outbox_protocols(upgraded) == {"ocpp1.6": 3}  # queued before 2.0.1 existed


def test_retry_state_counters_and_queue_size_come_back_after_a_restart(tmp_path):
    policy = RetryPolicy(attempts=3, interval_s=60.0)
    conn = db.open_database(tmp_path)
    with db.atomic(conn):
        for n in range(2):
            repo.outbox_append(conn, "StartTransaction", n + 1, payload(n), T0)
    outbox = Outbox(conn, lambda: policy, budget_bytes=10)
    outbox.account_appended()
    ready, _ = outbox.head(T0)
    assert outbox.failed(ready, T0, "InternalError") is False
    ready, wait_s = outbox.head(T0)
    assert ready is None and 59.0 < wait_s <= 60.0  # a monotonic wait: real time passes
    stored = outbox.snapshot()
    conn.close()

    conn = db.open_database(tmp_path)
    monotonic = [0.0]  # retry waits run on the monotonic clock: drive it here
    again = Outbox(conn, lambda: policy, budget_bytes=10, monotonic=lambda: monotonic[0])
    snap = again.snapshot()
    assert (snap.depth, snap.head_attempts, snap.head_next_attempt_at_s) == (2, 1, T0 + 60.0)
    assert snap.failed_transmissions_total == 1 and snap.dropped_total == 0
    assert snap.stored_bytes == stored.stored_bytes > 10 and snap.over_budget
    ready, _ = again.head(T0 + 60.0)
    assert again.failed(ready, T0 + 60.0, "InternalError") is False  # transmission 2 of 3
    monotonic[0] += 120.0
    ready, _ = again.head(T0 + 180.0)
    assert again.failed(ready, T0 + 180.0, "InternalError") is True  # 3 of 3: dropped
    snap = again.snapshot()
    assert (snap.depth, snap.failed_transmissions_total, snap.dropped_total) == (1, 3, 1)
