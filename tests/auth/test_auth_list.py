"""Local Authorization List management ([16] §3.5.2, §5.10 GetLocalListVersion, §5.15
SendLocalList) through the store's public API, small lists."""

from __future__ import annotations

import pytest

from firmware.auth import SendLocalListFormatError
from firmware.auth import store as store_module
from firmware.core.authorization import LocalEntry
from tests.auth.auth_helpers import NOW, diff, entry, full, keys


def contents(store, tags):
    return {t: store.list_entry(t) for t in tags}


# -------------------------------------------------------------- bad input first
@pytest.mark.parametrize("payload", [
    {"listVersion": "2", "updateType": "Full"},
    {"listVersion": 2, "updateType": "Full", "localAuthorizationList": [
        {"idTag": "X" * 21, "idTagInfo": {"status": "Accepted"}}]},
    {"listVersion": 2, "updateType": "Full", "localAuthorizationList": [{"idTag": "A"}]},
])
async def test_malformed_payload_raises_callerror_and_changes_nothing(store, payload):
    assert await store.apply_send_local_list(full(1, entry("A"))) == "Accepted"
    with pytest.raises(SendLocalListFormatError):
        await store.apply_send_local_list(payload)
    assert store.list_version() == 1 and store.list_entry("A") is not None
    assert store.last_update.startswith("CALLERROR")


async def test_duplicates_in_one_message_fail_and_change_nothing(store):
    await store.apply_send_local_list(full(1, entry("A")))
    status = await store.apply_send_local_list(full(2, entry("B"), entry("b", "Blocked")))
    assert status == "Failed"
    assert store.list_version() == 1 and store.list_entry("B") is None


async def test_over_send_local_list_max_length_fails_and_changes_nothing(open_store):
    store = open_store(keys=keys(send_local_list_max_length=2))
    await store.apply_send_local_list(full(1, entry("A")))
    assert await store.apply_send_local_list(
        full(2, entry("B"), entry("C"), entry("D"))) == "Failed"
    assert await store.apply_send_local_list(
        diff(2, entry("B"), entry("C"), entry("D"))) == "Failed"
    assert store.list_version() == 1 and store.list_size() == 1


async def test_over_local_auth_list_max_length_fails_and_changes_nothing(open_store):
    store = open_store(keys=keys(local_auth_list_max_length=3))
    assert await store.apply_send_local_list(
        full(1, entry("A"), entry("B"), entry("C"), entry("D"))) == "Failed"
    assert await store.apply_send_local_list(full(1, entry("A"), entry("B"))) == "Accepted"
    # +2 new, 1 update: 4 > 3 → Failed, nothing of it applied.
    assert await store.apply_send_local_list(
        diff(2, entry("A", "Blocked"), entry("C"), entry("D"))) == "Failed"
    assert store.list_entry("A").status == "Accepted" and store.list_entry("C") is None
    # A removal makes room: -1 +2 = 3 entries.
    assert await store.apply_send_local_list(
        diff(2, {"idTag": "A"}, entry("C"), entry("D"))) == "Accepted"
    assert store.list_size() == 3


async def test_list_disabled_is_not_supported_and_reports_minus_one(open_store):
    store = open_store(keys=keys(local_auth_list_enabled=False))
    assert store.list_version() == -1
    assert await store.apply_send_local_list(full(1, entry("A"))) == "NotSupported"
    assert store.list_size() == 0


async def test_full_with_version_0_and_entries_fails(store):
    assert await store.apply_send_local_list(full(0, entry("A"))) == "Failed"


# ----------------------------------------------------------------------- rules
async def test_empty_list_reports_version_0(store):
    assert store.list_version() == 0
    assert await store.apply_send_local_list(full(5)) == "Accepted"
    assert store.list_version() == 0  # [16] §5.10: 0 = the list is empty


async def test_full_replaces_list_and_version(store):
    assert await store.apply_send_local_list(full(
        3, entry("aa", expiryDate="2030-01-01T00:00:00Z", parentIdTag="fleet"),
        entry("BB", "Blocked"))) == "Accepted"
    assert store.list_version() == 3 and store.list_size() == 2
    assert store.list_entry("AA") == LocalEntry("AA", "Accepted", 1893456000.0, "FLEET", "list")
    assert await store.apply_send_local_list(full(2, entry("CC"))) == "Accepted"
    assert store.list_version() == 2  # a Full may lower the version
    assert contents(store, ["AA", "BB"]) == {"AA": None, "BB": None}
    assert store.list_entry("cc").status == "Accepted"


@pytest.mark.parametrize("version", [3, 2, 0, -1])
async def test_differential_with_version_not_above_current_is_version_mismatch(store, version):
    await store.apply_send_local_list(full(3, entry("A")))
    assert await store.apply_send_local_list(diff(version, entry("B"))) == "VersionMismatch"
    assert store.list_entry("B") is None and store.list_version() == 3


async def test_differential_adds_updates_and_removes(store):
    await store.apply_send_local_list(full(1, entry("A"), entry("B"), entry("C")))
    status = await store.apply_send_local_list(diff(
        2, entry("a", "Blocked"), {"idTag": "B"}, entry("D", parentIdTag="g"), {"idTag": "ZZ"}))
    assert status == "Accepted"
    assert store.list_version() == 2 and store.list_size() == 3
    assert store.list_entry("A").status == "Blocked"
    assert store.list_entry("B") is None
    assert store.list_entry("D").parent_id_tag == "G"


