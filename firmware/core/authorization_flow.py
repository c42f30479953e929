"""What happens between a card tap (or a RemoteStart) and an authorized connector.

The decision itself — list, cache, online/offline rules — is ``authorization.decide_start``
(pure, table-tested); this module drives the flow around it: which connector a tap is
for, the Authorize round trip, the offline fallback when the CSMS cannot answer, the
background verification of locally pre-authorized starts, and what a negative verdict
does to a running transaction ([16] §3.5.4 and [E16] 3.17: DeAuthorized, or energy
withheld per StopTransactionOnInvalidId / MaxEnergyOnInvalidId).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import effects as fx
from . import events as ev
from .connector import Authorization, Connector


@dataclass(frozen=True)
class PendingAuthorize:
    id_tag: str
    connector_id: int | None  # the connector the start is for (None: stop-only check)
    purpose: str  # "tap" | "remote" | "verify"
    list_entry: Any = None
    cache_entry: Any = None


def same_tag(a: str | None, b: str | None) -> bool:
    """idTags are CiString20: compared case-insensitively."""
    return a is not None and b is not None and a.upper() == b.upper()


def entry_valid(entry: Any, now: float) -> bool:
    if entry is None or entry.status != "Accepted":
        return False
    return entry.expiry_s is None or entry.expiry_s > now


class AuthorizationFlowMixin:
    # ------------------------------------------------------------------ taps
    def _on_card(self, event: ev.CardPresented, now: float) -> list[fx.Effect]:
        tag = event.id_tag
        for c in self.connectors.values():
            if c.tx is not None and same_tag(c.tx.id_tag, tag):
                # §4.1: the same idTag stops its transaction without an Authorize.
                return self._stop_transaction(c, "Local", tag, now)
        for c in self.connectors.values():
            if c.authorization is not None and same_tag(c.authorization.id_tag, tag):
                c.authorization = None
                return [fx.CancelTimer(("connection-timeout", c.connector_id)),
                        fx.RecordDecision(tag, False, "cancelled-by-second-tap", c.connector_id)]
        parent = _known_parent(event.list_entry, event.cache_entry, now)
        if parent is not None:
            for c in self.connectors.values():
                if c.tx is not None and same_tag(c.tx.record.parent_id_tag, parent):
                    return self._stop_transaction(c, "Local", tag, now)
        target = self._start_target()
        if target is None:
            if self.online and not event.negative_cached and any(
                    c.tx is not None and c.tx.record.parent_id_tag
                    for c in self.connectors.values()):
                # Maybe a group member come to stop: only the CSMS knows its parent.
                return self._send_authorize(
                    PendingAuthorize(tag, None, "tap", event.list_entry, event.cache_entry), None)
            return [fx.RecordDecision(tag, False, "no-free-connector")]
        return self._decide_and_authorize(
            PendingAuthorize(tag, target.connector_id, "tap", event.list_entry,
                             event.cache_entry), event.negative_cached, now)

    def _start_target(self) -> Connector | None:
        """The connector a tap starts on: plugged and waiting first, else the first free."""
        free = [c for c in self.connectors.values() if c.is_idle()]
        for c in free:
            if c.pilot.ev_connected:
                return c
        return free[0] if free else None

    def _decide_and_authorize(self, pending: PendingAuthorize, negative_cached: bool,
                              now: float, online: bool | None = None) -> list[fx.Effect]:
        decision = decide_start(
            pending.id_tag, pending.list_entry, pending.cache_entry,
            online=self.online if online is None else online,
            keys=self.authorization_keys(), now=now, negative_cached=negative_cached)
        c = self.connectors[pending.connector_id]
        if decision.action == "reject":
            out: list[fx.Effect] = [fx.RecordDecision(pending.id_tag, False, decision.why,
                                                      c.connector_id)]
            if decision.remember_rejection:
                out.append(fx.RememberRejectedTag(pending.id_tag))
            return out
        if decision.action == "ask":
            return self._send_authorize(pending, c)
        entry = decision.entry
        auth = Authorization(pending.id_tag, getattr(entry, "parent_id_tag", None),
                             decision.why, now, verify_with_csms=decision.action == "start-verify")
        out = self._authorize_connector(c, auth, now)
        if decision.action == "start-verify" and self.online:
            # LocalPreAuthorize: start at once, ask the CSMS in the background.
            out.extend(self._send_authorize(
                PendingAuthorize(pending.id_tag, c.connector_id, "verify",
                                 pending.list_entry, pending.cache_entry), None))
        return out

    def _send_authorize(self, pending: PendingAuthorize, c: Connector | None) -> list[fx.Effect]:
        self._authorize_seq += 1
        ref = ("authorize", self._authorize_seq)
        self._pending_authorize[ref] = pending
        if c is not None:
            c.awaiting_authorize = True
        return [fx.SendAuthorize(ref, pending.id_tag)]

    # ------------------------------------------------------------------ CSMS answers
    def _on_authorize_responded(self, event: ev.AuthorizeResponded,
                                now: float) -> list[fx.Effect]:
        pending = self._pending_authorize.pop(event.ref, None)
        out = self._learn_id_tag_info(event.id_tag, event.info, now)
        if pending is None:
            return out
        c = self.connectors.get(pending.connector_id) if pending.connector_id else None
        if pending.purpose == "verify":
            return out + self._on_verified(pending, event.info, now)
        if c is not None:
            c.awaiting_authorize = False
        info = event.info
        if info.status != "Accepted":
            return out + [fx.RememberRejectedTag(pending.id_tag),
                          fx.RecordDecision(pending.id_tag, False, f"csms:{info.status}",
                                            pending.connector_id or 0)]
        if info.parent_id_tag:
            for other in self.connectors.values():
                if other.tx is not None and same_tag(other.tx.record.parent_id_tag,
                                                     info.parent_id_tag):
                    return out + self._stop_transaction(other, "Local", pending.id_tag, now)
        if c is None or not c.is_idle():
            c = self._start_target()
        if c is None:
            return out + [fx.RecordDecision(pending.id_tag, False, "no-free-connector")]
        auth = Authorization(pending.id_tag, info.parent_id_tag,
                             "csms:Accepted" if pending.purpose == "tap" else "remote:csms",
                             now)
        return out + self._authorize_connector(c, auth, now)

    def _on_verified(self, pending: PendingAuthorize, info: ev.IdTagInfo,
                     now: float) -> list[fx.Effect]:
        """Background answer for a start made on local knowledge."""
        c = self.connectors.get(pending.connector_id)
        if c is None or info.status == "Accepted":
            return []
        if c.authorization is not None and same_tag(c.authorization.id_tag, pending.id_tag):
            c.authorization = None
            return [fx.RecordDecision(pending.id_tag, False, f"csms:{info.status}",
                                      c.connector_id)]
        if c.tx is not None and same_tag(c.tx.id_tag, pending.id_tag):
            return self._check_csms_verdict(c, info, now)
        return []

    def _on_call_failed(self, event: ev.CallFailed, now: float) -> list[fx.Effect]:
        if event.action == "BootNotification":
            return self._on_boot_failed(event, now)
        pending = self._pending_authorize.pop(event.ref, None)
        if pending is None or pending.purpose == "verify":
            return []
        c = self.connectors.get(pending.connector_id) if pending.connector_id else None
        if c is not None:
            c.awaiting_authorize = False
        # The CSMS could not answer: decide as offline ([16] §3.5).
        target = c if c is not None and c.is_idle() else self._start_target()
        if target is None:
            return [fx.RecordDecision(pending.id_tag, False, "no-free-connector")]
        return self._decide_and_authorize(
            PendingAuthorize(pending.id_tag, target.connector_id, pending.purpose,
                             pending.list_entry, pending.cache_entry), False, now,
            online=False)

    def _learn_id_tag_info(self, id_tag: str, info: ev.IdTagInfo,
                           now: float) -> list[fx.Effect]:
        """Every IdTagInfo feeds the cache ([16] §3.5.1); the store skips list ids."""
        return [fx.UpdateAuthorizationCache(id_tag, info.status, info.expiry_s,
                                            info.parent_id_tag)]

    def _check_csms_verdict(self, c: Connector, info: ev.IdTagInfo,
                            now: float) -> list[fx.Effect]:
        """A running transaction's idTag is not valid after all ([16] §3.5.4, [E16] 3.17)."""
        tx = c.tx
        if tx is None or info.status == "Accepted":
            return []
        if self.config.get_bool("StopTransactionOnInvalidId"):
            return self._stop_transaction(c, "DeAuthorized", tx.id_tag, now)
        budget_wh = self.config.get_int("MaxEnergyOnInvalidId")
        tx.energy_limit_wh = float(budget_wh)
        out: list[fx.Effect] = []
        if budget_wh <= 0 or self._delivered_wh(c) >= budget_wh:
            out.append(fx.PersistTransaction(tx.update(suspended_by_evse=True)))
        return out

    def _delivered_wh(self, c: Connector) -> float:
        if c.tx is None or c.energy_wh() is None:
            return 0.0
        return float(c.energy_wh() - c.tx.record.meter_start_wh)

    def authorization_keys(self) -> "StartKeys":
        cfg = self.config
        return StartKeys(
            local_pre_authorize=cfg.get_bool("LocalPreAuthorize"),
            local_authorize_offline=cfg.get_bool("LocalAuthorizeOffline"),
            allow_offline_tx_for_unknown_id=cfg.get_bool("AllowOfflineTxForUnknownId"),
            local_auth_list_enabled=cfg.get_bool("LocalAuthListEnabled"),
            authorization_cache_enabled=cfg.get_bool("AuthorizationCacheEnabled"))


