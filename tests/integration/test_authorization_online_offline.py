"""Authorization decisions of the running agent, online and offline ([16] §3.5, §4.1, §4.8;
[E16] 3.17, 3.23), seen from an independent CSMS: what reaches the wire (Authorize,
StartTransaction, StopTransaction and its reason, StatusNotification LocalListConflict),
with the agent's decision record saying why. Offline = the CSMS closes the websocket and
refuses new handshakes with 503, as in an outage."""

from datetime import datetime, timezone

import pytest

from devcsms import CallError
from tests.integration.agent import running_agent, write_site
from tests.integration.test_auth_support import (
    STATION,
    Decisions,
    booted,
    entry,
    go_offline,
    go_online,
    lookup,
    send_local_list,
    tap,
    tap_and_release,
    tap_to_stop,
)

PAST = "2020-01-01T00:00:00Z"
FUTURE = "2099-01-01T00:00:00Z"


async def change(csms, key, value):
    reply = await csms.call(STATION, ("ChangeConfiguration", {"key": key, "value": value}))
    assert reply == {"status": "Accepted"}, (key, value, reply)


async def plugged(csms, cp, connector_id=1):
    mark = csms.mark()
    await cp.console(f"sim plug {connector_id}")
    await cp.until(lambda: cp.station.connectors[connector_id].pilot.ev_connected)
    return mark


def conflicts(csms, after=0):
    return [f for f in csms.messages("StatusNotification", after=after)
            if f.payload["errorCode"] == "LocalListConflict"]


async def test_local_pre_authorize_starts_without_requesting_authorize_9_1_19(csms, tmp_path):
    """LocalPreAuthorize: a valid list entry starts at once "without waiting for or
    requesting an Authorize.conf" ([16] §9.1.19): no Authorize at all; the
    StartTransaction.conf is the check. Without it the station waits for Authorize.conf."""
    site = write_site(tmp_path, csms.url, defaults={"LocalPreAuthorize": True})
    async with running_agent(site) as cp:
        decisions = Decisions(cp)
        await booted(csms)
        assert await send_local_list(csms, 1, "Full", [entry("AA000001")]) == "Accepted"
        mark = await plugged(csms, cp)
        decision = await tap(cp, decisions, "AA000001")
        assert (decision.accepted, decision.why) == (True, "list:Accepted")
        start = await csms.wait_for("StartTransaction", after=mark, timeout_s=5)
        assert start.payload["idTag"] == "AA000001"
        await csms.wait_frame(lambda f: f.request_seq == start.seq, direction="to_cp")
        assert csms.messages("Authorize", after=mark) == []
        # List ids are never cached ([16] §3.5.3), even when the CSMS confirms them.
        assert (await lookup(cp, "AA000001"))["cache"] == "not found"

        mark = csms.mark()
        await tap_to_stop(cp, "AA000001")  # same tag: stops without Authorize ([16] §4.1)
        await csms.wait_for("StopTransaction", after=mark, timeout_s=5)
        assert csms.messages("Authorize", after=mark) == []
        await cp.console("sim unplug 1")
        await change(csms, "LocalPreAuthorize", "false")
        mark = await plugged(csms, cp)
        await tap(cp, decisions, "AA000001")
        authorize = await csms.wait_for("Authorize", after=mark, timeout_s=5)
        answer = await csms.wait_frame(lambda f: f.request_seq == authorize.seq,
                                       direction="to_cp")
        start = await csms.wait_for("StartTransaction", after=mark, timeout_s=5)
        assert answer.seq < start.seq


