"""CSMS answers, running transactions, stopping, keys ([16] §3.5.1-§3.5.4, §4.1, §4.8,
[E16] 3.17)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from firmware.core import authorization, idtag
from firmware.core.authorization import (
    AuthKeys,
    LocalEntry,
    decide_stop,
    decide_stop_after_authorize,
    on_csms_id_tag_info,
    on_transaction_id_tag_info,
)

NOW = 1_767_225_600.0
K = AuthKeys()


@dataclass(frozen=True)
class Info:  # what the OCPP layer hands over (events.IdTagInfo has the same shape)
    status: str
    expiry_s: float | None = None
    parent_id_tag: str | None = None


def L(status="Accepted", expiry_s=None, parent=None):  # noqa: N802
    return LocalEntry("TAG", status, expiry_s, parent, "list")


# ------------------------------------------------------------------ IdTagInfo → cache
@pytest.mark.parametrize("status", ["Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"])
def test_sec3_5_1_every_id_tag_info_feeds_the_cache(status):
    v = on_csms_id_tag_info("tag", Info(status, NOW + 60, "grp"), list_entry=None, keys=K,
                            now=NOW)
    assert v.cache_entry == LocalEntry("TAG", status, NOW + 60, "GRP", "cache")
    assert v.local_list_conflict is False


def test_sec3_5_3_list_identifiers_are_never_cached():
    v = on_csms_id_tag_info("TAG", Info("Accepted"), list_entry=L(), keys=K, now=NOW)
    assert v.cache_entry is None


def test_sec3_5_1_no_cache_entry_when_authorization_cache_disabled():
    keys = replace(K, authorization_cache_enabled=False)
    assert on_csms_id_tag_info("TAG", Info("Accepted"), list_entry=None, keys=keys,
                               now=NOW).cache_entry is None


@pytest.mark.parametrize("list_entry,csms,conflict", [
    pytest.param(L(), "Invalid", True, id="sec3.5.2 list Accepted, CSMS Invalid: conflict"),
    pytest.param(L("Blocked"), "Accepted", True,
                 id="sec3.5.2 list Blocked, CSMS Accepted: conflict"),
    pytest.param(L(expiry_s=NOW - 1), "Accepted", True,
                 id="sec3.5.2 list expired, CSMS Accepted: conflict"),
    pytest.param(L("Blocked"), "Invalid", False, id="sec3.5.2 both not valid: no conflict"),
    pytest.param(L(), "Accepted", False, id="sec3.5.2 both valid: no conflict"),
    pytest.param(L(), "ConcurrentTx", False,
                 id="sec3.5.2 ConcurrentTx is about concurrency, not validity"),
])
def test_local_list_conflict(list_entry, csms, conflict):
    v = on_csms_id_tag_info("TAG", Info(csms), list_entry=list_entry, keys=K, now=NOW)
    assert v.local_list_conflict is conflict


def test_no_conflict_reported_for_a_disabled_list():
    keys = replace(K, local_auth_list_enabled=False)
    assert not on_csms_id_tag_info("TAG", Info("Invalid"), list_entry=L(), keys=keys,
                                   now=NOW).local_list_conflict


@pytest.mark.parametrize("status,allowed,negative", [
    ("Accepted", True, False), ("ConcurrentTx", False, False), ("Blocked", False, True),
    ("Expired", False, True), ("Invalid", False, True)])
def test_authorize_answer_and_negative_cache(status, allowed, negative):
    v = on_csms_id_tag_info("TAG", Info(status), list_entry=None, keys=K, now=NOW)
    assert (v.start_allowed, v.remember_rejection, v.why) == (allowed, negative, f"csms:{status}")


def test_sec3_5_1_accepted_with_past_expiry_counts_as_expired():
    v = on_csms_id_tag_info("TAG", Info("Accepted", NOW - 5), list_entry=None, keys=K, now=NOW)
    assert not v.start_allowed and v.why == "csms:Expired"


# ------------------------------------------------------------- running transactions
STOP_ON = replace(K, stop_transaction_on_invalid_id=True)
STOP_OFF = replace(K, stop_transaction_on_invalid_id=False, max_energy_on_invalid_id_wh=0)
LIMIT = replace(STOP_OFF, max_energy_on_invalid_id_wh=5000)


@pytest.mark.parametrize("info,keys,delivered_wh,action,reason,limit", [
    pytest.param(Info("Accepted"), STOP_ON, 0, "continue", None, None,
                 id="sec4.8 Accepted: continue"),
    pytest.param(Info("Invalid"), STOP_ON, 0, "stop", "DeAuthorized", None,
                 id="sec3.5.4 StopTransactionOnInvalidId=true: stop with DeAuthorized"),
    pytest.param(Info("Blocked"), STOP_ON, 0, "stop", "DeAuthorized", None,
                 id="sec3.5.4 Blocked stops too"),
    pytest.param(Info("ConcurrentTx"), STOP_ON, 0, "stop", "DeAuthorized", None,
                 id="sec4.8 StartTransaction.conf ConcurrentTx is not Accepted"),
    pytest.param(Info("Accepted", NOW - 1), STOP_ON, 0, "stop", "DeAuthorized", None,
                 id="sec3.5.4 Accepted but expired stops"),
    pytest.param(Info("Invalid"), STOP_OFF, 0, "suspend", None, None,
                 id="sec3.5.4 StopTransactionOnInvalidId=false: only stop energy "
                    "(SuspendedEVSE)"),
    pytest.param(Info("Invalid"), LIMIT, 1200, "limit", None, 5000.0,
                 id="sec3.5.4 MaxEnergyOnInvalidId: charge on up to the budget"),
    pytest.param(Info("Invalid"), LIMIT, 5000, "suspend", None, None,
                 id="sec3.5.4 MaxEnergyOnInvalidId already reached: suspend"),
    pytest.param(Info("Invalid"), replace(LIMIT, stop_transaction_on_invalid_id=True), 0, "stop",
                 "DeAuthorized", None,
                 id="sec3.5.4 StopTransactionOnInvalidId wins over MaxEnergy"),
])
def test_e16_3_17_invalidated_running_transaction(info, keys, delivered_wh, action, reason,
                                                  limit):
    v = on_transaction_id_tag_info(info, keys=keys, energy_delivered_wh=delivered_wh, now=NOW)
    assert (v.action, v.reason, v.energy_limit_wh) == (action, reason, limit)


# --------------------------------------------------------------------------- stops
PRE = replace(K, local_pre_authorize=True)


@pytest.mark.parametrize("presented,entry,online,keys,action,why", [
    pytest.param("tx-tag", None, True, K, "stop", "same-tag",
                 id="sec4.1 the same tag stops without Authorize"),
    pytest.param("tx-tag", None, False, K, "stop", "same-tag",
                 id="sec4.1 the same tag stops offline too"),
    pytest.param("OTHER", L(parent="FLEET"), True, PRE, "stop", "list:group",
                 id="parentIdTag group member known locally stops"),
    pytest.param("OTHER", L(parent="FLEET"), True, K, "ask", "list:group-unverified",
                 id="group member online without LocalPreAuthorize: Authorize first"),
    pytest.param("OTHER", L(parent="FLEET"), False, K, "stop", "list:group",
                 id="group member offline with LocalAuthorizeOffline stops"),
    pytest.param("OTHER", L("Blocked", parent="FLEET"), False, K, "reject", "list:not-in-group",
                 id="sec3.5.4 blocked group member offline cannot stop"),
    pytest.param("OTHER", L(parent="ELSEWHERE"), False, K, "reject", "list:not-in-group",
                 id="another group offline cannot stop"),
    pytest.param("OTHER", None, True, PRE, "ask", "unknown-group",
                 id="sec4.1 unknown tag online: Authorize to learn its parentIdTag"),
    pytest.param("OTHER", None, False, K, "reject", "offline-group-unknown",
                 id="unknown tag offline cannot stop"),
])
def test_stop_rules(presented, entry, online, keys, action, why):
    d = decide_stop(presented, tx_id_tag="TX-TAG", tx_parent_id_tag="fleet", list_entry=entry,
                    cache_entry=None, online=online, keys=keys, now=NOW)
    assert (d.action, d.why) == (action, why)


def test_a_transaction_without_group_is_stopped_by_its_own_tag_only():
    d = decide_stop("OTHER", tx_id_tag="TX", tx_parent_id_tag=None, list_entry=L(parent="X"),
                    cache_entry=None, online=True, keys=PRE, now=NOW)
    assert d.action == "reject"


@pytest.mark.parametrize("info,action", [
    (Info("Accepted", parent_id_tag="fleet"), "stop"),
    (Info("ConcurrentTx", parent_id_tag="FLEET"), "stop"),  # that tag is charging elsewhere
    (Info("Accepted", parent_id_tag="other"), "reject"),
    (Info("Accepted"), "reject"),
    (Info("Blocked", parent_id_tag="FLEET"), "reject"),
])
def test_group_stop_after_authorize(info, action):
    assert decide_stop_after_authorize(info, "FLEET", NOW).action == action


# ---------------------------------------------------------------------------- keys
def test_keys_from_ocpp_strings():
    values = {"LocalPreAuthorize": "TRUE", "MaxEnergyOnInvalidId": "250",
              "LocalAuthListMaxLength": "500000"}
    keys = AuthKeys.from_ocpp(values.get)
    assert keys.local_pre_authorize is True and keys.max_energy_on_invalid_id_wh == 250
    assert keys.local_auth_list_max_length == 500000
    assert keys.local_authorize_offline is True  # default when not given


@pytest.mark.parametrize("key,value", [("LocalPreAuthorize", "yes"),
                                       ("MaxEnergyOnInvalidId", "1.5")])
def test_keys_from_ocpp_refuses_bad_values(key, value):
    with pytest.raises(ValueError, match=key):
        AuthKeys.from_ocpp({key: value}.get)


# ------------------------------------------------------------------------ layering
@pytest.mark.parametrize("module", [authorization, idtag])
def test_core_modules_do_no_io(module):
    tree = ast.parse(Path(module.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            imported.add(node.module.split(".")[0])
    forbidden = {"asyncio", "sqlite3", "ocpp", "websockets", "serial", "pymodbus", "time",
                 "os", "mmap", "threading", "socket"}
    assert not imported & forbidden
