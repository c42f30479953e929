"""Authorization decision rules of OCPP 1.6 ([16] §3.5, §4.1, §4.8; [E16] 3.17, 3.23).

Pure and sans-I/O: no clock reads (``now`` is epoch seconds, float), no storage. The
runtime looks a tag up in ``firmware.auth.AuthorizationStore`` (list entry, cache
entry, negative-cache flag) and hands the results here; the session acts on the
returned decision. Every decision carries ``why``, a short machine-readable source
("list:Accepted", "cache:Blocked", "offline-unknown-allowed", "csms:Invalid",
"negative-cache", ...) for accountability.

Rules, in order of precedence, for starting a transaction (``decide_start``):

1. A tag the CSMS refused within the negative-cache window is refused again without a
   new Authorize (the freshest authoritative answer wins; "negative-cache").
2. List before cache (§3.5.3); an entry is ignored when its feature is disabled
   (LocalAuthListEnabled, AuthorizationCacheEnabled). An entry is *valid* when its
   status is Accepted or ConcurrentTx (§3.5.2) and its expiry is in the future;
   an Accepted entry past its expiry counts as Expired (§3.5.1, §3.5.4).
3. Online: a valid entry with LocalPreAuthorize starts at once "without waiting for or
   requesting an Authorize.conf" ([16] §9.1.19): no Authorize is sent, the
   StartTransaction.conf's IdTagInfo is the check. Everything else asks the CSMS
   (§4.1: unknown → Authorize; §3.5.1: a not-valid cache entry online → Authorize).
4. Offline: a list or cache entry that is not valid is refused, even with
   AllowOfflineTxForUnknownId (§3.5.4 "MUST be rejected"); a valid one starts when
   LocalAuthorizeOffline is set. A tag the local data cannot authorize falls to
   AllowOfflineTxForUnknownId.

Decision actions are plain strings so the session can compare them directly:
"start" (start now, CSMS not consulted now), "ask" (send Authorize.req and wait),
"reject"; for stops: "stop", "ask", "reject".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

from firmware.core.idtag import normalise_id_tag

ACCEPTED, BLOCKED, EXPIRED, INVALID, CONCURRENT_TX = (
    "Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx")
STATUSES = (ACCEPTED, BLOCKED, EXPIRED, INVALID, CONCURRENT_TX)
VALID_STATUSES = frozenset((ACCEPTED, CONCURRENT_TX))

START, ASK, REJECT, STOP = "start", "ask", "reject", "stop"


@dataclass(frozen=True, slots=True)
class AuthKeys:
    """The OCPP configuration keys that govern authorization, parsed.

    ``max_energy_on_invalid_id_wh``: energy (Wh) a transaction may still reach once
    its idTag is invalidated while StopTransactionOnInvalidId is false; 0 = none.
    The two max lengths bound SendLocalList (entries per message) and the list.
    """

    local_pre_authorize: bool = False
    local_authorize_offline: bool = True
    allow_offline_tx_for_unknown_id: bool = False
    authorization_cache_enabled: bool = True
    local_auth_list_enabled: bool = True
    stop_transaction_on_invalid_id: bool = True
    max_energy_on_invalid_id_wh: int = 0
    authorize_remote_tx_requests: bool = False
    local_auth_list_max_length: int = 1_000_000
    send_local_list_max_length: int = 10_000

    @classmethod
    def from_ocpp(cls, value_of: Callable[[str], str | None]) -> "AuthKeys":
        """Build from OCPP string values (``value_of(key)``; None → the default).

        Raises ValueError naming the key when a value does not parse.
        """
        kwargs: dict[str, Any] = {}
        for field_name, key in OCPP_KEY_NAMES.items():
            raw = value_of(key)
            if raw is None:
                continue
            text = raw.strip()
            if isinstance(getattr(cls(), field_name), bool):
                if text.lower() not in ("true", "false"):
                    raise ValueError(f"{key}: must be true or false, not {raw!r}")
                kwargs[field_name] = text.lower() == "true"
            else:
                try:
                    kwargs[field_name] = int(text)
                except ValueError:
                    raise ValueError(f"{key}: must be an integer, not {raw!r}") from None
        return cls(**kwargs)


OCPP_KEY_NAMES = {
    "local_pre_authorize": "LocalPreAuthorize",
    "local_authorize_offline": "LocalAuthorizeOffline",
    "allow_offline_tx_for_unknown_id": "AllowOfflineTxForUnknownId",
    "authorization_cache_enabled": "AuthorizationCacheEnabled",
    "local_auth_list_enabled": "LocalAuthListEnabled",
    "stop_transaction_on_invalid_id": "StopTransactionOnInvalidId",
    "max_energy_on_invalid_id_wh": "MaxEnergyOnInvalidId",
    "authorize_remote_tx_requests": "AuthorizeRemoteTxRequests",
    "local_auth_list_max_length": "LocalAuthListMaxLength",
    "send_local_list_max_length": "SendLocalListMaxLength",
}


class LocalEntry(NamedTuple):
    """What the local list or the cache knows about one idTag.

    ``expiry_s``: epoch seconds after which the entry counts as Expired (None: never).
    ``source``: "list" or "cache". ``id_tag`` and ``parent_id_tag`` are normalised
    (ASCII upper case).
    """

    id_tag: str
    status: str
    expiry_s: float | None
    parent_id_tag: str | None
    source: str


class Decision(NamedTuple):
    """What to do with a presented tag. ``entry`` is the local entry the decision
    rests on (its ``parent_id_tag`` is the tag's group), None otherwise.
    ``remember_rejection``: put the tag in the negative cache."""

    action: str
    why: str
    entry: Any = None
    remember_rejection: bool = False


def effective_status(entry: Any, now: float) -> str:
    """An entry's status at ``now``: a valid status past ``expiry_s`` is Expired."""
    status = str(entry.status)
    expiry_s = entry.expiry_s
    if expiry_s is not None and now >= expiry_s and status in VALID_STATUSES:
        return EXPIRED
    return status


def entry_valid(entry: Any, now: float) -> bool:
    """True when ``entry`` authorizes a start at ``now`` (Accepted/ConcurrentTx, unexpired)."""
    return entry is not None and effective_status(entry, now) in VALID_STATUSES


_WHY: dict[tuple[str, str], str] = {
    (src, st): f"{src}:{st}" for src in ("list", "cache") for st in STATUSES}
_NEGATIVE = Decision(REJECT, "negative-cache")
_ASK_UNKNOWN = Decision(ASK, "unknown")
_OFFLINE_UNKNOWN_OK = Decision(START, "offline-unknown-allowed")
_OFFLINE_UNKNOWN_NO = Decision(REJECT, "offline-unknown-rejected")


def decide_start(id_tag: str, list_entry: Any, cache_entry: Any, *, online: bool,
                 keys: Any, now: float, negative_cached: bool = False,
                 tag_in_active_tx: bool = False) -> Decision:
    """Decide a start for ``id_tag`` (a tap, or a RemoteStart to be authorized).

    ``keys`` needs the five attributes local_pre_authorize, local_authorize_offline,
    allow_offline_tx_for_unknown_id, local_auth_list_enabled and
    authorization_cache_enabled (``AuthKeys`` has them). ``tag_in_active_tx``: this
    tag already has a transaction on this station; then a ConcurrentTx entry refuses.
    Never raises for any combination of inputs.
    """
    if negative_cached:
        return _NEGATIVE
    entry = list_entry if keys.local_auth_list_enabled else None
    source = "list"
    if entry is None:
        entry = cache_entry if keys.authorization_cache_enabled else None
        source = "cache"
    if entry is None:
        if online:
            return _ASK_UNKNOWN
        return _OFFLINE_UNKNOWN_OK if keys.allow_offline_tx_for_unknown_id else _OFFLINE_UNKNOWN_NO
    status = effective_status(entry, now)
    valid = status in VALID_STATUSES and not (status == CONCURRENT_TX and tag_in_active_tx)
    why = _WHY.get((source, status)) or f"{source}:{status}"
    if online:
        if valid and keys.local_pre_authorize:
            return Decision(START, why, entry)
        return Decision(ASK, why, entry)
    if not valid:
        return Decision(REJECT, why, entry)
    if keys.local_authorize_offline:
        return Decision(START, why, entry)
    if keys.allow_offline_tx_for_unknown_id:
        # Local data may not authorize offline; the tag is treated like an unknown one.
        return Decision(START, "offline-unknown-allowed", entry)
    return Decision(REJECT, "offline-local-auth-disabled", entry)


def decide_remote_start(id_tag: str, list_entry: Any, cache_entry: Any, *, keys: Any,
                        now: float, negative_cached: bool = False,
                        tag_in_active_tx: bool = False) -> Decision:
    """RemoteStartTransaction ([16] §5.11): with AuthorizeRemoteTxRequests the tag is
    authorized like a local tap (online rules); without it the CSMS's request is the
    authorization ("remote-trusted")."""
    if not keys.authorize_remote_tx_requests:
        return Decision(START, "remote-trusted", list_entry or cache_entry)
    return decide_start(id_tag, list_entry, cache_entry, online=True, keys=keys, now=now,
                        negative_cached=negative_cached, tag_in_active_tx=tag_in_active_tx)


# ----------------------------------------------------------------------- stopping
def same_id_tag(a: str | None, b: str | None) -> bool:
    """CiString20 equality (ASCII case-insensitive); None never matches."""
    if a is None or b is None:
        return False
    return normalise_id_tag(a) == normalise_id_tag(b)


def decide_stop(presented: str, *, tx_id_tag: str, tx_parent_id_tag: str | None,
                list_entry: Any, cache_entry: Any, online: bool, keys: Any,
                now: float) -> Decision:
    """Decide whether a tap of ``presented`` stops a running transaction.

    Same tag → "stop" without Authorize. A different tag needs a valid entry in the
    transaction's parentIdTag group; local data is used under the same keys as for a
    start (LocalPreAuthorize online, LocalAuthorizeOffline offline), otherwise online
    asks the CSMS (then ``decide_stop_after_authorize``) and offline refuses.
    """
    if same_id_tag(presented, tx_id_tag):
        return Decision(STOP, "same-tag")
    if not tx_parent_id_tag:
        return Decision(REJECT, "other-tag-no-group")
    entry = list_entry if keys.local_auth_list_enabled else None
    source = "list"
    if entry is None:
        entry = cache_entry if keys.authorization_cache_enabled else None
        source = "cache"
    use_local = keys.local_pre_authorize if online else keys.local_authorize_offline
    if entry is not None and use_local:
        if entry_valid(entry, now) and same_id_tag(entry.parent_id_tag, tx_parent_id_tag):
            return Decision(STOP, f"{source}:group", entry)
        if not online:
            return Decision(REJECT, f"{source}:not-in-group", entry)
    if online:
        return Decision(ASK, "unknown-group" if entry is None else f"{source}:group-unverified",
                        entry)
    return Decision(REJECT, "offline-group-unknown", entry)


def decide_stop_after_authorize(info: Any, tx_parent_id_tag: str | None,
                                now: float) -> Decision:
    """The CSMS's answer for a group stop: valid and the same parentIdTag → "stop"."""
    status = effective_status(info, now)
    if status not in VALID_STATUSES:
        return Decision(REJECT, f"csms:{status}")
    if same_id_tag(info.parent_id_tag, tx_parent_id_tag):
        return Decision(STOP, "csms:group")
    return Decision(REJECT, "csms:not-in-group")


# ------------------------------------------------------------------ CSMS answers
@dataclass(frozen=True, slots=True)
class CsmsVerdict:
    """What an IdTagInfo from the CSMS (Authorize/StartTransaction/StopTransaction.conf)
    means locally.

    ``start_allowed``: an Authorize answer lets the tag start (Accepted and unexpired;
    ConcurrentTx refuses a start). ``cache_entry``: write it to the cache (None: leave
    the cache alone: list identifiers are never cached, or the cache is disabled).
    ``local_list_conflict``: send StatusNotification(connectorId 0, errorCode
    LocalListConflict) ([16] §3.5.2). ``remember_rejection``: negative-cache the tag.
    """

    start_allowed: bool
    why: str
    cache_entry: LocalEntry | None
    local_list_conflict: bool
    remember_rejection: bool


def on_csms_id_tag_info(id_tag: str, info: Any, *, list_entry: Any, keys: Any,
                        now: float) -> CsmsVerdict:
    """Interpret ``info`` (attributes status, expiry_s, parent_id_tag) for ``id_tag``.

    ``list_entry``: the tag's local list entry, or None. Conflict = the list's
    validity (Accepted/ConcurrentTx, unexpired) differs from the CSMS's. List ids are
    not cached (§3.5.3) while the list answers for them; with LocalAuthListEnabled
    false it does not, and they are cached like any other tag.
    """
    status = effective_status(info, now)
    csms_valid = status in VALID_STATUSES
    in_list = list_entry is not None and keys.local_auth_list_enabled
    conflict = in_list and entry_valid(list_entry, now) != csms_valid
    cache_entry = None
    if not in_list and keys.authorization_cache_enabled:
        cache_entry = LocalEntry(normalise_id_tag(id_tag), info.status, info.expiry_s,
                                 normalise_id_tag(info.parent_id_tag) if info.parent_id_tag else None,
                                 "cache")
    return CsmsVerdict(start_allowed=status == ACCEPTED, why=f"csms:{status}",
                       cache_entry=cache_entry, local_list_conflict=conflict,
                       remember_rejection=not csms_valid)


@dataclass(frozen=True, slots=True)
class TxVerdict:
    """The consequence for a running transaction of the CSMS's IdTagInfo for its tag
    ([16] §3.5.4 moved to §4.8 by [E16] 3.17: applies online and offline).

    ``action``: "continue"; "stop" with ``reason`` "DeAuthorized" (keep the cable
    locked until the owner returns); "suspend" (withhold energy, SuspendedEVSE);
    "limit" (keep charging until the transaction's energy reaches
    ``energy_limit_wh``, then suspend).
    """

    action: str
    why: str
    reason: str | None = None
    energy_limit_wh: float | None = None


def on_transaction_id_tag_info(info: Any, *, keys: Any, energy_delivered_wh: float,
                               now: float) -> TxVerdict:
    """Apply StopTransactionOnInvalidId / MaxEnergyOnInvalidId to a running transaction.

    ``energy_delivered_wh``: energy of the transaction so far. Only an unexpired
    Accepted keeps it going (ConcurrentTx in a StartTransaction.conf refuses it).
    """
    status = effective_status(info, now)
    why = f"csms:{status}"
    if status == ACCEPTED:
        return TxVerdict("continue", why)
    if keys.stop_transaction_on_invalid_id:
        return TxVerdict("stop", why, reason="DeAuthorized")
    budget_wh = keys.max_energy_on_invalid_id_wh or 0
    if budget_wh > 0 and energy_delivered_wh < budget_wh:
        return TxVerdict("limit", why, energy_limit_wh=float(budget_wh))
    return TxVerdict("suspend", why)