async def test_authorize_answer_contradicting_the_list_reports_local_list_conflict_3_5_2(
        csms, tmp_path):
    """Online, the CSMS decides; when its answer contradicts the list the station sends
    StatusNotification(connectorId 0, errorCode LocalListConflict)."""
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        decisions = Decisions(cp)
        await booted(csms)
        assert await send_local_list(csms, 1, "Full", [
            entry("AA000001"), entry("AA000002", "Blocked"), entry("AA000003")]) == "Accepted"
        csms.authorization.set("AA000001", "Blocked")
        csms.authorization.set("AA000002", "Accepted")
        await plugged(csms, cp)

        mark = csms.mark()
        decision = await tap(cp, decisions, "AA000001")
        assert (decision.accepted, decision.why) == (False, "csms:Blocked")
        conflict = await csms.wait_for(
            "StatusNotification", lambda f: f.payload["errorCode"] == "LocalListConflict",
            after=mark, timeout_s=5)
        assert conflict.payload["connectorId"] == 0
        assert conflict.payload["status"] == "Available"

        mark = csms.mark()
        decision = await tap(cp, decisions, "AA000002")  # list Blocked, CSMS Accepted
        assert (decision.accepted, decision.why) == (True, "csms:Accepted")
        await csms.wait_for("StatusNotification",
                            lambda f: f.payload["errorCode"] == "LocalListConflict",
                            after=mark, timeout_s=5)
        start = await csms.wait_for("StartTransaction", after=mark, timeout_s=5)
        assert start.payload["idTag"] == "AA000002"

        mark = csms.mark()
        await tap_to_stop(cp, "AA000002")
        await csms.wait_for("StopTransaction", after=mark, timeout_s=5)
        # StartTransaction.conf's and StopTransaction.conf's IdTagInfo (Accepted) contradict
        # the list too (§3.5.1: every IdTagInfo is checked): let those reports arrive first.
        await cp.until(lambda: cp.agent.outbox.stats()[0] == 0)
        sync = csms.mark()
        assert await csms.call(STATION, ("TriggerMessage", {"requestedMessage": "Heartbeat"})) \
            == {"status": "Accepted"}
        await csms.wait_for("Heartbeat", after=sync, timeout_s=5)
        await cp.console("sim unplug 1")
        await cp.console("sim plug 1")
        mark = csms.mark()
        decision = await tap(cp, decisions, "AA000003")  # list and CSMS agree: no conflict
        assert decision.accepted
        await csms.wait_for("StartTransaction", lambda f: f.payload["idTag"] == "AA000003",
                            after=mark, timeout_s=5)
        assert len(conflicts(csms, after=mark)) == 0


# (LocalAuthorizeOffline, AllowOfflineTxForUnknownId) → tag → (accepted, why)
OFFLINE_LIST = [entry("AA000001"), entry("AA000002", "Blocked"),
                entry("AA000003", expiry=PAST), entry("AA000004", "Invalid"),
                entry("AA000005", "Expired"), entry("AA000006", "ConcurrentTx"),
                entry("AA000007", expiry=FUTURE)]
REFUSED_ALWAYS = {"AA000002": (False, "list:Blocked"), "AA000003": (False, "list:Expired"),
                  "AA000004": (False, "list:Invalid"), "AA000005": (False, "list:Expired")}
MATRIX = [
    (True, False, {"AA000001": (True, "list:Accepted"), "AA000006": (True, "list:ConcurrentTx"),
                   "AA000007": (True, "list:Accepted"),
                   "EE000001": (False, "offline-unknown-rejected")}),
    (True, True, {"AA000001": (True, "list:Accepted"), "AA000006": (True, "list:ConcurrentTx"),
                  "AA000007": (True, "list:Accepted"),
                  "EE000001": (True, "offline-unknown-allowed")}),
    (False, False, {"AA000001": (False, "offline-local-auth-disabled"),
                    "AA000007": (False, "offline-local-auth-disabled"),
                    "EE000001": (False, "offline-unknown-rejected")}),
    (False, True, {"AA000001": (True, "offline-unknown-allowed"),
                   "AA000007": (True, "offline-unknown-allowed"),
                   "EE000001": (True, "offline-unknown-allowed")}),
]


@pytest.mark.parametrize("local_authorize_offline, allow_unknown, expected", MATRIX)
async def test_offline_authorization_matrix_3_5_4(csms, tmp_path, local_authorize_offline,
                                                  allow_unknown, expected):
    """Offline: LocalAuthorizeOffline lets valid list entries start; AllowOfflineTxForUnknownId
    lets unknown tags start; a list entry that is Blocked/Invalid/Expired, or Accepted past
    its expiryDate, is refused whatever the keys say ("MUST be rejected")."""
    site = write_site(tmp_path, csms.url, defaults={
        "LocalAuthorizeOffline": local_authorize_offline,
        "AllowOfflineTxForUnknownId": allow_unknown})
    async with running_agent(site) as cp:
        decisions = Decisions(cp)
        await booted(csms)
        assert await send_local_list(csms, 1, "Full", OFFLINE_LIST) == "Accepted"
        await go_offline(csms, cp)
        mark = csms.mark()
        for tag, (accepted, why) in {**REFUSED_ALWAYS, **expected}.items():
            decision = await tap_and_release(cp, decisions, tag)
            assert (decision.accepted, decision.why) == (accepted, why), tag
        assert csms.messages(after=mark) == []  # nothing reached the CSMS meanwhile


