"""SendLocalList of 10,000 entries runs beside the event loop: other tasks (heartbeats,
taps) keep running and lookups see the old list or the new one, never an error.
No timing assertions here: latency figures belong to bench/auth_bench.py."""

from __future__ import annotations

import asyncio

from firmware.auth import SendLocalListFormatError
from tests.auth.auth_helpers import NOW, decide, full


def big_full(version: int, n: int, status: str = "Accepted") -> dict:
    payload = full(version)
    payload["localAuthorizationList"] = [
        {"idTag": f"{i:08X}", "idTagInfo": {"status": status}} for i in range(n)]
    return payload


async def test_loop_keeps_running_and_lookups_stay_consistent(store):
    await store.apply_send_local_list(big_full(1, 10_000, "Blocked"))
    ticks = 0
    seen: set[str] = set()
    done = asyncio.Event()

    async def taps_and_heartbeats():
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            list_entry, _ = store.lookup("0000270F")  # the last entry of both versions
            seen.add(list_entry.status)
            decide(store, "00000001", online=False, now=NOW)
            await asyncio.sleep(0)

    async def update():
        try:
            return await store.apply_send_local_list(big_full(2, 10_000, "Accepted"))
        finally:
            done.set()

    status, _ = await asyncio.gather(update(), taps_and_heartbeats())
    assert status == "Accepted"
    assert ticks > 1  # the loop ran while the update was validated and written
    assert seen <= {"Blocked", "Accepted"}
    assert store.lookup("0000270F")[0].status == "Accepted" and store.list_version() == 2


async def test_validation_error_reaches_the_awaiting_handler(store):
    payload = big_full(1, 10_000)
    payload["localAuthorizationList"][9_999]["idTag"] = "X" * 21
    try:
        await store.apply_send_local_list(payload)
    except SendLocalListFormatError as e:
        assert e.code == "TypeConstraintViolation" and "[9999]" in e.description
    else:
        raise AssertionError("expected a SendLocalListFormatError")
    assert store.list_version() == 0


async def test_a_cancelled_handler_leaves_the_update_whole(store):
    task = asyncio.ensure_future(store.apply_send_local_list(big_full(3, 10_000)))
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.get_running_loop().run_in_executor(None, store.wait_idle)
    assert (store.list_version(), store.list_size()) in ((0, 0), (3, 10_000))
