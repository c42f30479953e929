"""The StopTxn*Data samples of a running transaction survive a restart (#8 item 14)."""

from firmware.core.connector import TransactionRecord
from firmware.core.effects import MeterSample, SampledValue
from firmware.store import repositories as repo
from firmware.store.db import atomic, open_database


def test_stop_data_round_trips_through_the_store(tmp_path):
    conn = open_database(tmp_path)
    samples = (MeterSample(1.5, (SampledValue("12", "Energy.Active.Import.Register",
                                              "Transaction.Begin", "Wh"),
                                 SampledValue("7.1", "Current.Import", "Sample.Periodic", "A",
                                              "L1", "Outlet"))),)
    with atomic(conn):
        repo.save_transaction(conn, TransactionRecord(3, 1, "T", None, 12, 1.0))
        repo.save_stop_data(conn, 3, samples)
    assert repo.stop_data(conn, 3) == samples
    assert repo.stop_data(conn, 99) == ()


def test_unreadable_stop_data_is_sent_as_none_not_a_crash(tmp_path):
    conn = open_database(tmp_path)
    with atomic(conn):
        repo.save_transaction(conn, TransactionRecord(3, 1, "T", None, 12, 1.0))
        conn.execute("UPDATE transactions SET stop_data='{not json' WHERE local_tx_id=3")
    assert repo.stop_data(conn, 3) == ()