async def test_offline_start_from_the_list_is_sent_after_reconnect_3_5_4(csms, tmp_path):
    """A transaction authorized offline gets its StartTransaction (with the time of the
    start) and StopTransaction delivered, in order, once the CSMS is back."""
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        decisions = Decisions(cp)
        await booted(csms)
        assert await send_local_list(csms, 1, "Full", [entry("AA000001")]) == "Accepted"
        await go_offline(csms, cp)
        await cp.console("sim plug 1")
        decision = await tap(cp, decisions, "AA000001")
        assert (decision.accepted, decision.why) == (True, "list:Accepted")
        await cp.until(lambda: cp.station.connectors[1].status() == "Charging")
        await tap_to_stop(cp, "AA000001")
        mark = csms.mark()
        await go_online(csms, cp)
        start = await csms.wait_for("StartTransaction", after=mark, timeout_s=10)
        stop = await csms.wait_for("StopTransaction", after=mark, timeout_s=10)
        assert start.payload["idTag"] == "AA000001" and start.seq < stop.seq
        assert stop.payload["reason"] == "Local"
        assert conflicts(csms) == []


@pytest.mark.parametrize("stop_on_invalid", [True, False])
async def test_offline_tx_rejected_by_start_transaction_conf_4_8_e16_3_17(
        csms, tmp_path, stop_on_invalid):
    """An unknown tag allowed offline, refused by StartTransaction.conf after reconnect:
    StopTransactionOnInvalidId=true → StopTransaction reason DeAuthorized;
    false → energy withheld (SuspendedEVSE), the transaction goes on."""
    site = write_site(tmp_path, csms.url, defaults={
        "AllowOfflineTxForUnknownId": True, "StopTransactionOnInvalidId": stop_on_invalid})
    async with running_agent(site) as cp:
        decisions = Decisions(cp)
        await booted(csms)
        await go_offline(csms, cp)
        await cp.console("sim plug 1")
        decision = await tap(cp, decisions, "DD000001")
        assert (decision.accepted, decision.why) == (True, "offline-unknown-allowed")
        await cp.until(lambda: cp.station.connectors[1].status() == "Charging")
        csms.authorization.set("DD000001", "Invalid")
        mark = csms.mark()
        await go_online(csms, cp)
        start = await csms.wait_for("StartTransaction", after=mark, timeout_s=10)
        assert start.payload["idTag"] == "DD000001"
        reply = await csms.wait_frame(lambda f: f.request_seq == start.seq, direction="to_cp")
        transaction_id = reply.payload["transactionId"]
        if stop_on_invalid:
            stop = await csms.wait_for("StopTransaction", after=mark, timeout_s=5)
            assert stop.payload["reason"] == "DeAuthorized"
            assert stop.payload["transactionId"] == transaction_id
            assert stop.payload["idTag"] == "DD000001"
            await cp.until(lambda: not cp.station.connectors[1].contactor_closed)
        else:
            await csms.wait_for("StatusNotification", lambda f: (
                f.payload["connectorId"] == 1 and f.payload["status"] == "SuspendedEVSE"),
                after=mark, timeout_s=5)
            await cp.until(lambda: not cp.station.connectors[1].contactor_closed)
            assert cp.station.connectors[1].tx is not None
            assert csms.messages("StopTransaction", after=mark) == []
        assert conflicts(csms) == []  # the tag was in no list: nothing to conflict with
        # An unknown tag refused by the CSMS is remembered: refused offline from now on.
        assert (await lookup(cp, "DD000001"))["cache"] == "Invalid, no expiry"


async def test_offline_list_start_contradicted_by_start_transaction_conf_3_5_2_3_5_4(
        csms, tmp_path):
    """Started offline on a list entry the CSMS has since blocked: the delayed
    StartTransaction.conf both contradicts the list (LocalListConflict on connector 0) and
    deauthorizes the running transaction."""
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        decisions = Decisions(cp)
        await booted(csms)
        assert await send_local_list(csms, 1, "Full", [entry("AA000001")]) == "Accepted"
        await go_offline(csms, cp)
        await cp.console("sim plug 1")
        assert (await tap(cp, decisions, "AA000001")).accepted
        await cp.until(lambda: cp.station.connectors[1].status() == "Charging")
        csms.authorization.set("AA000001", "Blocked")
        mark = csms.mark()
        await go_online(csms, cp)
        stop = await csms.wait_for("StopTransaction", after=mark, timeout_s=10)
        assert stop.payload["reason"] == "DeAuthorized"
        conflict = await csms.wait_for(
            "StatusNotification", lambda f: f.payload["errorCode"] == "LocalListConflict",
            after=mark, timeout_s=5)
        assert conflict.payload["connectorId"] == 0