async def test_differential_on_an_empty_list(store):
    assert await store.apply_send_local_list(diff(1, entry("A"))) == "Accepted"
    assert store.list_version() == 1
    assert await store.apply_send_local_list(diff(2, {"idTag": "A"})) == "Accepted"
    assert store.list_version() == 0  # emptied


async def test_long_and_non_ascii_tags(store):
    tag = "É" * 20  # 40 UTF-8 bytes: stored in the index in digest form
    await store.apply_send_local_list(full(1, entry(tag), entry("é" * 19 + "a")))
    assert store.list_entry(tag).id_tag == tag
    assert store.list_entry("é" * 19 + "A") is not None  # only ASCII letters fold
    assert store.list_entry("É" * 19) is None


async def test_new_list_ids_leave_the_cache(store):
    store.cache_update("A", "Accepted", None, None, NOW)
    assert store.lookup("A")[1] is not None
    await store.apply_send_local_list(diff(1, entry("A", "Blocked")))
    assert store.cache.peek("A") is None
    assert store.lookup("A") == (store.list_entry("A"), None)


# ---------------------------------------------------------- persistence / index
async def test_list_survives_restart_with_pending_differentials(open_store):
    store = open_store()
    await store.apply_send_local_list(full(1, entry("A"), entry("B")))
    await store.apply_send_local_list(diff(2, {"idTag": "A"}, entry("C", "Invalid")))
    store.close()
    again = open_store()
    assert again.list_version() == 2 and again.list_size() == 2
    assert contents(again, ["A", "B"]) == {"A": None, "B": again.list_entry("B")}
    assert again.list_entry("C").status == "Invalid"


async def test_overlay_is_compacted_into_a_new_index(open_store, monkeypatch):
    monkeypatch.setattr(store_module, "OVERLAY_MIN", 2)
    store = open_store()
    await store.apply_send_local_list(full(1, entry("A")))
    generation = store._view.state.generation
    await store.apply_send_local_list(diff(2, entry("B"), entry("C"), {"idTag": "A"}))
    store.wait_idle()
    assert store._view.state.generation == generation + 1 and not store._view.overlay
    assert store.list_size() == 2 and store.list_entry("A") is None
    assert store.list_entry("C") is not None
    files = sorted(p.name for p in store.index_dir.glob("auth_list.*"))
    assert files == [f"auth_list.{generation + 1:016x}.idx"]
    store.close()
    assert open_store().list_entry("B") is not None


@pytest.mark.parametrize("damage", ["delete", "truncate", "garble"])
async def test_lost_or_damaged_index_is_served_from_sqlite_and_rebuilt(open_store, damage):
    store = open_store()
    await store.apply_send_local_list(full(4, entry("A"), entry("B", "Blocked")))
    store.close()
    [path] = store.index_dir.glob("auth_list.*.idx")
    if damage == "delete":
        path.unlink()
    elif damage == "truncate":
        path.write_bytes(path.read_bytes()[:100])
    else:
        data = bytearray(path.read_bytes())
        data[20] ^= 0xFF
        path.write_bytes(bytes(data))
    again = open_store()
    assert again.list_entry("B").status == "Blocked"  # from SQLite or the rebuilt index
    again.wait_idle()
    assert again._view.index.generation > 0
    assert again.list_entry("A").status == "Accepted" and again.list_version() == 4


async def test_leftovers_of_an_interrupted_update_are_cleaned_at_open(open_store):
    store = open_store()
    await store.apply_send_local_list(full(1, entry("A")))
    store.close()
    conn = store._conn.__class__(str(store.index_dir / "borne.db"))
    conn.execute("CREATE TABLE auth_list_shadow (id_tag TEXT PRIMARY KEY, status INTEGER, "
                 "expiry_s INTEGER, parent_id_tag TEXT) WITHOUT ROWID")
    conn.executemany("INSERT INTO auth_list_shadow VALUES (?, 0, NULL, NULL)",
                     [(f"S{i}",) for i in range(12_000)])
    conn.commit()
    conn.close()
    (store.index_dir / "auth_list.00000000000000ff.idx.tmp").write_bytes(b"partial")
    again = open_store()
    again.wait_idle()
    names = {r[0] for r in again._conn.execute("SELECT name FROM sqlite_master")}
    assert not any(n.startswith(("auth_list_shadow", "auth_list_old")) for n in names)
    assert [p.name for p in again.index_dir.glob("auth_list.*")] == [
        f"auth_list.{again._view.state.generation:016x}.idx"]
    assert again.list_entry("A") is not None and again.list_entry("S1") is None


async def test_replace_list_bulk_load(store):
    store.replace_list(((f"t{i}", "Accepted" if i % 2 else "Blocked", None, "grp")
                        for i in range(3000)), 3000, 9)
    assert store.list_version() == 9 and store.list_size() == 3000
    assert store.list_entry("T2999") == LocalEntry("T2999", "Accepted", None, "GRP", "list")
    assert store.list_entry("t0").status == "Blocked"
