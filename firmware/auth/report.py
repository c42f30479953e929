"""Text for the technician console: ``auth stats`` and ``auth lookup TAG``.

Functions return lines without the final ``OK``; the console adds it. They read the
store without changing statistics, cache recency or the negative cache. The tag a
technician types is shown in full: the console is a local, physical-access channel
(INFO logs elsewhere mask idTags).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from firmware.core import authorization as rules
from firmware.core.idtag import ID_TAG_MAX_CHARS, normalise_id_tag, parse_emaid

if TYPE_CHECKING:
    from .store import AuthorizationStore


def _when(epoch_s: float | None) -> str:
    if epoch_s is None:
        return "no expiry"
    return datetime.fromtimestamp(epoch_s, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "n/a"


def stats_lines(store: "AuthorizationStore") -> list[str]:
    keys = store.keys
    view = store._view
    state = view.state
    cache = store.cache
    list_flag = "enabled" if keys.local_auth_list_enabled else "disabled"
    cache_flag = "enabled" if keys.authorization_cache_enabled else "disabled"
    index = view.index
    index_text = ("rebuilding, served from SQLite" if index.generation < 0
                  else f"index generation {index.generation}")
    looked_up_in_cache = cache.hits + cache.misses
    return [
        f"list: {list_flag}, version {store.list_version()}, {state.count} entries "
        f"(max {keys.local_auth_list_max_length}; {index_text}, "
        f"{len(view.overlay)} changes pending)",
        f"cache: {cache_flag}, {len(cache)}/{cache.capacity} entries, hit rate "
        f"{_pct(cache.hits, looked_up_in_cache)} ({cache.hits} of {looked_up_in_cache})",
        f"lookups: {store.lookups}, list hits {store.list_hits} "
        f"({_pct(store.list_hits, store.lookups)}), local hits "
        f"{_pct(store.list_hits + cache.hits, store.lookups)}",
        f"negative cache: {len(store.negative)} tags, window {store.negative.window_s:g} s, "
        f"{store.negative.refusals} refusals",
        f"last list update: {store.last_update}",
    ]


def _entry_text(entry: Any, now: float) -> str:
    status = rules.effective_status(entry, now)
    shown = status if status == entry.status else f"{status} (was {entry.status})"
    parent = f", parent {entry.parent_id_tag}" if entry.parent_id_tag else ""
    return f"{shown}, {_when(entry.expiry_s)}{parent}"


def lookup_lines(store: "AuthorizationStore", id_tag: str, keys: rules.AuthKeys,
                 now: float) -> list[str]:
    tag = normalise_id_tag(id_tag.strip())
    lines = [f"tag: {id_tag.strip()!r} -> canonical {tag}"]
    if len(tag) > ID_TAG_MAX_CHARS:
        lines.append(f"warning: {len(tag)} characters, longer than CiString20 "
                     f"({ID_TAG_MAX_CHARS}): OCPP 1.6 cannot carry it")
    emaid = parse_emaid(tag)
    if emaid is not None:
        check = {None: "no check digit", True: "check digit OK",
                 False: "check digit WRONG"}[emaid.check_ok]
        lines.append(f"eMAID: {emaid.display} ({check})")
    list_entry = store.list_entry(tag)
    cache_entry = store.cache.peek(tag)
    list_note = "" if keys.local_auth_list_enabled else " [LocalAuthListEnabled=false: unused]"
    cache_note = "" if keys.authorization_cache_enabled else \
        " [AuthorizationCacheEnabled=false: unused]"
    lines.append("list: " + (_entry_text(list_entry, now) if list_entry else "not found")
                 + list_note)
    lines.append("cache: " + (_entry_text(cache_entry, now) if cache_entry else "not found")
                 + cache_note)
    remaining = store.negative.remaining_s(tag, now)
    negative = remaining is not None
    lines.append(f"negative cache: refused by the CSMS, {remaining:.0f} s left" if negative
                 else "negative cache: no")
    for label, online in (("online", True), ("offline", False)):
        d = rules.decide_start(tag, list_entry, cache_entry, online=online, keys=keys,
                               now=now, negative_cached=negative)
        lines.append(f"decision {label}: {d.action} ({d.why})")
    return lines