async def test_pre_authorized_start_refused_in_background_is_deauthorized_3_5_2_e16_3_17(
        csms, tmp_path):
    """LocalPreAuthorize started on the list; the StartTransaction.conf says Blocked:
    conflict reported, the transaction stopped with DeAuthorized ([16] §9.1.19, §3.5.2)."""
    site = write_site(tmp_path, csms.url, defaults={"LocalPreAuthorize": True})
    async with running_agent(site) as cp:
        decisions = Decisions(cp)
        await booted(csms)
        assert await send_local_list(csms, 1, "Full", [entry("AA000001")]) == "Accepted"
        csms.authorization.set("AA000001", "Blocked")
        mark = await plugged(csms, cp)
        assert (await tap(cp, decisions, "AA000001")).why == "list:Accepted"
        start = await csms.wait_for("StartTransaction", after=mark, timeout_s=5)
        stop = await csms.wait_for("StopTransaction", after=mark, timeout_s=5)
        assert stop.payload["reason"] == "DeAuthorized" and start.seq < stop.seq
        conflict = await csms.wait_for(
            "StatusNotification", lambda f: f.payload["errorCode"] == "LocalListConflict",
            after=mark, timeout_s=5)
        assert conflict.payload["connectorId"] == 0
        assert len(csms.messages("StopTransaction", after=mark)) == 1


async def test_cache_learns_from_authorize_conf_and_serves_offline_clear_cache_3_5_1(
        csms, tmp_path):
    site = write_site(tmp_path, csms.url, defaults={"AllowOfflineTxForUnknownId": True},
                      extra="[auth]\nnegative_cache_window_s = 0\n")
    async with running_agent(site) as cp:
        decisions = Decisions(cp)
        await booted(csms)
        csms.authorization.set("CC000002", "Blocked")
        csms.authorization.set("CC000003", "Accepted", parent_id_tag="FLEET9",
                               expiry_date=datetime(2099, 1, 1, tzinfo=timezone.utc))
        for tag, accepted in (("CC000001", True), ("CC000002", False), ("CC000003", True)):
            decision = await tap_and_release(cp, decisions, tag)
            assert (decision.accepted, decision.why) == (
                accepted, "csms:Accepted" if accepted else "csms:Blocked")
        assert len(csms.messages("Authorize")) == 3
        assert (await lookup(cp, "CC000001"))["cache"] == "Accepted, no expiry"
        assert (await lookup(cp, "CC000002"))["cache"] == "Blocked, no expiry"
        assert (await lookup(cp, "CC000003"))["cache"] == \
            "Accepted, 2099-01-01T00:00:00Z, parent FLEET9"

        await go_offline(csms, cp)
        for tag, accepted, why in (("CC000001", True, "cache:Accepted"),
                                   ("CC000002", False, "cache:Blocked"),  # despite unknown-OK
                                   ("CC000003", True, "cache:Accepted"),
                                   ("CC000004", True, "offline-unknown-allowed")):
            decision = await tap_and_release(cp, decisions, tag)
            assert (decision.accepted, decision.why) == (accepted, why), tag
        stats = await cp.console("auth stats")
        assert stats[1].startswith("cache: enabled, 3/10000 entries")

        await go_online(csms, cp)
        assert await csms.call(STATION, ("ClearCache", {})) == {"status": "Accepted"}
        assert (await lookup(cp, "CC000002"))["cache"] == "not found"
        await go_offline(csms, cp)
        decision = await tap_and_release(cp, decisions, "CC000002")
        assert (decision.accepted, decision.why) == (True, "offline-unknown-allowed")


