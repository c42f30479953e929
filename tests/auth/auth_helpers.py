"""Payload builders and constants shared by the authorization store tests."""

from __future__ import annotations

from dataclasses import replace

from firmware.core.authorization import AuthKeys

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def entry(tag: str, status: str = "Accepted", **info) -> dict:
    return {"idTag": tag, "idTagInfo": {"status": status, **info}}


def full(version: int, *entries: dict) -> dict:
    return {"listVersion": version, "updateType": "Full", "localAuthorizationList": list(entries)}


def diff(version: int, *entries: dict) -> dict:
    return {"listVersion": version, "updateType": "Differential",
            "localAuthorizationList": list(entries)}


def keys(**changes) -> AuthKeys:
    return replace(AuthKeys(), **changes)


def decide(store, id_tag: str, *, online: bool, now: float, keys: AuthKeys | None = None):
    """What the agent does for a tap: the store's lookup and negative cache (the
    ``StoreAuthorization.lookup`` port), then the core's ``decide_start`` rules."""
    from firmware.core import authorization as rules
    list_entry, cache_entry = store.lookup(id_tag)
    return rules.decide_start(id_tag, list_entry, cache_entry, online=online,
                              keys=keys or store.keys, now=now,
                              negative_cached=store.negative_cached(id_tag, now))
