"""Authorization benchmarks (DESIGN §5): decision latency, memory, cold open, and
SendLocalList throughput beside a running event loop.

``run(results)`` appends {"name", "value", "unit", "baseline", "ratio"} dicts; the
baseline is the simple alternative measured in the same run (ratios hold on noisy
machines, absolute times don't). ``python -m bench.auth_bench`` prints them.

Figures:
- decision latency p99 through the path a tap takes (``StoreAuthorization.lookup``:
  normalise, list, cache, negative cache; then the core's ``decide_start`` rules) with a 1,000,000-entry list and
  100,000 cache entries, half of the tags unknown; baseline: ``SELECT ... WHERE
  id_tag = ?`` on the same indexed SQLite table (cached statement), interleaved.
- RSS growth with the 1M list open, and after 200,000 lookups have touched every page
  (fresh subprocess); baseline: that process's RSS before opening.
- cold open of the 1M list in a fresh process (open + first lookup); baseline:
  ``sqlite3.connect`` + one lookup. The page cache is warm (no root to drop it).
- SendLocalList 100,000 entries as Full (10,000) + 9 Differentials through
  ``apply_send_local_list`` in a running loop, with a 1 ms ticker measuring the
  longest stall, in a fresh process with ocpp/websockets/jsonschema imported (the
  garbage collector sees the agent's heap); each frame is ``json.loads``-ed on the
  loop first (~8 ms for 10,000 entries), as the OCPP layer will do. Measured as is
  and with ``gc.freeze()`` after start-up (a full collection then skips the import
  heap). Baselines: the ocpp library's jsonschema validation of the same messages
  (entries/s), and the stall of that validation run on the loop.

The 1M-entry database is generated once per run in a temporary directory.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from firmware.auth import AuthorizationStore, StoreAuthorization  # noqa: E402
from firmware.core.authorization import AuthKeys, decide_start  # noqa: E402

LIST_SIZE = 1_000_000
CACHE_SIZE = 100_000
SAMPLES = 200_000
NOW = 1_767_225_600.0
STATUSES = ("Accepted", "Accepted", "Accepted", "Blocked", "Expired")


def list_tag(i: int) -> str:
    return f"04{(i * 2654435761) % (1 << 48):012X}"  # 7-byte-UID-like, spread out


def cache_tag(i: int) -> str:
    return f"C{i:09d}"


def unknown_tag(i: int) -> str:
    return f"U{i:013X}"


def percentile(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] / 1000.0  # ns → µs


def result(name: str, value: float, unit: str, baseline: float) -> dict:
    return {"name": name, "value": round(value, 3), "unit": unit,
            "baseline": round(baseline, 3),
            "ratio": round(value / baseline, 3) if baseline else None}


def build_list(directory: Path) -> tuple[Path, float]:
    db = directory / "borne.db"
    store = AuthorizationStore(db, keys=AuthKeys(), cache_capacity=0)
    started = time.perf_counter()
    store.replace_list(((list_tag(i), STATUSES[i % 5], NOW + 86_400 if i % 7 == 0 else None,
                         f"FLEET{i % 1000}" if i % 3 == 0 else None)
                        for i in range(LIST_SIZE)), LIST_SIZE, 1)
    elapsed = time.perf_counter() - started
    store.wait_idle()
    store.close()
    return db, elapsed


def _child(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])


_RSS_CHILD = r"""
import json, random, sys
def rss_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
from firmware.auth import AuthorizationStore
from firmware.core.authorization import AuthKeys
import bench.auth_bench as b
bare = rss_kb()
store = AuthorizationStore(sys.argv[1], keys=AuthKeys(), cache_capacity=0)
store.lookup(b.list_tag(1))
opened = rss_kb()
rng = random.Random(7)
for _ in range(200_000):
    store.lookup(b.list_tag(rng.randrange(b.LIST_SIZE)))
touched = rss_kb()
print(json.dumps({"bare_kb": bare, "opened_kb": opened, "touched_kb": touched}))
"""

_OPEN_CHILD = r"""
import json, sqlite3, sys, time
mode = sys.argv[2]
if mode == "store":
    from firmware.auth import AuthorizationStore
    from firmware.core.authorization import AuthKeys
    t0 = time.perf_counter()
    store = AuthorizationStore(sys.argv[1], keys=AuthKeys(), cache_capacity=0)
    found = store.lookup(sys.argv[3])[0] is not None