@dataclass(frozen=True)
class StartKeys:
    local_pre_authorize: bool
    local_authorize_offline: bool
    allow_offline_tx_for_unknown_id: bool
    local_auth_list_enabled: bool
    authorization_cache_enabled: bool


@dataclass(frozen=True)
class StartDecision:
    action: str  # "start" | "start-verify" | "ask" | "reject"
    why: str
    entry: Any = None
    remember_rejection: bool = False


def decide_start(id_tag: str, list_entry: Any, cache_entry: Any, *, online: bool,
                 keys: StartKeys, now: float, negative_cached: bool) -> StartDecision:
    """Interim rules until the full §3.5 table lands (list before cache, offline rules)."""
    entry = list_entry if keys.local_auth_list_enabled and list_entry is not None else None
    source = "list"
    if entry is None and keys.authorization_cache_enabled and cache_entry is not None:
        entry, source = cache_entry, "cache"
    if online:
        if negative_cached:
            return StartDecision("reject", "negative-cache")
        if keys.local_pre_authorize and entry_valid(entry, now):
            return StartDecision("start-verify", f"{source}:Accepted", entry)
        return StartDecision("ask", "csms")
    if entry is not None:
        if entry_valid(entry, now) and keys.local_authorize_offline:
            return StartDecision("start", f"offline-{source}:Accepted", entry)
        return StartDecision("reject", f"offline-{source}:{entry.status}")
    if keys.allow_offline_tx_for_unknown_id:
        return StartDecision("start", "offline-unknown-allowed")
    return StartDecision("reject", "offline-unknown")


def _known_parent(list_entry: Any, cache_entry: Any, now: float) -> str | None:
    """The tag's parentIdTag if the list (first) or a valid cache entry knows it."""
    for entry in (list_entry, cache_entry):
        if entry is not None:
            if entry_valid(entry, now) and entry.parent_id_tag:
                return entry.parent_id_tag
            return None
    return None