async def test_cache_disabled_or_absent_3_5_1_e16_3_23(csms, tmp_path):
    """AuthorizationCacheEnabled=false: answers are not used offline. A station without a
    cache (capacity 0) answers ClearCache with Rejected ([E16] 3.23)."""
    site = write_site(tmp_path, csms.url, defaults={"AuthorizationCacheEnabled": False},
                      extra="[auth]\ncache_capacity = 0\n")
    async with running_agent(site) as cp:
        decisions = Decisions(cp)
        await booted(csms)
        assert (await tap_and_release(cp, decisions, "CC000001")).why == "csms:Accepted"
        assert await csms.call(STATION, ("ClearCache", {})) == {"status": "Rejected"}
        await go_offline(csms, cp)
        decision = await tap_and_release(cp, decisions, "CC000001")
        assert (decision.accepted, decision.why) == (False, "offline-unknown-rejected")


async def test_parent_id_tag_group_stop_online_and_offline_3_5_4_4_1(csms, tmp_path):
    """A tag of the transaction's parentIdTag group stops it (reason Local, its own idTag
    in StopTransaction); a valid tag of another group does not. The group comes from the
    list, or from the CSMS's Authorize.conf for a tag the station does not know."""
    site = write_site(tmp_path, csms.url, defaults={"LocalPreAuthorize": True})
    async with running_agent(site) as cp:
        decisions = Decisions(cp)
        await booted(csms)
        assert await send_local_list(csms, 1, "Full", [
            entry("6A000001", parent="FLEETA"), entry("6A000002", parent="FLEETA"),
            entry("6B000001", parent="FLEETB")]) == "Accepted"
        for tag, parent in (("6A000001", "FLEETA"), ("6A000002", "FLEETA"),
                            ("6B000001", "FLEETB"), ("6A0000FF", "FLEETA")):
            csms.authorization.set(tag, "Accepted", parent_id_tag=parent)

        # Online: the list decides for list tags (LocalPreAuthorize), the CSMS for others.
        mark = await plugged(csms, cp)
        assert (await tap(cp, decisions, "6A000001")).accepted
        await cp.until(lambda: cp.station.connectors[1].status() == "Charging")
        other = await tap(cp, decisions, "6B000001")
        assert other.accepted is False
        assert cp.station.connectors[1].tx is not None
        await tap_to_stop(cp, "6A0000FF")  # unknown: the CSMS's Authorize.conf says FLEETA
        stop = await csms.wait_for("StopTransaction", after=mark, timeout_s=5)
        assert (stop.payload["reason"], stop.payload["idTag"]) == ("Local", "6A0000FF")
        await cp.console("sim unplug 1")
        await cp.until(lambda: cp.agent.outbox.stats()[0] == 0)  # the CSMS confirmed it

        # Offline: only the list knows the groups.
        await go_offline(csms, cp)
        await cp.console("sim plug 1")
        assert (await tap(cp, decisions, "6A000001")).accepted
        await cp.until(lambda: cp.station.connectors[1].status() == "Charging")
        refused = await tap(cp, decisions, "6B000001")
        assert (refused.accepted, refused.why) == (False, "no-free-connector")
        assert cp.station.connectors[1].tx is not None
        await tap_to_stop(cp, "6A000002")
        mark = csms.mark()
        await go_online(csms, cp)
        stop = await csms.wait_for("StopTransaction", after=mark, timeout_s=10)
        assert (stop.payload["reason"], stop.payload["idTag"]) == ("Local", "6A000002")
        assert conflicts(csms) == []


async def test_authorize_callerror_falls_back_to_the_offline_rules_3_5(csms, tmp_path):
    """Connected, but the CSMS cannot answer Authorize (CALLERROR): the station decides as
    if offline — list entries under LocalAuthorizeOffline, unknown tags refused."""
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        decisions = Decisions(cp)
        await booted(csms)
        assert await send_local_list(csms, 1, "Full", [entry("AA000001")]) == "Accepted"
        csms.script("Authorize", CallError("InternalError", "authorization backend down"),
                    always=True)
        decision = await tap_and_release(cp, decisions, "AA000001")
        assert (decision.accepted, decision.why) == (True, "list:Accepted")
        decision = await tap_and_release(cp, decisions, "EE000001")
        assert (decision.accepted, decision.why) == (False, "offline-unknown-rejected")
        assert len(csms.messages("Authorize")) == 2


