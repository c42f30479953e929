"""Start decisions ([16] §3.5, §4.1): a named table of the rules, then the whole matrix
keys × online/offline × (list hit, cache hit, unknown, blocked, expired) checked
against the spec's statements."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from firmware.core.authorization import (
    AuthKeys,
    LocalEntry,
    decide_remote_start,
    decide_start,
)

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
PAST, FUTURE = NOW - 60, NOW + 3600


def L(status="Accepted", expiry_s=None, parent=None):  # noqa: N802 - a list entry
    return LocalEntry("TAG", status, expiry_s, parent, "list")


def C(status="Accepted", expiry_s=None, parent=None):  # noqa: N802 - a cache entry
    return LocalEntry("TAG", status, expiry_s, parent, "cache")


K = AuthKeys()  # defaults: LocalAuthorizeOffline, cache and list on; no pre-authorize
PRE = replace(K, local_pre_authorize=True)
UNKNOWN_OK = replace(K, allow_offline_tx_for_unknown_id=True)
NO_LOCAL_OFFLINE = replace(K, local_authorize_offline=False)
NO_LIST = replace(K, local_auth_list_enabled=False)
NO_CACHE = replace(K, authorization_cache_enabled=False)

TABLE = [
    # (id, list entry, cache entry, online, keys, negative, expected action, expected why)
    ("sec9.1.19 LocalPreAuthorize online list Accepted starts at once, no Authorize",
     L(), None, True, PRE, False, "start", "list:Accepted"),
    ("sec9.1.19 LocalPreAuthorize online cache Accepted starts at once, no Authorize",
     None, C(), True, PRE, False, "start", "cache:Accepted"),
    ("sec3.5 without LocalPreAuthorize online list Accepted waits for Authorize",
     L(), None, True, K, False, "ask", "list:Accepted"),
    ("sec3.5 list ConcurrentTx is valid (§3.5.2)", L("ConcurrentTx"), None, True, PRE, False,
     "start", "list:ConcurrentTx"),
    ("sec4.1 online unknown tag sends Authorize", None, None, True, PRE, False, "ask", "unknown"),
    ("sec3.5.1 online cache Blocked sends Authorize", None, C("Blocked"), True, PRE, False, "ask",
     "cache:Blocked"),
    ("sec3.5.1 online cache entry past expiry counts as Expired and sends Authorize",
     None, C(expiry_s=PAST), True, PRE, False, "ask", "cache:Expired"),
    ("sec3.5.2 online list Blocked is not locally authorized: Authorize",
     L("Blocked"), None, True, PRE, False, "ask", "list:Blocked"),
    ("sec3.5.3 list has priority over cache online", L("Blocked"), C(), True, PRE, False, "ask",
     "list:Blocked"),
    ("sec3.5.3 list has priority over cache offline", L("Blocked"), C(), False, UNKNOWN_OK, False,
     "reject", "list:Blocked"),
    ("sec3.5.3 list has priority: list Accepted beats cache Blocked offline", L(), C("Blocked"),
     False, K, False, "start", "list:Accepted"),
    ("sec3.5 LocalAuthorizeOffline offline list Accepted starts", L(), None, False, K, False,
     "start", "list:Accepted"),
    ("sec3.5 LocalAuthorizeOffline offline cache Accepted starts", None, C(), False, K, False,
     "start", "cache:Accepted"),
    ("sec3.5 LocalAuthorizeOffline offline unexpired list entry starts",
     L(expiry_s=FUTURE), None, False, K, False, "start", "list:Accepted"),
    ("sec3.5.4 list entry Blocked offline rejected even with AllowOfflineTxForUnknownId",
     L("Blocked"), None, False, UNKNOWN_OK, False, "reject", "list:Blocked"),
    ("sec3.5.4 list entry Invalid offline rejected even with AllowOfflineTxForUnknownId",
     L("Invalid"), None, False, UNKNOWN_OK, False, "reject", "list:Invalid"),
    ("sec3.5.4 list entry Expired offline rejected even with AllowOfflineTxForUnknownId",
     L("Expired"), None, False, UNKNOWN_OK, False, "reject", "list:Expired"),
    ("sec3.5.4 list Accepted but past expiryDate offline rejected even with unknown allowed",
     L(expiry_s=PAST), None, False, UNKNOWN_OK, False, "reject", "list:Expired"),
    ("sec3.5.4 expiry equal to now is expired", L(expiry_s=NOW), None, False, K, False,
     "reject", "list:Expired"),
    ("sec3.5.4 cache Blocked offline rejected even with AllowOfflineTxForUnknownId",
     None, C("Blocked"), False, UNKNOWN_OK, False, "reject", "cache:Blocked"),
    ("sec3.5.1 cache expired offline rejected", None, C(expiry_s=PAST), False, UNKNOWN_OK, False,
     "reject", "cache:Expired"),
    ("sec3.5.4 AllowOfflineTxForUnknownId offline unknown starts", None, None, False, UNKNOWN_OK,
     False, "start", "offline-unknown-allowed"),
    ("sec3.5.4 offline unknown rejected without AllowOfflineTxForUnknownId", None, None, False, K,
     False, "reject", "offline-unknown-rejected"),
    ("sec3.5 LocalAuthorizeOffline=false: list Accepted offline cannot authorize",
     L(), None, False, NO_LOCAL_OFFLINE, False, "reject", "offline-local-auth-disabled"),
    ("sec3.5 LocalAuthorizeOffline=false with unknown allowed: treated like an unknown tag",
     L(), None, False, replace(NO_LOCAL_OFFLINE, allow_offline_tx_for_unknown_id=True), False,
     "start", "offline-unknown-allowed"),
    ("sec3.5.4 LocalAuthorizeOffline=false: list Blocked still rejected with unknown allowed",
     L("Blocked"), None, False, replace(NO_LOCAL_OFFLINE, allow_offline_tx_for_unknown_id=True),
     False, "reject", "list:Blocked"),
    ("sec9.2 LocalAuthListEnabled=false: list entry ignored, cache used", L("Blocked"), C(), False,
     NO_LIST, False, "start", "cache:Accepted"),
    ("sec9.2 LocalAuthListEnabled=false: list entry ignored, unknown rule", L(), None, False,
     NO_LIST, False, "reject", "offline-unknown-rejected"),
    ("sec3.5.1 AuthorizationCacheEnabled=false: cache entry ignored offline", None, C(), False,
     NO_CACHE, False, "reject", "offline-unknown-rejected"),
    ("sec3.5.1 AuthorizationCacheEnabled=false: cache entry ignored online", None, C(), True,
     replace(NO_CACHE, local_pre_authorize=True), False, "ask", "unknown"),
    ("negative cache: a tag refused moments ago is refused without Authorize", None, None, True,
     PRE, True, "reject", "negative-cache"),
    ("negative cache wins over a stale list Accepted (freshest CSMS answer)", L(), None, True,
     PRE, True, "reject", "negative-cache"),
    ("negative cache applies offline too", None, None, False, UNKNOWN_OK, True, "reject",
     "negative-cache"),
]


@pytest.mark.parametrize("list_entry,cache_entry,online,keys,negative,action,why", [
    pytest.param(*row[1:], id=row[0]) for row in TABLE])
def test_start_rules(list_entry, cache_entry, online, keys, negative, action, why):
    decision = decide_start("TAG", list_entry, cache_entry, online=online, keys=keys, now=NOW,
                            negative_cached=negative)
    assert (decision.action, decision.why) == (action, why)
    if action == "start" and (list_entry or cache_entry):
        assert decision.entry is not None  # the session takes the parentIdTag from it


def test_concurrent_tx_entry_refuses_a_second_transaction_of_the_same_tag():
    for online, keys in ((False, K), (True, PRE)):
        d = decide_start("TAG", L("ConcurrentTx"), None, online=online, keys=keys, now=NOW,
                         tag_in_active_tx=True)
        assert d.action == ("reject" if not online else "ask")
        assert d.why == "list:ConcurrentTx"
    # An Accepted entry does not limit concurrency by itself.
    d = decide_start("TAG", L(), None, online=False, keys=K, now=NOW, tag_in_active_tx=True)
    assert d.action == "start"


def test_remote_start_is_trusted_without_authorize_remote_tx_requests():
    d = decide_remote_start("TAG", None, None, keys=K, now=NOW)
    assert (d.action, d.why) == ("start", "remote-trusted")


def test_remote_start_is_authorized_like_a_tap_with_authorize_remote_tx_requests():
    keys = replace(PRE, authorize_remote_tx_requests=True)
    assert decide_remote_start("TAG", None, None, keys=keys, now=NOW).action == "ask"
    assert decide_remote_start("TAG", L(), None, keys=keys, now=NOW).action == "start"
    assert decide_remote_start("TAG", L("Blocked"), None, keys=keys, now=NOW,
                               negative_cached=True).action == "reject"


# ------------------------------------------------------------------- whole matrix
SITUATIONS = {
    "list hit": (L(), None),
    "list hit expiring later": (L(expiry_s=FUTURE), None),
    "list blocked": (L("Blocked"), None),
    "list invalid": (L("Invalid"), None),
    "list expired status": (L("Expired"), None),
    "list expired date": (L(expiry_s=PAST), None),
    "cache hit": (None, C()),
    "cache blocked": (None, C("Blocked")),
    "cache expired date": (None, C(expiry_s=PAST)),
    "list hit + cache blocked": (L(), C("Blocked")),
    "list blocked + cache hit": (L("Blocked"), C()),
    "unknown": (None, None),
}
KEY_NAMES = {  # field → short name in the test id
    "local_pre_authorize": "LocalPreAuthorize",
    "local_authorize_offline": "LocalAuthorizeOffline",
    "allow_offline_tx_for_unknown_id": "AllowOfflineTxForUnknownId",
    "local_auth_list_enabled": "LocalAuthListEnabled",
    "authorization_cache_enabled": "AuthorizationCacheEnabled"}


def spec_expectation(keys: AuthKeys, situation: str, online: bool) -> tuple[str, str, str]:
    """(action, spec section, rule) the spec's statements require, written
    independently of the implementation."""
    list_entry, cache_entry = SITUATIONS[situation]
    # §3.5.3 list first; a disabled feature's entry is ignored.
    entry = list_entry if keys.local_auth_list_enabled and list_entry else None
    if entry is None:
        entry = cache_entry if keys.authorization_cache_enabled else None
    valid = entry is not None and entry.status == "Accepted" and (
        entry.expiry_s is None or entry.expiry_s > NOW)
    if online:
        if valid and keys.local_pre_authorize:
            return "start", "sec9.1.19", "LocalPreAuthorize starts without requesting an Authorize"
        return "ask", "sec4.1", "not locally authorized online: Authorize.req"
    if entry is not None and not valid:
        return "reject", "sec3.5.4", "not-Accepted or expired entries MUST be rejected"
    if valid and keys.local_authorize_offline:
        return "start", "sec3.5", "LocalAuthorizeOffline: local data authorizes"
    if keys.allow_offline_tx_for_unknown_id:
        return "start", "sec3.5.4", "AllowOfflineTxForUnknownId"
    return "reject", "sec3.5.4", "unknown offline without AllowOfflineTxForUnknownId"


MATRIX = []
for values in itertools.product((False, True), repeat=len(KEY_NAMES)):
    keys = replace(K, **dict(zip(KEY_NAMES, values)))
    key_id = ",".join(f"{short}={'T' if v else 'F'}"
                      for short, v in zip(KEY_NAMES.values(), values))
    for situation in SITUATIONS:
        for online in (True, False):
            action, section, rule = spec_expectation(keys, situation, online)
            MATRIX.append(pytest.param(
                keys, situation, online, action,
                id=f"{section} {situation} {'online' if online else 'offline'} -> {action} "
                   f"({rule}) [{key_id}]"))


@pytest.mark.parametrize("keys,situation,online,action", MATRIX)
def test_matrix_against_the_spec(keys, situation, online, action):
    list_entry, cache_entry = SITUATIONS[situation]
    d = decide_start("TAG", list_entry, cache_entry, online=online, keys=keys, now=NOW)
    assert d.action == action
    in_force = list_entry if keys.local_auth_list_enabled and list_entry else (
        cache_entry if keys.authorization_cache_enabled else None)
    if in_force is not None and not d.why.startswith("offline-"):
        assert d.why.startswith(in_force.source + ":"), "sec3.5.3 the entry in force is reported"
