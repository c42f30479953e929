"""Child process for test_auth_crash: applies list updates until killed.

usage: crash_child.py DB_PATH [PHASE OCCURRENCE]

Version k's content is a pure function of k (``expected_state``), so whoever opens the
database after a kill can check that the version and the content belong together.
Odd versions are Full updates, even versions Differentials on top of the previous one.
With PHASE, the process SIGKILLs itself at the OCCURRENCE-th time the store reaches
that step (see firmware.auth.listdb); without, the parent kills it at a random time.
"""

from __future__ import annotations

import os
import signal
import sys

FULL_SIZE = 5_000


def full_payload(k: int) -> dict:
    return {"listVersion": k, "updateType": "Full", "localAuthorizationList": [
        {"idTag": f"F{k}-{i}", "idTagInfo": {"status": "Accepted" if (i + k) % 3 else "Blocked",
                                              "parentIdTag": f"G{i % 7}"}}
        for i in range(FULL_SIZE)]}


def diff_payload(k: int) -> dict:
    base = k - 1  # the Full this Differential builds on
    items: list[dict] = [{"idTag": f"F{base}-{i}"} for i in range(20)]  # removals
    items += [{"idTag": f"F{base}-{i}", "idTagInfo": {"status": "Invalid"}}
              for i in range(20, 40)]  # updates
    items += [{"idTag": f"D{k}-{j}", "idTagInfo": {"status": "Accepted"}} for j in range(30)]
    return {"listVersion": k, "updateType": "Differential", "localAuthorizationList": items}


def payload_for(k: int) -> dict:
    return full_payload(k) if k % 2 else diff_payload(k)


def expected_state(version: int) -> dict[str, str]:
    """Tag → status of the list at ``version`` (0 = empty)."""
    if version == 0:
        return {}
    base = version if version % 2 else version - 1
    state = {e["idTag"]: e["idTagInfo"]["status"] for e in full_payload(base)[
        "localAuthorizationList"]}
    if version % 2 == 0:
        for item in diff_payload(version)["localAuthorizationList"]:
            if "idTagInfo" in item:
                state[item["idTag"]] = item["idTagInfo"]["status"]
            else:
                state.pop(item["idTag"], None)
    return state


def main() -> None:
    db_path = sys.argv[1]
    phase = sys.argv[2] if len(sys.argv) > 2 else None
    occurrence = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    seen = [0]

    def hook(name: str) -> None:
        if name == phase:
            seen[0] += 1
            if seen[0] >= occurrence:
                os.kill(os.getpid(), signal.SIGKILL)

    from firmware.auth import store as store_module
    from firmware.auth.store import AuthorizationStore
    from firmware.core.authorization import AuthKeys

    store_module.OVERLAY_MIN = store_module.OVERLAY_MAX = 40  # every Differential compacts
    store = AuthorizationStore(db_path, keys=AuthKeys(), crash_hook=hook)
    version = store.list_version()
    print("ready", flush=True)
    for _ in range(30):  # a phase never reached must not hang the test
        version += 1
        status = store.apply_send_local_list_sync(payload_for(version))
        assert status == "Accepted", (version, status)


if __name__ == "__main__":
    main()