async def test_refused_tag_is_not_asked_again_within_the_negative_window_3_5_1(csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        decisions = Decisions(cp)
        await booted(csms)
        csms.authorization.set("BB000001", "Blocked")
        assert (await tap(cp, decisions, "BB000001")).why == "csms:Blocked"
        mark = csms.mark()
        decision = await tap(cp, decisions, "BB000001")
        assert (decision.accepted, decision.why) == (False, "negative-cache")
        assert csms.messages("Authorize", after=mark) == []


async def test_stop_transaction_conf_id_tag_info_updates_the_cache_3_5_1(csms, tmp_path):
    """[16] §3.5.1: the cache is updated from every IdTagInfo, StopTransaction.conf too."""
    site = write_site(tmp_path, csms.url, extra="[auth]\nnegative_cache_window_s = 0\n")
    async with running_agent(site) as cp:
        decisions = Decisions(cp)
        await booted(csms)
        await plugged(csms, cp)
        assert (await tap(cp, decisions, "CC000001")).why == "csms:Accepted"
        await cp.until(lambda: cp.station.connectors[1].tx is not None
                       and cp.station.connectors[1].tx.transaction_id is not None)
        csms.authorization.set("CC000001", "Blocked")  # e.g. the card was reported stolen
        mark = csms.mark()
        await tap_to_stop(cp, "CC000001")
        stop = await csms.wait_for("StopTransaction", after=mark, timeout_s=5)
        answer = await csms.wait_frame(lambda f: f.request_seq == stop.seq, direction="to_cp")
        assert answer.payload["idTagInfo"]["status"] == "Blocked"
        await cp.until(lambda: cp.agent.outbox.stats()[0] == 0)
        assert (await lookup(cp, "CC000001"))["cache"] == "Blocked, no expiry"


async def test_list_disabled_its_tags_are_cached_like_any_other_3_5_1_3_5_3(csms, tmp_path):
    """LocalAuthListEnabled=false: the list kept on disk is not used, so its tags are
    ordinary tags: the cache learns them from Authorize.conf and serves them offline.
    (§3.5.3 keeps list ids out of the cache because the list answers for them.)"""
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        decisions = Decisions(cp)
        await booted(csms)
        assert await send_local_list(csms, 1, "Full", [entry("AA000001")]) == "Accepted"
        await change(csms, "LocalAuthListEnabled", "false")
        assert (await tap_and_release(cp, decisions, "AA000001")).why == "csms:Accepted"
        assert (await lookup(cp, "AA000001"))["cache"] == "Accepted, no expiry"
        await go_offline(csms, cp)
        decision = await tap_and_release(cp, decisions, "AA000001")
        assert (decision.accepted, decision.why) == (True, "cache:Accepted")


async def test_tag_added_to_the_list_leaves_the_cache_3_5_3(csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        decisions = Decisions(cp)
        await booted(csms)
        assert (await tap_and_release(cp, decisions, "CC000001")).why == "csms:Accepted"
        assert (await lookup(cp, "CC000001"))["cache"] == "Accepted, no expiry"
        assert await send_local_list(csms, 1, "Full", [entry("CC000001", "Blocked")]) == \
            "Accepted"
        found = await lookup(cp, "CC000001")
        assert (found["list"], found["cache"]) == ("Blocked, no expiry", "not found")
        await go_offline(csms, cp)
        decision = await tap_and_release(cp, decisions, "CC000001")
        assert (decision.accepted, decision.why) == (False, "list:Blocked")


async def test_refused_offline_taps_never_hold_the_connector_issue_8_item_3(csms, tmp_path):
    """Online, a tag the CSMS answers Blocked (no cable); offline, plug, an unknown tag
    (AllowOfflineTxForUnknownId=false), then the Blocked tag; online; unplug. The
    connector stays free for taps and reports Available after the unplug."""
    site = write_site(tmp_path, csms.url, defaults={"AllowOfflineTxForUnknownId": False})
    async with running_agent(site) as cp:
        decisions = Decisions(cp)
        await booted(csms)
        csms.authorization.set("BB000001", "Blocked")
        assert (await tap(cp, decisions, "BB000001")).why == "csms:Blocked"
        await go_offline(csms, cp)
        await plugged(csms, cp)
        assert not (await tap(cp, decisions, "EE000001")).accepted
        assert not (await tap(cp, decisions, "BB000001")).accepted
        mark = csms.mark()
        await go_online(csms, cp)
        await cp.console("sim unplug 1")
        await csms.wait_for("StatusNotification", lambda f: f.payload["connectorId"] == 1
                            and f.payload["status"] == "Available", after=mark, timeout_s=10)
        csms.authorization.set("AA000009", "Accepted")
        await plugged(csms, cp)
        decision = await tap(cp, decisions, "AA000009")
        assert (decision.accepted, decision.why) == (True, "csms:Accepted")
