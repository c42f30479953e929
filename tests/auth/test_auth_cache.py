"""Authorization cache ([16] §3.5.1, §3.5.3, [E16] 3.23) and the negative cache, through
the store: fed from IdTagInfo, bounded LRU, persistent, ClearCache, expiry."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from firmware.core.authorization import LocalEntry
from tests.auth.auth_helpers import NOW, decide, entry, full, keys


@dataclass(frozen=True)
class Info:
    status: str
    expiry_s: float | None = None
    parent_id_tag: str | None = None


# -------------------------------------------------------------- bad input first
def test_unknown_status_is_refused(store):
    with pytest.raises(ValueError):
        store.cache_update("A", "Valid", None, None, NOW)
    assert len(store.cache) == 0


def test_negative_capacity_is_refused(open_store):
    with pytest.raises(ValueError):
        open_store(cache_capacity=-1)


# ----------------------------------------------------------------------- rules
def test_cache_is_fed_and_found_case_insensitively(store):
    assert store.cache_update("ab12", "Accepted", NOW + 60, "fleet", NOW)
    assert store.lookup("AB12") == (None, LocalEntry("AB12", "Accepted", NOW + 60, "FLEET",
                                                     "cache"))


def test_sec3_5_3_list_identifiers_are_never_cached(store):
    store.apply_send_local_list_sync(full(1, entry("L1")))
    assert store.cache_update("l1", "Accepted", None, None, NOW) is False
    assert store.cache.peek("L1") is None


def test_cache_disabled_stores_nothing_but_clear_cache_still_works(open_store):
    store = open_store(keys=keys(authorization_cache_enabled=False))
    assert store.cache_update("A", "Accepted", None, None, NOW) is False
    assert store.cache_clear() is True


def test_e16_3_23_clear_cache_rejected_without_a_cache(open_store):
    store = open_store(cache_capacity=0)
    assert store.cache_update("A", "Accepted", None, None, NOW) is False
    assert store.cache_clear() is False


def test_clear_cache_empties_it_persistently(open_store):
    store = open_store()
    store.cache_update("A", "Accepted", None, None, NOW)
    assert store.cache_clear() is True
    assert store.lookup("A") == (None, None)
    store.close()
    assert open_store().lookup("A") == (None, None)


def test_least_recently_used_is_evicted(open_store):
    store = open_store(cache_capacity=3)
    for tag in "ABC":
        store.cache_update(tag, "Accepted", None, None, NOW)
    store.lookup("A")  # A is now the most recently used; B the least
    store.cache_update("D", "Accepted", None, None, NOW)
    assert [t for t in "ABCD" if store.cache.peek(t)] == ["A", "C", "D"]


def test_cache_and_its_recency_survive_a_restart(open_store):
    store = open_store(cache_capacity=3)
    for tag in "ABC":
        store.cache_update(tag, "Blocked", NOW + 5, None, NOW)
    store.lookup("A")  # recency from a hit is written at close
    store.close()
    again = open_store(cache_capacity=3)
    assert again.cache.peek("A") == LocalEntry("A", "Blocked", NOW + 5, None, "cache")
    again.cache_update("D", "Accepted", None, None, NOW)
    assert again.cache.peek("B") is None and again.cache.peek("A") is not None


def test_a_smaller_capacity_at_restart_keeps_the_most_recent(open_store):
    store = open_store(cache_capacity=10)
    for tag in "ABCDE":
        store.cache_update(tag, "Accepted", None, None, NOW)
    store.close()
    again = open_store(cache_capacity=2)
    assert [t for t in "ABCDE" if again.cache.peek(t)] == ["D", "E"]
    again.close()
    assert len(open_store(cache_capacity=10).cache) == 2


def test_sec3_5_1_expiry_is_honoured_at_decision_time(store):
    store.cache_update("A", "Accepted", NOW + 10, None, NOW)
    k = keys(allow_offline_tx_for_unknown_id=True)
    assert decide(store, "A", online=False, now=NOW, keys=k).action == "start"
    late = decide(store, "A", online=False, now=NOW + 10, keys=k)
    assert (late.action, late.why) == ("reject", "cache:Expired")


def test_record_id_tag_info_reports_list_conflicts_and_never_caches_list_ids(store):
    store.apply_send_local_list_sync(full(1, entry("L1")))
    verdict = store.record_id_tag_info("l1", Info("Invalid"), NOW)
    assert verdict.local_list_conflict and verdict.cache_entry is None
    assert store.cache.peek("L1") is None
    verdict = store.record_id_tag_info("X", Info("Blocked"), NOW)
    assert not verdict.local_list_conflict and store.cache.peek("X").status == "Blocked"


# ------------------------------------------------------------------ negative cache
def test_a_refused_tag_tapped_again_within_the_window_is_answered_locally(open_store):
    store = open_store(negative_window_s=20)
    online = keys(local_pre_authorize=True)
    assert decide(store, "bad", online=True, now=NOW, keys=online).action == "ask"
    store.record_id_tag_info("BAD", Info("Invalid"), NOW)
    again = decide(store, "bad", online=True, now=NOW + 19, keys=online)
    assert (again.action, again.why) == ("reject", "negative-cache")
    # After the window the CSMS is asked again (the cache's Invalid entry → §3.5.1).
    later = decide(store, "bad", online=True, now=NOW + 20, keys=online)
    assert (later.action, later.why) == ("ask", "cache:Invalid")


def test_an_accepted_answer_clears_the_negative_entry(store):
    store.record_id_tag_info("T", Info("Invalid"), NOW)
    assert store.negative_cached("t", NOW)
    store.record_id_tag_info("T", Info("Accepted"), NOW + 1)
    assert not store.negative_cached("t", NOW + 1)


def test_negative_window_zero_disables_it(open_store):
    store = open_store(negative_window_s=0)
    store.remember_rejection("T", NOW)
    assert not store.negative_cached("T", NOW)
