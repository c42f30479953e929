"""Authorization data across restarts ([16] §3.5.1 cache, §3.5.2 list, §5.10 version,
§5.15 SendLocalList): what the CSMS sent before a restart is what the station decides
with after it, even when the process was killed in the middle of a Full update."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import pytest

from tests.integration.agent import REPO, running_agent, write_site
from tests.integration.test_auth_support import (
    STATION,
    Decisions,
    booted,
    entry,
    list_status,
    list_version,
    send_local_list,
    tap_and_release,
)


async def test_list_version_and_cache_survive_a_restart_3_5_1_3_5_2_5_10(csms, tmp_path):
    site = write_site(tmp_path, csms.url)
    async with running_agent(site) as cp:
        decisions = Decisions(cp)
        await booted(csms)
        assert await send_local_list(csms, 3, "Full", [
            entry("5A000001"), entry("5A000002", "Blocked"),
            entry("5A000003", parent="FLEET1")] + [entry(f"5F{i:06X}") for i in range(2_000)]
        ) == "Accepted"
        # A Differential that stays in the overlay (not yet folded into the index file).
        assert await send_local_list(csms, 4, "Differential", [
            entry("5A000004", expiry="2099-01-01T00:00:00Z"), entry("5A000003", None)]) == \
            "Accepted"
        csms.authorization.set("5C000002", "Blocked")
        assert (await tap_and_release(cp, decisions, "5C000001")).why == "csms:Accepted"
        assert (await tap_and_release(cp, decisions, "5C000002")).why == "csms:Blocked"

    # Second life, and the CSMS is down: everything is decided from what survived.
    csms.refuse_connections = True
    async with running_agent(site) as cp:
        decisions = Decisions(cp)
        expected = {"5A000001": (True, "list:Accepted"), "5A000002": (False, "list:Blocked"),
                    "5A000003": (False, "offline-unknown-rejected"),  # removed by v4
                    "5A000004": (True, "list:Accepted"), "5F0007CF": (True, "list:Accepted"),
                    "5C000001": (True, "cache:Accepted"), "5C000002": (False, "cache:Blocked")}
        for tag, (accepted, why) in expected.items():
            decision = await tap_and_release(cp, decisions, tag)
            assert (decision.accepted, decision.why) == (accepted, why), tag
        assert await list_status(cp, "5A000004") == "Accepted, 2099-01-01T00:00:00Z"
        stats = await cp.console("auth stats")
        assert stats[0].startswith("list: enabled, version 4, 2003 entries")
        assert stats[1].startswith("cache: enabled, 2/10000 entries")

        mark = csms.mark()
        csms.refuse_connections = False
        await booted(csms, after=mark)
        assert await list_version(csms) == 4
        assert await send_local_list(csms, 4, "Differential", [entry("5A000009")]) == \
            "VersionMismatch"
        assert await send_local_list(csms, 5, "Differential", [entry("5A000009")]) == \
            "Accepted"


# A child running the real agent (``python -m firmware run``) whose authorization store
# parks its writer thread at one step of a list update (the store's own crash_hook, see
# firmware.auth.listdb) and says so on stdout; the test then SIGKILLs the process.
CHILD = r"""
import sys, threading
phase, occurrence, site = sys.argv[1], int(sys.argv[2]), sys.argv[3]
seen = [0]

def hook(name):
    if name == phase:
        seen[0] += 1
        if seen[0] == occurrence:
            print("PARKED", name, flush=True)
            threading.Event().wait()

from firmware.auth import store
plain_init = store.AuthorizationStore.__init__

def init(self, *args, **kwargs):
    plain_init(self, *args, **{**kwargs, "crash_hook": hook})

store.AuthorizationStore.__init__ = init
from firmware.__main__ import main
sys.exit(main(["run", "--config", site]))
"""

OLD_SIZE = 1_000     # one shadow chunk (listdb.SHADOW_CHUNK_ROWS = 2,000)
NEW_SIZE = 10_000    # five chunks; the old tags come back Blocked, 9,000 are new


def old_list() -> list[dict]:
    return [entry(f"0A{i:06X}", parent="OLD") for i in range(OLD_SIZE)]


def new_list() -> list[dict]:
    return [entry(f"0A{i:06X}", "Blocked") for i in range(OLD_SIZE)] + [
        entry(f"0B{i:06X}", parent="NEW") for i in range(NEW_SIZE - OLD_SIZE)]


@pytest.mark.parametrize("phase, occurrence, survivor", [
    ("shadow-chunk", 4, "old"),        # half-way through writing the new list
    ("swap-before-commit", 2, "old"),  # everything written, the switch not committed
    ("swap-committed", 2, "new"),      # switched, cleanup not done
])
async def test_full_update_killed_half_way_leaves_old_or_new_list_5_15(
        csms, tmp_path, phase, occurrence, survivor):
    site = write_site(tmp_path, csms.url)
    log_path = tmp_path / "agent.log"
    with open(log_path, "wb") as log:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CHILD, phase, str(occurrence), str(site), cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)}, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=log)
    try:
        await booted(csms)
        assert await send_local_list(csms, 1, "Full", old_list()) == "Accepted"
        payload = {"listVersion": 2, "updateType": "Full", "localAuthorizationList": new_list()}
        await csms.send_raw(STATION, json.dumps([2, "killed-full", "SendLocalList", payload]))
        line = await asyncio.wait_for(child.stdout.readline(), 30)
        assert line.decode().split() == ["PARKED", phase], log_path.read_text()[-2000:]
        child.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(child.wait(), 10) == -signal.SIGKILL
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    await csms.wait_disconnected(STATION)
    assert [f for f in csms.messages(after=0) if f.unique_id == "killed-full"] == []

    mark = csms.mark()
    async with running_agent(site) as cp:
        await booted(csms, after=mark)
        stats = await cp.console("auth stats")
        if survivor == "old":
            assert await list_version(csms) == 1
            assert stats[0].startswith(f"list: enabled, version 1, {OLD_SIZE} entries")
            for i in (0, OLD_SIZE // 2, OLD_SIZE - 1):
                assert await list_status(cp, f"0A{i:06X}") == "Accepted, no expiry, parent OLD"
            for i in (0, 4_321, NEW_SIZE - OLD_SIZE - 1):
                assert await list_status(cp, f"0B{i:06X}") == "not found"
        else:
            assert await list_version(csms) == 2
            assert stats[0].startswith(f"list: enabled, version 2, {NEW_SIZE} entries")
            for i in (0, OLD_SIZE // 2, OLD_SIZE - 1):
                assert await list_status(cp, f"0A{i:06X}") == "Blocked, no expiry"
            for i in (0, 4_321, NEW_SIZE - OLD_SIZE - 1):
                assert await list_status(cp, f"0B{i:06X}") == "Accepted, no expiry, parent NEW"
        # The leftovers of the killed update do not stand in the way of the next one.
        assert await send_local_list(csms, 3, "Full", [entry("0C000001")]) == "Accepted"
        assert await list_version(csms) == 3
        assert await list_status(cp, "0A000000") == "not found"
        await asyncio.to_thread(cp.agent.auth.store.wait_idle, 30)
        tables = {name for (name,) in cp.agent.auth.store._conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'auth_list%'")}
        assert tables == {"auth_list", "auth_list_delta"}