else:
    t0 = time.perf_counter()
    conn = sqlite3.connect(sys.argv[1])
    found = conn.execute("SELECT status, expiry_s, parent_id_tag FROM auth_list WHERE id_tag = ?",
                         (sys.argv[3],)).fetchone() is not None
elapsed = time.perf_counter() - t0
print(json.dumps({"s": elapsed, "found": found}))
"""


def bench_memory_and_open(db: Path, results: list) -> None:
    m = _child(_RSS_CHILD, str(db))
    bare_mb = m["bare_kb"] / 1024
    results.append(result("auth: RSS growth, 1M-entry list open", (m["opened_kb"] - m["bare_kb"])
                          / 1024, "MB", bare_mb))
    results.append(result("auth: RSS growth, 1M list open + 200k lookups (all pages touched)",
                          (m["touched_kb"] - m["bare_kb"]) / 1024, "MB", bare_mb))
    tag = list_tag(12345)
    ours = min(_child(_OPEN_CHILD, str(db), "store", tag)["s"] for _ in range(3))
    plain = min(_child(_OPEN_CHILD, str(db), "sqlite", tag)["s"] for _ in range(3))
    results.append(result("auth: cold open of the 1M list + first lookup", ours * 1000, "ms",
                          plain * 1000))


def bench_decision(db: Path, results: list) -> None:
    store = AuthorizationStore(db, keys=AuthKeys(local_pre_authorize=True),
                               cache_capacity=CACHE_SIZE)
    for i in range(CACHE_SIZE):
        store.cache_update(cache_tag(i), "Accepted" if i % 4 else "Blocked",
                           NOW + 3600 if i % 2 else None, None, NOW)
    store.wait_idle()
    rng = random.Random(42)
    tags = []
    for i in range(SAMPLES):  # half hits: 1/4 list, 1/4 cache, 1/2 unknown
        pick = i % 4
        tags.append(list_tag(rng.randrange(LIST_SIZE)) if pick == 0 else
                    cache_tag(rng.randrange(CACHE_SIZE)) if pick == 1 else
                    unknown_tag(rng.randrange(10 ** 9)))
    rng.shuffle(tags)
    conn = store._conn  # the same database file, same process
    sql = "SELECT status, expiry_s, parent_id_tag FROM auth_list WHERE id_tag = ?"
    execute = conn.execute
    port = StoreAuthorization(store, lambda: store.keys)
    keys = store.keys

    def decide(tag: str, *, online: bool, now: float) -> object:
        list_entry, cache_entry, negative = port.lookup(tag, now)
        return decide_start(tag, list_entry, cache_entry, online=online, keys=keys, now=now,
                            negative_cached=negative)
    clock = time.perf_counter_ns
    ours: list[int] = []
    plain: list[int] = []
    for tag in tags[:20_000]:  # warm both paths (page cache, statement cache)
        decide(tag, online=False, now=NOW)
        execute(sql, (tag,)).fetchone()
    for start in range(0, SAMPLES, 10_000):  # interleaved blocks: same noise for both
        block = tags[start:start + 10_000]
        for n, tag in enumerate(block):
            online = n & 1 == 0
            t0 = clock()
            decide(tag, online=online, now=NOW)
            ours.append(clock() - t0)
        for tag in block:
            t0 = clock()
            execute(sql, (tag,)).fetchone()
            plain.append(clock() - t0)
    results.append(result("auth: decision p99 (1M list + 100k cache, half hits)",
                          percentile(ours, 0.99), "us", percentile(plain, 0.99)))
    results.append(result("auth: decision p50 (1M list + 100k cache, half hits)",
                          percentile(ours, 0.50), "us", percentile(plain, 0.50)))
    store.close()


def _messages(total: int, per_message: int) -> list[dict]:
    out = []
    for version, start in enumerate(range(0, total, per_message), start=1):
        out.append({"listVersion": version,
                    "updateType": "Full" if version == 1 else "Differential",
                    "localAuthorizationList": [
                        {"idTag": f"{i:016X}",
                         "idTagInfo": {"status": "Accepted", "expiryDate": "2030-01-01T00:00:00Z",
                                       "parentIdTag": f"FLEET{i % 50}"}}
                        for i in range(start, start + per_message)]})
    return out


async def _ticker(stop: asyncio.Event, stalls: list[float]) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        t0 = loop.time()
        await asyncio.sleep(0.001)
        stalls.append(loop.time() - t0 - 0.001)


async def _push(store: AuthorizationStore, frames: list[str]) -> tuple[float, float, float]:
    """Apply the frames as the OCPP layer would: parse on the loop, then hand over."""
    stop = asyncio.Event()
    stalls: list[float] = []
    ticker = asyncio.ensure_future(_ticker(stop, stalls))
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    for frame in frames:
        status = await store.apply_send_local_list(json.loads(frame))
        assert status == "Accepted", status
    replied = time.perf_counter() - started
    await asyncio.get_running_loop().run_in_executor(None, store.wait_idle)
    settled = time.perf_counter() - started
    stop.set()
    await ticker
    return replied, settled, max(stalls)


async def _jsonschema_on_loop(messages: list[dict]) -> tuple[float, float]:
    """The simple alternative: the ocpp library's Draft-4 schema pass, on the loop."""
    import jsonschema
    import ocpp
    schema = json.loads((Path(ocpp.__file__).parent / "v16/schemas/SendLocalList.json")
                        .read_text())
    validator = jsonschema.Draft4Validator(schema)
    stop = asyncio.Event()
    stalls: list[float] = []
    ticker = asyncio.ensure_future(_ticker(stop, stalls))
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    for message in messages:
        validator.validate(message)
        await asyncio.sleep(0)
    elapsed = time.perf_counter() - started
    stop.set()
    await ticker
    return elapsed, max(stalls)


