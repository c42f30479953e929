"""Adapters from the store to what the runtime and the OCPP handlers ask for
(``runtime.AuthorizationPort``, ``ocpp.handlers.AuthorizationService``), so wiring is
one constructor call. (A card becomes an idTag in ``firmware.core.idtag``.)

The keys are read through ``keys()`` on every management call (SendLocalList, version,
ClearCache, a CSMS IdTagInfo) so a ChangeConfiguration takes effect at once; lookups
need none (the rules in ``firmware.core.authorization`` take the keys themselves).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from firmware.core.authorization import AuthKeys, LocalEntry

from .store import AuthorizationStore


@dataclass(frozen=True)
class _Info:
    status: str
    expiry_s: float | None
    parent_id_tag: str | None


class StoreAuthorization:
    """Both ports over one ``AuthorizationStore``.

    ``keys``: returns the current ``AuthKeys``, e.g.
    ``lambda: AuthKeys.from_ocpp(station.config.get)``.
    ``send_local_list`` raises ``SendLocalListFormatError`` (``.code``,
    ``.description``) for a malformed payload: the handler answers that CALLERROR.
    """

    skip_schema_for_send_local_list = True

    def __init__(self, store: AuthorizationStore, keys: Callable[[], AuthKeys]):
        self.store = store
        self._keys = keys

    def _refresh(self) -> AuthorizationStore:
        self.store.keys = self._keys()
        return self.store

    # runtime.AuthorizationPort
    def lookup(self, id_tag: str, now: float) -> tuple[LocalEntry | None, LocalEntry | None, bool]:
        list_entry, cache_entry = self.store.lookup(id_tag)
        return list_entry, cache_entry, self.store.negative_cached(id_tag, now)

    def cache_update(self, id_tag: str, status: str, expiry_s: float | None,
                     parent_id_tag: str | None, now: float) -> str | None:
        """Record a CSMS IdTagInfo; the list entry's status when it conflicts, else None."""
        store = self._refresh()
        verdict = store.record_id_tag_info(id_tag, _Info(status, expiry_s, parent_id_tag), now)
        if not verdict.local_list_conflict:
            return None
        entry = store.list_entry(id_tag)
        return entry.status if entry is not None else None

    def remember_rejected(self, id_tag: str, now: float) -> None:
        self.store.remember_rejection(id_tag, now)

    # ocpp.handlers.AuthorizationService
    async def send_local_list(self, payload: dict[str, Any]) -> str:
        return await self._refresh().apply_send_local_list(payload)

    def local_list_version(self) -> int:
        return self._refresh().list_version()

    def clear_cache(self) -> bool:
        return self._refresh().cache_clear()

    # console: `auth stats`, `auth lookup TAG` (the console appends OK)
    def stats_lines(self) -> list[str]:
        return self._refresh().stats_lines()

    def lookup_lines(self, id_tag: str, now: float) -> list[str]:
        store = self._refresh()
        return store.lookup_report(id_tag, store.keys, now)

