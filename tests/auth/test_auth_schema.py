"""The auth tables plug into the agent's database: idempotent migrate(conn), own
schema-version row, refusal of a newer schema, a connection factory, storage errors."""

from __future__ import annotations

import sqlite3

import pytest

from firmware.auth import AuthorizationStore, AuthSchemaError, migrate
from firmware.auth import listdb
from firmware.core.authorization import AuthKeys
from tests.auth.auth_helpers import entry, full


@pytest.mark.parametrize("isolation_level", [None, ""])
def test_migrate_is_idempotent_and_leaves_other_tables_alone(tmp_path, isolation_level):
    conn = sqlite3.connect(tmp_path / "borne.db", isolation_level=isolation_level)
    conn.execute("CREATE TABLE outbox (seq INTEGER PRIMARY KEY)")
    conn.execute("PRAGMA user_version = 3")  # the store's own version is not ours
    if isolation_level == "":
        conn.commit()
    assert migrate(conn) == migrate(conn) == 1
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"outbox", "auth_schema", "auth_state", "auth_list", "auth_list_delta",
            "auth_cache"} <= names
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 3


def test_a_newer_auth_schema_is_refused(tmp_path):
    conn = sqlite3.connect(tmp_path / "borne.db", isolation_level=None)
    migrate(conn)
    conn.execute("UPDATE auth_schema SET version = 99")
    with pytest.raises(AuthSchemaError, match="newer"):
        migrate(conn)
    with pytest.raises(AuthSchemaError):
        AuthorizationStore(tmp_path / "borne.db")


def test_migrate_refuses_to_run_inside_a_transaction(tmp_path):
    conn = sqlite3.connect(tmp_path / "borne.db", isolation_level=None)
    conn.execute("BEGIN")
    with pytest.raises(AuthSchemaError):
        migrate(conn)


def test_store_with_a_connection_factory(tmp_path):
    path = tmp_path / "state" / "borne.db"
    path.parent.mkdir()
    store = AuthorizationStore(connect=lambda: sqlite3.connect(path, check_same_thread=False),
                               index_dir=tmp_path / "index", keys=AuthKeys())
    try:
        assert store.apply_send_local_list_sync(full(1, entry("A"))) == "Accepted"
        assert list((tmp_path / "index").glob("auth_list.*.idx"))
    finally:
        store.close()
    with pytest.raises(ValueError):
        AuthorizationStore(connect=lambda: sqlite3.connect(path))  # needs index_dir


def test_a_storage_error_fails_the_update_and_keeps_the_old_list(store, monkeypatch):
    assert store.apply_send_local_list_sync(full(1, entry("A"))) == "Accepted"

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(listdb, "write_index", disk_full)
    assert store.apply_send_local_list_sync(full(2, entry("B"))) == "Failed"
    assert "No space left" in store.last_update
    assert store.list_version() == 1 and store.list_entry("A") and not store.list_entry("B")
