"""Local Authorization List Management over the real websocket ([16] §3.5.2, §5.10, §5.15;
OCPP-J 1.6 §4.2.3 for the CALLERRORs). The DevCsms plays an independent CSMS: it only
sees SendLocalList.conf / GetLocalListVersion.conf / CALLERRORs, and the console's
``auth lookup`` shows what the list holds afterwards."""

import pytest

from tests.integration.agent import running_agent, write_site
from tests.integration.test_auth_support import (
    STATION,
    booted,
    call_error,
    entry,
    list_status,
    list_version,
    lookup,
    send_local_list,
)


async def test_full_and_differential_sequence_and_version_rules_5_10_5_15(csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await booted(csms)
        assert await list_version(csms) == 0  # §5.10: no list yet → 0

        # Full replaces everything and sets the version.
        assert await send_local_list(csms, 5, "Full", [
            entry("AA000001"), entry("AA000002", "Blocked"),
            entry("AA000003", parent="FLEET1", expiry="2099-01-01T00:00:00Z")]) == "Accepted"
        assert await list_version(csms) == 5
        assert await list_status(cp, "AA000001") == "Accepted, no expiry"
        assert await list_status(cp, "aa000002") == "Blocked, no expiry"  # CiString: any case
        assert await list_status(cp, "AA000003") == \
            "Accepted, 2099-01-01T00:00:00Z, parent FLEET1"

        # §5.15: a Differential whose version is not above the current one → VersionMismatch,
        # nothing applied.
        for stale in (5, 4, 0, -3):
            assert await send_local_list(csms, stale, "Differential",
                                         [entry("BB000001")]) == "VersionMismatch"
        assert await list_status(cp, "BB000001") == "not found"
        assert await list_version(csms) == 5

        # A Differential adds, updates and removes (an item without idTagInfo) at once.
        assert await send_local_list(csms, 6, "Differential", [
            entry("BB000001"), entry("AA000002", "Accepted"), entry("AA000001", None)]) == \
            "Accepted"
        assert await list_version(csms) == 6
        assert await list_status(cp, "BB000001") == "Accepted, no expiry"
        assert await list_status(cp, "AA000002") == "Accepted, no expiry"
        assert await list_status(cp, "AA000001") == "not found"
        # Versions need not be consecutive, only increasing.
        assert await send_local_list(csms, 100, "Differential", [entry("BB000002")]) == \
            "Accepted"
        assert await list_version(csms) == 100

        # A Full may lower the version (the CSMS starts over): it replaces the list.
        assert await send_local_list(csms, 2, "Full", [entry("CC000001")]) == "Accepted"
        assert await list_version(csms) == 2
        for gone in ("AA000002", "AA000003", "BB000001", "BB000002"):
            assert await list_status(cp, gone) == "not found"

        # An empty Full empties the list: GetLocalListVersion reports 0 whatever was sent.
        assert await send_local_list(csms, 9, "Full", []) == "Accepted"
        assert await list_version(csms) == 0
        assert await list_status(cp, "CC000001") == "not found"
        # Against the empty list (version 0) any positive Differential version is above it.
        assert await send_local_list(csms, 1, "Differential", [entry("DD000001")]) == "Accepted"
        assert await list_version(csms) == 1


async def test_local_auth_list_disabled_not_supported_and_minus_one_5_10(csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await booted(csms)
        assert await send_local_list(csms, 3, "Full", [entry("AA000001")]) == "Accepted"
        assert (await csms.call(STATION, ("ChangeConfiguration", {
            "key": "LocalAuthListEnabled", "value": "false"})))["status"] == "Accepted"
        assert await list_version(csms) == -1
        assert await send_local_list(csms, 4, "Full", [entry("AA000009")]) == "NotSupported"
        assert await send_local_list(csms, 4, "Differential", [entry("AA000009")]) == \
            "NotSupported"
        lines = await lookup(cp, "AA000001")
        assert lines["list"] == "Accepted, no expiry [LocalAuthListEnabled=false: unused]"
        # Re-enabled: the list kept while disabled is back with its version.
        assert (await csms.call(STATION, ("ChangeConfiguration", {
            "key": "LocalAuthListEnabled", "value": "true"})))["status"] == "Accepted"
        assert await list_version(csms) == 3
        assert await list_status(cp, "AA000009") == "not found"


async def test_over_the_limits_fails_and_changes_nothing_5_15(csms, tmp_path):
    site = write_site(tmp_path, csms.url, defaults={"LocalAuthListMaxLength": 5,
                                                    "SendLocalListMaxLength": 4})
    async with running_agent(site) as cp:
        await booted(csms)
        reply = await csms.call(STATION, ("GetConfiguration", {
            "key": ["LocalAuthListMaxLength", "SendLocalListMaxLength"]}))
        assert {k["key"]: k["value"] for k in reply["configurationKey"]} == {
            "LocalAuthListMaxLength": "5", "SendLocalListMaxLength": "4"}
        assert await send_local_list(csms, 1, "Full", [entry(f"AA00000{i}") for i in range(3)]) \
            == "Accepted"
        # More entries in one message than SendLocalListMaxLength.
        assert await send_local_list(csms, 2, "Full", [entry(f"BB00000{i}") for i in range(5)]) \
            == "Failed"
        assert await send_local_list(csms, 2, "Differential",
                                     [entry(f"BB00000{i}") for i in range(5)]) == "Failed"
        # Within the message limit, but the list would outgrow LocalAuthListMaxLength.
        assert await send_local_list(csms, 2, "Differential",
                                     [entry(f"BB00000{i}") for i in range(3)]) == "Failed"
        # The same idTag twice (case-insensitive CiString) in one message.
        assert await send_local_list(csms, 2, "Differential",
                                     [entry("BB000001"), entry("bb000001", "Blocked")]) == "Failed"
        assert await list_version(csms) == 1
        for tag in ("BB000000", "BB000001", "BB000004"):
            assert await list_status(cp, tag) == "not found"
        assert await list_status(cp, "AA000002") == "Accepted, no expiry"
        # Exactly at the limit is fine: 3 + 2 = 5 entries.
        assert await send_local_list(csms, 2, "Differential",
                                     [entry("BB000000"), entry("BB000001")]) == "Accepted"
        stats = await cp.console("auth stats")
        assert stats[0].startswith("list: enabled, version 2, 5 entries (max 5;")


async def test_default_send_local_list_max_length_10000_is_enforced_5_15(csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await booted(csms)
        assert await send_local_list(csms, 1, "Full", [entry("AA000001")]) == "Accepted"
        too_many = [entry(f"{i:08X}") for i in range(10_001)]
        assert await send_local_list(csms, 2, "Full", too_many, validate=False) == "Failed"
        assert await list_version(csms) == 1
        assert await list_status(cp, "00000000") == "not found"
        assert await send_local_list(csms, 2, "Full", too_many[:10_000], validate=False) == \
            "Accepted"
        assert await list_version(csms) == 2
        assert await list_status(cp, f"{9_999:08X}") == "Accepted, no expiry"


async def test_oversize_id_tag_is_a_type_constraint_violation_link_stays_up_j16_4_2_3(
        csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await booted(csms)
        assert await send_local_list(csms, 1, "Full", [entry("AA000001")]) == "Accepted"
        long_tag = "X" * 21  # CiString20
        for update_type in ("Full", "Differential"):
            code = await call_error(csms, "SendLocalList", {
                "listVersion": 2, "updateType": update_type,
                "localAuthorizationList": [entry("AA000002"), entry(long_tag)]})
            assert code == "TypeConstraintViolation"
        code = await call_error(csms, "SendLocalList", {
            "listVersion": 2, "updateType": "Full",
            "localAuthorizationList": [entry("AA000002", parent="P" * 21)]})
        assert code == "TypeConstraintViolation"
        # Nothing was applied, the same connection still works.
        assert await list_version(csms) == 1
        assert await list_status(cp, "AA000002") == "not found"
        assert await send_local_list(csms, 2, "Full", [entry("X" * 20)]) == "Accepted"
        assert await list_status(cp, "X" * 20) == "Accepted, no expiry"
        assert cp.agent.link.status.connects == 1


MALFORMED = [
    ({"updateType": "Full", "localAuthorizationList": []}, "OccurenceConstraintViolation"),
    ({"listVersion": 2}, "OccurenceConstraintViolation"),
    ({"listVersion": "2", "updateType": "Full"}, "TypeConstraintViolation"),
    ({"listVersion": 2.5, "updateType": "Full"}, "TypeConstraintViolation"),
    ({"listVersion": 2, "updateType": "Sideways"}, "PropertyConstraintViolation"),
    ({"listVersion": 2, "updateType": "Full", "colour": "red"}, "FormationViolation"),
    ({"listVersion": 2, "updateType": "Full", "localAuthorizationList": {}},
     "TypeConstraintViolation"),
    ({"listVersion": 2, "updateType": "Full", "localAuthorizationList": [{"idTag": "A1"}]},
     "OccurenceConstraintViolation"),  # Full needs idTagInfo
    ({"listVersion": 2, "updateType": "Full",
      "localAuthorizationList": [{"idTagInfo": {"status": "Accepted"}}]},
     "OccurenceConstraintViolation"),
    ({"listVersion": 2, "updateType": "Full",
      "localAuthorizationList": [{"idTag": 1234, "idTagInfo": {"status": "Accepted"}}]},
     "TypeConstraintViolation"),
    ({"listVersion": 2, "updateType": "Full",
      "localAuthorizationList": [{"idTag": "A1", "idTagInfo": {"status": "Maybe"}}]},
     "PropertyConstraintViolation"),
    ({"listVersion": 2, "updateType": "Full",
      "localAuthorizationList": [{"idTag": "A1", "idTagInfo": {}}]},
     "OccurenceConstraintViolation"),
    ({"listVersion": 2, "updateType": "Full",
      "localAuthorizationList": [{"idTag": "A1", "idTagInfo": {"status": "Accepted",
                                                                "expiryDate": "tomorrow"}}]},
     "TypeConstraintViolation"),
    ({"listVersion": 2, "updateType": "Differential",
      "localAuthorizationList": [{"idTag": "A1", "idTagInfo": {"status": "Accepted",
                                                                "colour": "red"}}]},
     "FormationViolation"),
]


async def test_malformed_send_local_list_gets_the_1_6_callerror_nothing_applied_j16_4_2_3(
        csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await booted(csms)
        assert await send_local_list(csms, 1, "Full", [entry("AA000001")]) == "Accepted"
        for payload, code in MALFORMED:
            assert await call_error(csms, "SendLocalList", payload) == code, payload
        assert await call_error(csms, "GetLocalListVersion", {"extra": 1}) == \
            "FormationViolation"
        assert await list_version(csms) == 1
        assert await list_status(cp, "AA000001") == "Accepted, no expiry"
        assert await list_status(cp, "A1") == "not found"
        assert cp.agent.link.status.connects == 1


@pytest.mark.parametrize("text, code", [
    ('[2,"sll-1","SendLocalList",{"listVersion":2,"updateType":"Full"', "FormationViolation"),
    ('[2,"sll-2","SendLocalList"]', "ProtocolError"),
    ('[2,"sll-3","SendLocalList",[1,2]]', "FormationViolation"),
])
async def test_broken_send_local_list_frames_j16_4_2_3(csms, tmp_path, text, code):
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await booted(csms)
        await csms.send_raw(STATION, text)
        error = await csms.wait_raw_reply(text.split('"')[1], timeout_s=5)
        assert (error.message_type, error.error_code) == (4, code)
        assert await list_version(csms) == 0
        assert cp.agent.link.status.connects == 1


async def test_console_auth_lookup_and_stats_report_list_cache_and_decisions(csms, tmp_path):
    """The technician's view ([16] §3.5 accountability): `auth lookup TAG`, `auth stats`."""
    site = write_site(tmp_path, csms.url, defaults={"LocalPreAuthorize": True})
    async with running_agent(site) as cp:
        await booted(csms)
        assert await send_local_list(csms, 7, "Full", [
            entry("AA000001", parent="FLEET1", expiry="2099-01-01T00:00:00Z"),
            entry("AA000002", "Blocked")]) == "Accepted"
        assert await cp.console("auth lookup aa000001") == [
            "tag: 'aa000001' -> canonical AA000001",
            "list: Accepted, 2099-01-01T00:00:00Z, parent FLEET1",
            "cache: not found",
            "negative cache: no",
            "decision online: start (list:Accepted)",
            "decision offline: start (list:Accepted)",
        ]
        assert await cp.console("auth lookup AA000002") == [
            "tag: 'AA000002' -> canonical AA000002",
            "list: Blocked, no expiry",
            "cache: not found",
            "negative cache: no",
            "decision online: ask (list:Blocked)",
            "decision offline: reject (list:Blocked)",
        ]
        stats = await cp.console("auth stats")
        assert stats[0].startswith("list: enabled, version 7, 2 entries (max 1000000; ")
        assert stats[1] == "cache: enabled, 0/10000 entries, hit rate n/a (0 of 0)"
        assert stats[4].startswith("last list update: Accepted Full v7 2 entries in ")
