"""Accountability: console lines for ``auth stats`` and ``auth lookup TAG``."""

from __future__ import annotations

from tests.auth.auth_helpers import NOW, entry, full, keys


def test_stats_lines(store):
    store.apply_send_local_list_sync(full(7, entry("A"), entry("B", "Blocked")))
    store.cache_update("C", "Accepted", None, None, NOW)
    for tag in ("A", "C", "C", "Z"):
        store.lookup(tag)
    text = "\n".join(store.stats_lines())
    assert "list: enabled, version 7, 2 entries" in text
    assert "cache: enabled, 1/10000 entries, hit rate 66.7% (2 of 3)" in text
    assert "lookups: 4, list hits 1 (25.0%), local hits 75.0%" in text
    assert "last list update: Accepted Full v7 2 entries" in text


def test_stats_lines_when_disabled(open_store):
    store = open_store(keys=keys(local_auth_list_enabled=False,
                                 authorization_cache_enabled=False))
    text = "\n".join(store.stats_lines())
    assert "list: disabled, version -1" in text and "cache: disabled" in text


def test_lookup_report_for_a_list_tag(store):
    store.apply_send_local_list_sync(full(1, entry("DE8AAC12345678X", "Accepted",
                                                  expiryDate="2026-01-02T00:00:00Z",
                                                  parentIdTag="fleet")))
    lines = store.lookup_report("de8aac12345678x", keys(local_pre_authorize=True), NOW)
    assert lines[0] == "tag: 'de8aac12345678x' -> canonical DE8AAC12345678X"
    assert lines[1].startswith("eMAID: DE-8AA-C12345678-X (check digit")
    assert "list: Accepted, 2026-01-02T00:00:00Z, parent FLEET" in lines
    assert "cache: not found" in lines
    assert "decision online: start (list:Accepted)" in lines
    assert "decision offline: start (list:Accepted)" in lines


def test_lookup_report_shows_expiry_and_the_negative_cache(store):
    store.cache_update("T1", "Accepted", NOW - 1, None, NOW - 100)
    store.remember_rejection("T1", NOW)
    lines = store.lookup_report("T1", None, NOW)
    assert "cache: Expired (was Accepted), 2025-12-31T23:59:59Z" in lines
    assert "negative cache: refused by the CSMS, 30 s left" in lines
    assert "decision offline: reject (negative-cache)" in lines


def test_lookup_report_changes_no_statistics(store):
    store.cache_update("T1", "Accepted", None, None, NOW)
    store.lookup_report("T1", None, NOW)
    assert store.lookups == 0 and store.cache.hits == 0


def test_lookup_report_warns_about_tags_ocpp_cannot_carry(store):
    lines = store.lookup_report("0123456789ABCDEF012345", None, NOW)
    assert any(line.startswith("warning: 22 characters") for line in lines)
