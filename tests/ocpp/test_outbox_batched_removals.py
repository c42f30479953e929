"""Delivered outbox messages are removed in batches: at least once, never lost.

A crash (simulated: the database read by a second connection, the first one never
committing again) brings back at most ``DURABLE_EVERY`` confirmed messages, ahead of
every unconfirmed one and in order; a StartTransaction's removal and the CSMS
transactionId it records are on disk as soon as it is delivered ([16] §3.7: a
transaction message is not lost; a duplicate is the price of batching).
"""

import json
import sqlite3

from firmware.ocpp.outbox import DURABLE_EVERY, Outbox, RetryPolicy
from firmware.store import db
from firmware.store import repositories as repo

T0 = 1_767_225_600.0


class Monotonic:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def meter_values(n: int) -> dict:
    return {"connectorId": 1, "meterValue": [{"timestamp": "2026-01-01T00:00:00.000Z",
                                              "sampledValue": [{"value": str(n)}]}]}


def backlog(tmp_path, count: int, mono: Monotonic) -> tuple[sqlite3.Connection, Outbox]:
    conn = db.open_database(tmp_path)
    with db.atomic(conn):
        repo.outbox_append(conn, "StartTransaction", 1,
                           {"connectorId": 1, "idTag": "A", "meterStart": 0,
                            "timestamp": "2026-01-01T00:00:00.000Z"}, T0)
        for n in range(count):
            repo.outbox_append(conn, "MeterValues", 1, meter_values(n), T0 + n)
    return conn, Outbox(conn, lambda: RetryPolicy(attempts=3, interval_s=10.0),
                        monotonic=mono)


def on_disk(tmp_path) -> list[tuple[str, str]]:
    """What a restarted agent would find: (action, payload) of every queued row."""
    other = sqlite3.connect(tmp_path / db.DB_FILENAME)
    try:
        return list(other.execute("SELECT action, payload FROM outbox ORDER BY seq"))
    finally:
        other.close()


def deliver(outbox: Outbox, count: int) -> list[int]:
    seqs = []
    for _ in range(count):
        ready, _ = outbox.head(T0)
        assert ready is not None
        response = {"transactionId": 77, "idTagInfo": {"status": "Accepted"}} \
            if ready.action == "StartTransaction" else {}
        outbox.delivered(ready, response)
        seqs.append(ready.seq)
    return seqs


def test_a_start_transaction_and_its_transaction_id_are_on_disk_when_delivered(tmp_path):
    conn, outbox = backlog(tmp_path, 3, Monotonic())
    deliver(outbox, 1)
    assert [action for action, _ in on_disk(tmp_path)] == ["MeterValues"] * 3
    other = sqlite3.connect(tmp_path / db.DB_FILENAME)
    assert repo.transaction_id_for(other, 1) == 77
    other.close()


def test_a_crash_brings_back_confirmed_messages_first_never_loses_one(tmp_path):
    count = 2 * DURABLE_EVERY
    conn, outbox = backlog(tmp_path, count, Monotonic())
    deliver(outbox, 1 + DURABLE_EVERY // 2)  # the start, then half a batch
    unconfirmed = count - DURABLE_EVERY // 2
    rows = [payload for _, payload in on_disk(tmp_path)]
    expected = [json.dumps(meter_values(n), separators=(",", ":")) for n in range(count)]
    # A suffix of the queue: every unconfirmed message, in order, behind at most one
    # batch of confirmed ones (sent again after a restart).
    assert unconfirmed <= len(rows) <= unconfirmed + DURABLE_EVERY
    assert rows == expected[count - len(rows):]


def test_at_most_one_batch_of_confirmed_messages_is_ever_pending(tmp_path):
    conn, outbox = backlog(tmp_path, 3 * DURABLE_EVERY, Monotonic())
    for delivered in range(1, 3 * DURABLE_EVERY + 1):
        deliver(outbox, 1)
        remaining_unconfirmed = 3 * DURABLE_EVERY + 1 - delivered
        assert remaining_unconfirmed <= len(on_disk(tmp_path)) \
            < remaining_unconfirmed + DURABLE_EVERY


def test_a_pending_removal_is_committed_after_a_quarter_second(tmp_path):
    mono = Monotonic()
    conn, outbox = backlog(tmp_path, 4, mono)
    deliver(outbox, 2)  # the start (committed at once) and one MeterValues (pending)
    assert len(on_disk(tmp_path)) == 4
    mono.t += 0.25
    outbox.head(T0)
    assert len(on_disk(tmp_path)) == 3


def test_an_empty_queue_stats_and_flush_leave_nothing_pending(tmp_path):
    conn, outbox = backlog(tmp_path, 3, Monotonic())
    deliver(outbox, 2)
    assert outbox.stats()[0] == 2 and len(on_disk(tmp_path)) == 2  # stats commits first
    deliver(outbox, 1)
    outbox.flush()
    assert len(on_disk(tmp_path)) == 1
    deliver(outbox, 1)
    assert outbox.head(T0) == (None, None) and on_disk(tmp_path) == []


def test_rows_appended_during_the_drain_are_sent_after_the_read_ahead(tmp_path):
    conn, outbox = backlog(tmp_path, 2, Monotonic())
    deliver(outbox, 1)
    with db.atomic(conn):
        repo.outbox_append(conn, "MeterValues", 1, meter_values(99), T0 + 99)
    outbox.account_appended()
    sent = []
    while (ready := outbox.head(T0)[0]) is not None:
        sent.append(ready.payload["meterValue"][0]["sampledValue"][0]["value"])
        assert ready.payload["transactionId"] == 77
        outbox.delivered(ready, {})
    assert sent == ["0", "1", "99"] and on_disk(tmp_path) == []


def test_a_failure_after_delivered_messages_keeps_the_order(tmp_path):
    conn, outbox = backlog(tmp_path, 3, Monotonic())
    deliver(outbox, 2)
    ready, _ = outbox.head(T0)
    assert outbox.failed(ready, T0, "timeout") is False
    assert len(on_disk(tmp_path)) == 2  # the delivered ones were committed first
    assert outbox.head(T0)[0] is None  # the head waits its retry interval
