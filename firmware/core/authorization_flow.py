"""What happens between a card tap (or a RemoteStart) and an authorized connector.

The decisions — list, cache, online/offline rules, group stops, what a CSMS verdict
does to a running transaction — are the pure rules of ``authorization`` (table-tested
with their spec sections). This module drives the flow around them:

- A tap first looks for a transaction it may stop: its own (same idTag, no Authorize,
  [16] §4.1) always; one of its parentIdTag group only when no plugged connector is
  waiting for a card (a driver who plugged in and taps wants to start).
- Otherwise the tap is for the plugged connector waiting for a card, else for the
  first free one (tap before plug; ConnectionTimeOut cancels it if no cable comes).
- "ask" sends Authorize and waits; when the CSMS cannot answer (offline, timeout,
  CALLERROR) the offline rules decide instead.
- LocalPreAuthorize starts at once on valid local data and sends no Authorize
  ([16] §9.1.19); the StartTransaction.conf's IdTagInfo is the check and acts on the
  transaction ([16] §3.5.4, [E16] 3.17).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import effects as fx
from . import events as ev
from .authorization import (ASK, REJECT, STOP, AuthKeys, decide_remote_start,
                            decide_start, decide_stop, decide_stop_after_authorize,
                            on_transaction_id_tag_info, same_id_tag)
from .connector import Authorization, Connector
from .parts import StationParts
from .timers import ConnectionTimeout


@dataclass(frozen=True)
class PendingAuthorization:
    id_tag: str
    connector_id: int | None  # the connector the start is for (None: no free connector)
    purpose: str  # "tap" | "remote"
    list_entry: Any = None
    cache_entry: Any = None
    scope: int = 0  # the tapped reader's connector (0: any connector may take the start)
    charging_profile: Any = None  # RemoteStart's TxProfile ([16] §5.11, [E16] 3.41)
    token_type: str = "ISO14443"  # how the token was presented (CardPresented/RemoteStart)


class AuthorizationFlowMixin(StationParts):
    # ------------------------------------------------------------------ taps
    def _on_card(self, event: ev.CardPresented, now: float) -> list[fx.Effect]:
        tag = event.id_tag
        if self.reset_accepted:
            # Every transaction was stopped by the Reset; the agent is restarting.
            return [fx.RecordDecision(tag, False, "resetting")]
        keys = self.authorization_keys()
        group_stop: Connector | None = None
        group_unknown = False
        for c in self.connectors.values():
            if c.tx is None:
                continue
            decision = decide_stop(tag, tx_id_tag=c.tx.id_tag,
                                   tx_parent_id_tag=c.tx.record.parent_id_tag,
                                   list_entry=event.list_entry, cache_entry=event.cache_entry,
                                   online=self.online, keys=keys, now=now)
            if decision.action == STOP and decision.why == "same-tag":
                return self._stop_by_tap(c, tag, decision.why, now)
            if decision.action == STOP and group_stop is None:
                group_stop = c
            elif decision.action == ASK:
                group_unknown = True
        for c in self.connectors.values():
            if c.tx is None and same_id_tag(c.cable_held_for, tag):
                c.cable_held_for = None  # the owner is back: _sync unlocks the cable
                return [fx.RecordDecision(tag, True, "cable-released-to-owner", c.connector_id)]
        for c in self.connectors.values():
            if c.authorization is not None and same_id_tag(c.authorization.id_tag, tag):
                c.authorization = None
                return [fx.CancelTimer(ConnectionTimeout(c.connector_id)),
                        fx.RecordDecision(tag, False, "cancelled-by-second-tap", c.connector_id)]
        plugged = self._plugged_waiting(event.connector_id, tag)
        if plugged is None and group_stop is not None:
            return self._stop_by_tap(group_stop, tag, "group", now)
        target = plugged or self._start_target(event.connector_id, tag)
        if target is None:
            if group_unknown and not event.negative_cached:
                # Perhaps a group member come to stop: only the CSMS knows its parent.
                return self._send_authorize(
                    PendingAuthorization(tag, None, "tap", event.list_entry, event.cache_entry,
                                     event.connector_id, token_type=event.token_type), None)
            return [fx.RecordDecision(tag, False, "no-free-connector")]
        pending = PendingAuthorization(tag, target.connector_id, "tap", event.list_entry,
                                   event.cache_entry, event.connector_id,
                                   token_type=event.token_type)
        decision = decide_start(tag, event.list_entry, event.cache_entry, online=self.online,
                                keys=keys, now=now, negative_cached=event.negative_cached,
                                tag_in_active_tx=self._tag_in_active_tx(tag))
        return self._act_on_start_decision(pending, decision, now)

    def _stop_by_tap(self, c: Connector, tag: str, why: str, now: float) -> list[fx.Effect]:
        return [fx.RecordDecision(tag, True, f"stop:{why}", c.connector_id)] + \
            self._stop_transaction(c, "Local", tag, now)

    def _candidates(self, connector_id: int = 0) -> list[Connector]:
        """The connectors a reader serves: its own one, or all (``connector_id`` 0)."""
        if connector_id:
            c = self.connectors.get(connector_id)
            return [c] if c is not None else []
        return list(self.connectors.values())

    def _plugged_waiting(self, connector_id: int = 0,
                         id_tag: str | None = None) -> Connector | None:
        for c in self._startable(connector_id, id_tag):
            if c.pilot.ev_connected:
                return c
        return None

    def _start_target(self, connector_id: int = 0,
                      id_tag: str | None = None) -> Connector | None:
        """The connector a tap starts on: the one reserved for it, plugged and waiting,
        else the first free (one reserved for someone else is never a target)."""
        startable = self._startable(connector_id, id_tag)
        if id_tag is not None:
            held = self.reservations.held_connector(id_tag, [c.connector_id for c in startable])
            if held is not None:
                return held
        plugged = next((c for c in startable if c.pilot.ev_connected), None)
        if plugged is not None:
            return plugged
        return next(iter(startable), None)

    def _startable(self, connector_id: int, id_tag: str | None) -> list[Connector]:
        """Idle connectors a session for ``id_tag`` could start on (None: anyone's)."""
        return [c for c in self._candidates(connector_id) if c.is_idle() and (
            self.reservations.may_be_for(c, id_tag) if id_tag is not None
            else c.reservation is None)]

    def _tag_in_active_tx(self, tag: str) -> bool:
        return any(c.tx is not None and same_id_tag(c.tx.id_tag, tag)
                   for c in self.connectors.values())

    def _act_on_start_decision(self, pending: PendingAuthorization, decision: Any,
                               now: float) -> list[fx.Effect]:
        assert pending.connector_id is not None, "a start decision is always for a connector"
        c = self.connectors[pending.connector_id]
        if decision.action == REJECT:
            out: list[fx.Effect] = [fx.RecordDecision(pending.id_tag, False, decision.why,
                                                      c.connector_id)]
            if decision.remember_rejection:
                out.append(fx.RememberRejectedTag(pending.id_tag))
            return out
        if decision.action == ASK:
            return self._send_authorize(pending, c)
        parent = getattr(decision.entry, "parent_id_tag", None)
        auth = Authorization(pending.id_tag, parent, decision.why, now,
                             pending.charging_profile, pending.purpose == "remote",
                             pending.token_type)
        return self._authorize_connector(c, auth, now)

    def _send_authorize(self, pending: PendingAuthorization, c: Connector | None) -> list[fx.Effect]:
        self._authorize_seq += 1
        ref = ("authorize", self._authorize_seq)
        self._pending_authorize[ref] = pending
        if c is not None:
            c.awaiting_authorize = True
        return [fx.SendAuthorizationRequest(ref, pending.id_tag, pending.token_type)]

    # ------------------------------------------------------------------ remote start
    def remote_start(self, c: Connector, event: ev.RemoteStartRequested,
                     now: float) -> list[fx.Effect]:
        """[16] §5.11: AuthorizeRemoteTxRequests decides whether the tag is checked."""
        decision = decide_remote_start(event.id_tag, event.list_entry, event.cache_entry,
                                       keys=self.authorization_keys(), now=now,
                                       tag_in_active_tx=self._tag_in_active_tx(event.id_tag))
        pending = PendingAuthorization(event.id_tag, c.connector_id, "remote", event.list_entry,
                                   event.cache_entry, charging_profile=event.charging_profile,
                                   token_type=event.token_type)
        return self._act_on_start_decision(pending, decision, now)

    # ------------------------------------------------------------------ CSMS answers
    def _on_authorize_responded(self, event: ev.AuthorizationAnswered,
                                now: float) -> list[fx.Effect]:
        pending = self._pending_authorize.pop(event.ref, None)
        out = self._learn_id_tag_info(event.id_tag, event.info, now)
        if pending is None:
            return out
        c = self.connectors.get(pending.connector_id) if pending.connector_id else None
        if c is not None:
            c.awaiting_authorize = False
        info = event.info
        plugged = self._plugged_waiting(pending.scope, pending.id_tag)
        if plugged is None:
            for other in self.connectors.values():
                if other.tx is not None and decide_stop_after_authorize(
                        info, other.tx.record.parent_id_tag, now).action == STOP:
                    return out + self._stop_by_tap(other, pending.id_tag, "csms:group", now)
        if info.status != "Accepted" or (info.expiry_s is not None and info.expiry_s <= now):
            return out + [fx.RecordDecision(pending.id_tag, False, f"csms:{info.status}",
                                            pending.connector_id or 0)]
        if c is None or not c.is_idle():
            c = self._start_target(pending.scope, pending.id_tag)
        if c is None:
            return out + [fx.RecordDecision(pending.id_tag, False, "no-free-connector")]
        why = "csms:Accepted" if pending.purpose == "tap" else "remote:csms:Accepted"
        return out + self._authorize_connector(
            c, Authorization(pending.id_tag, info.parent_id_tag, why, now,
                             pending.charging_profile, pending.purpose == "remote",
                             pending.token_type), now)

    def _on_call_failed(self, event: ev.CallFailed, now: float) -> list[fx.Effect]:
        if isinstance(event.message, fx.SendRegistration):
            return self.registration.failed(event)
        pending = self._pending_authorize.pop(event.ref, None)
        if pending is None:
            return []
        c = self.connectors.get(pending.connector_id) if pending.connector_id else None
        if c is not None:
            c.awaiting_authorize = False
        # The CSMS could not answer: decide as offline ([16] §3.5).
        target = c if c is not None and c.is_idle() else self._start_target(pending.scope,
                                                                            pending.id_tag)
        if target is None:
            return [fx.RecordDecision(pending.id_tag, False, "no-free-connector")]
        decision = decide_start(pending.id_tag, pending.list_entry, pending.cache_entry,
                                online=False, keys=self.authorization_keys(), now=now,
                                tag_in_active_tx=self._tag_in_active_tx(pending.id_tag))
        return self._act_on_start_decision(
            PendingAuthorization(pending.id_tag, target.connector_id, pending.purpose,
                             pending.list_entry, pending.cache_entry, pending.scope,
                             pending.charging_profile, pending.token_type),
            decision, now)

    def _learn_id_tag_info(self, id_tag: str, info: ev.IdTagInfo,
                           now: float) -> list[fx.Effect]:
        """Every IdTagInfo feeds the cache ([16] §3.5.1); the store skips list ids,
        negative-caches refusals and reports list conflicts."""
        return [fx.UpdateAuthorizationCache(id_tag, info.status, info.expiry_s,
                                            info.parent_id_tag)]

    def _check_csms_verdict(self, c: Connector, info: ev.IdTagInfo,
                            now: float) -> list[fx.Effect]:
        """A running transaction's idTag judged by the CSMS ([16] §3.5.4, [E16] 3.17)."""
        tx = c.tx
        if tx is None:
            return []
        verdict = on_transaction_id_tag_info(info, keys=self.authorization_keys(),
                                             energy_delivered_wh=self._delivered_wh(c), now=now)
        if verdict.action == "stop":
            return self._stop_transaction(c, verdict.reason or "DeAuthorized", tx.id_tag, now)
        if verdict.action == "limit":
            tx.energy_limit_wh = verdict.energy_limit_wh
            return []
        if verdict.action == "suspend":
            return [fx.PersistTransaction(tx.update(suspended_by_evse=True)),
                    fx.RecordDecision(tx.id_tag, False, f"suspended:{verdict.why}",
                                      c.connector_id)]
        return []

    def _delivered_wh(self, c: Connector) -> float:
        energy_wh = c.energy_wh()
        if c.tx is None or energy_wh is None:
            return 0.0
        return float(energy_wh - c.tx.record.meter_start_wh)

    def authorization_keys(self) -> AuthKeys:
        return AuthKeys.from_ocpp(self.config.get)
