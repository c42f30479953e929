"""Schema version 5 (issue 9 item 2): every queued message names its OCPP version, and
2.0.1 transactions keep their station-chosen transactionId and next seqNo on disk.

On the real SQLite database: a version-4 database (the release before) opens with its
queue tagged "ocpp1.6", the rows of one version are invisible to an outbox of the
other, and a forced switch deletes only the other version's rows.
"""

import sqlite3

from firmware.ocpp.outbox import Outbox, RetryPolicy
from firmware.store import db
from firmware.store import repositories as repo

T0 = 1_767_225_600.0
POLICY = RetryPolicy(attempts=3, interval_s=10.0)


def version_4_database(tmp_path, rows: int) -> None:
    conn = sqlite3.connect(tmp_path / db.DB_FILENAME, isolation_level=None)
    for version in range(1, 5):
        for statement in db._statements(db.MIGRATIONS[version]):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 4")
    for n in range(rows):  # the columns a version-4 release wrote
        conn.execute("INSERT INTO outbox(action, local_tx_id, payload, created_at_s) "
                     "VALUES('StartTransaction', ?, '{\"n\":1}', ?)", (n + 1, T0 + n))
    conn.close()


def test_a_version_4_queue_is_tagged_ocpp16_after_the_upgrade(tmp_path):
    version_4_database(tmp_path, rows=3)
    conn = db.open_database(tmp_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(db.MIGRATIONS) - 1
    assert repo.outbox_protocols(conn) == {"ocpp1.6": 3}
    assert repo.outbox_stats(conn)[0] == 3


def test_an_outbox_sends_only_the_rows_of_its_own_protocol(tmp_path):
    conn = db.open_database(tmp_path)
    with db.atomic(conn):
        repo.outbox_append(conn, "StartTransaction", 1, {"a": 1}, T0, "ocpp1.6")
        repo.outbox_append(conn, "TransactionEvent", 2, {"b": 2}, T0, "ocpp2.0.1")
    v201 = Outbox(conn, lambda: POLICY, protocol="ocpp2.0.1",
                  csms_assigns_transaction_ids=False)
    ready, _ = v201.head(T0)
    assert ready is not None and (ready.action, ready.payload) == ("TransactionEvent", {"b": 2})
    v201.delivered(ready, {})
    v201.flush()
    assert v201.head(T0) == (None, None)  # the 1.6 row is not ours to send
    assert repo.outbox_protocols(conn) == {"ocpp1.6": 1}


def test_a_201_event_after_an_undelivered_started_is_not_dropped_for_want_of_a_csms_id(
        tmp_path):
    # 2.0.1: the station chose the transactionId, it is in every payload already.
    conn = db.open_database(tmp_path)
    with db.atomic(conn):
        for n in range(2):
            repo.outbox_append(conn, "TransactionEvent", 7, {"seqNo": n}, T0, "ocpp2.0.1")
    outbox = Outbox(conn, lambda: POLICY, protocol="ocpp2.0.1",
                    csms_assigns_transaction_ids=False)
    seen = []
    for _ in range(2):
        ready, _ = outbox.head(T0)
        assert ready is not None
        seen.append(ready.payload["seqNo"])
        outbox.delivered(ready, {})
    assert seen == [0, 1]


def test_discarding_the_other_protocol_keeps_ours(tmp_path):
    conn = db.open_database(tmp_path)
    with db.atomic(conn):
        for n in range(3):
            repo.outbox_append(conn, "StartTransaction", n, {}, T0, "ocpp1.6")
        repo.outbox_append(conn, "TransactionEvent", 9, {}, T0, "ocpp2.0.1")
        assert repo.outbox_discard_other_than(conn, "ocpp2.0.1") == 3
    assert repo.outbox_protocols(conn) == {"ocpp2.0.1": 1}


def test_201_transaction_state_round_trips_and_is_forgotten(tmp_path):
    conn = db.open_database(tmp_path)
    with db.atomic(conn):
        repo.save_ocpp201_transaction(conn, repo.Ocpp201Transaction(4, "4-1767225600", 1, 2,
                                                                    None))
    assert repo.ocpp201_transaction(conn, 4) == repo.Ocpp201Transaction(
        4, "4-1767225600", 1, 2, None)
    assert repo.ocpp201_local_tx_id(conn, "4-1767225600") == 4
    assert repo.ocpp201_local_tx_id(conn, "nope") is None
    with db.atomic(conn):
        repo.forget_ocpp201_transaction(conn, 4)
    assert repo.ocpp201_transaction(conn, 4) is None