def push_figures(directory: str, freeze: bool) -> dict:
    """One SendLocalList run in this (fresh) process; see bench_send_local_list."""
    import gc

    import jsonschema  # noqa: F401 - the agent's heap: its dependencies are loaded
    import ocpp.v16  # noqa: F401
    import websockets  # noqa: F401
    frames = [json.dumps(m) for m in _messages(100_000, 10_000)]  # text, like on a socket
    if freeze:
        gc.freeze()  # what the runtime should do once started (see the report)
    store = AuthorizationStore(Path(directory) / f"push-{freeze}.db", keys=AuthKeys())
    replied, settled, stall_s = asyncio.run(_push(store, frames))
    assert store.list_size() == 100_000 and store.list_version() == len(frames)
    store.close()
    schema_s, schema_stall_s = asyncio.run(_jsonschema_on_loop(
        [json.loads(f) for f in frames]))
    return {"replied_s": replied, "settled_s": settled, "stall_s": stall_s,
            "schema_s": schema_s, "schema_stall_s": schema_stall_s}


_PUSH_CHILD = r"""
import json, sys
import bench.auth_bench as b
print(json.dumps(b.push_figures(sys.argv[1], sys.argv[2] == "freeze")))
"""


def bench_send_local_list(directory: Path, results: list) -> None:
    plain = _child(_PUSH_CHILD, str(directory), "no-freeze")
    frozen = _child(_PUSH_CHILD, str(directory), "freeze")
    rate_baseline = 100_000 / plain["schema_s"]
    results.append(result("auth: SendLocalList 100k entries (10 x 10k) until last reply",
                          100_000 / plain["replied_s"], "entries/s", rate_baseline))
    results.append(result("auth: SendLocalList 100k entries until index rebuilt",
                          100_000 / plain["settled_s"], "entries/s", rate_baseline))
    results.append(result("auth: longest event-loop stall during SendLocalList 100k",
                          plain["stall_s"] * 1000, "ms", plain["schema_stall_s"] * 1000))
    results.append(result("auth: longest stall during SendLocalList 100k, gc.freeze() at start",
                          frozen["stall_s"] * 1000, "ms", frozen["schema_stall_s"] * 1000))


def run(results: list) -> None:
    directory = Path(tempfile.mkdtemp(prefix="borne-auth-bench-"))
    try:
        db, build_s = build_list(directory)
        print(f"# built the 1M-entry list in {build_s:.1f} s (replace_list)", file=sys.stderr)
        bench_memory_and_open(db, results)
        bench_decision(db, results)
        bench_send_local_list(directory, results)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    from bench import run_alone

    run_alone(run)
