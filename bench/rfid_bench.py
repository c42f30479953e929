"""RFID frame on the serial port → authorization decision, list hit, p99 (DESIGN §5:
≤ 10 ms), with a 1,000,000-entry local list.

``run(results)`` appends {"name", "value", "unit", "baseline", "ratio"} dicts;
``python -m bench.rfid_bench`` prints them.

Method:
- A real pseudo-terminal. Its slave side is the ``port`` of a ``pn532`` reader in a
  board config written for the bench (simulated pilot/contactor/meter, real PN532
  driver); its master side is a PN532 played here (``Pn532Peer``): it ACKs every host
  command frame and answers SAMConfiguration/RFConfiguration/GetFirmwareVersion and
  InListPassiveTarget (one 7-byte ISO 14443A UID, or no target) as UM0701-02 §7 says.
- The production agent (``firmware.app.build_agent`` + ``run``) in this process, its
  state_dir provisioned with a 1M-entry list through ``AuthorizationStore.replace_list``
  (generated once, cached under the system temp dir, copied per run). It is online
  (DevCsms as a separate process on 127.0.0.1) with LocalPreAuthorize = true, so a list
  hit is decided locally at once (the Authorize to verify it goes out afterwards).
- A sample: t0 = just before the peer writes the InListPassiveTarget response frame
  carrying a card whose UID is in the list (random entries); t_decision = when the
  runtime has executed the RecordDecision of that tap (``runtime.observe``: after the
  whole dispatch, effects included). The card's second presentation (not measured)
  cancels the authorization so the connector is free for the next card; "no target"
  polls in between, as when a card is taken away.
- Baseline, on the same samples: t_card = when the reader's CardRead reaches
  ``ReaderTask.present`` (the path with the decision replaced by nothing: pty, driver,
  codec, debouncer; measured by wrapping that bound method, which then runs as usual).
  The ratio is then (frame → decision) / (frame → CardRead).
All in one process and one event loop (the peer only writes bytes), so the clocks agree.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import tty
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from devcsms import sitefile  # noqa: E402
from drivers.rfid import pn532_codec as codec  # noqa: E402
from firmware.core import effects as fx  # noqa: E402

LIST_SIZE = 1_000_000
SAMPLES = 2_000
WARMUP = 50
STATION = "CP-RFID"
CACHE = Path(tempfile.gettempdir()) / "borne-bench-cache" / f"rfid-list-{LIST_SIZE}-v1"


def list_uid(i: int) -> str:
    """7-byte UID (NXP manufacturer byte 04), unique for i < 2**48, spread out."""
    return f"04{(i * 2654435761) % (1 << 48):012X}"


def result(name: str, value: float, unit: str, baseline: float) -> dict:
    return {"name": name, "value": round(value, 3), "unit": unit,
            "baseline": round(baseline, 3),
            "ratio": round(value / baseline, 3) if baseline else None}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def provisioned_state(directory: Path) -> Path:
    """A state_dir holding the 1M-entry list (built once, then copied from the cache)."""
    from firmware.auth import AuthorizationStore
    from firmware.core.authorization import AuthKeys

    if not (CACHE / "borne.db").exists():
        building = CACHE.with_name(CACHE.name + f".building-{os.getpid()}")
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir(parents=True)
        started = time.perf_counter()
        store = AuthorizationStore(building / "borne.db", keys=AuthKeys(), cache_capacity=0)
        store.replace_list(((list_uid(i), "Accepted", None, f"FLEET{i % 100}")
                            for i in range(LIST_SIZE)), LIST_SIZE, 1)
        store.wait_idle()
        store.close()
        print(f"# built the {LIST_SIZE}-entry list in {time.perf_counter() - started:.1f} s "
              f"(cached in {CACHE})", file=sys.stderr)
        shutil.rmtree(CACHE, ignore_errors=True)
        building.rename(CACHE)
    state = directory / "state"
    shutil.copytree(CACHE, state)
    return state


class Pn532Peer:
    """A PN532 in HSU mode on the master side of a pty. ``answers`` decides what each
    InListPassiveTarget poll finds: a callable returning a UID (bytes) or None."""

    def __init__(self, answers):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self.answers = answers
        self.sent_at: dict[str, float] = {}  # UID hex → t0 of its latest response
        self._decoder = codec.FrameDecoder(tfi=codec.TFI_HOST)
        asyncio.get_running_loop().add_reader(self.master, self._on_readable)

    def _on_readable(self) -> None:
        try:
            data = os.read(self.master, 4096)
        except (BlockingIOError, OSError):
            return
        for event in self._decoder.feed(data):
            if isinstance(event, codec.Frame):
                self._answer(event.data)

    def _answer(self, data: bytes) -> None:
        code = data[0]
        os.write(self.master, codec.ACK)
        if code == codec.CMD_IN_LIST_PASSIVE_TARGET:
            uid = self.answers()
            if uid is None:
                response = bytes([code + 1, 0])
            else:  # Tg 1, SENS_RES 0044, SEL_RES 00 (Ultralight: no ATS), NFCID1
                response = bytes([code + 1, 1, 1, 0x00, 0x44, 0x00, len(uid)]) + uid
            frame = codec.encode_frame(response, tfi=codec.TFI_PN532)
            if uid is not None:
                self.sent_at[uid.hex().upper()] = time.perf_counter()
            os.write(self.master, frame)
        elif code == codec.CMD_GET_FIRMWARE_VERSION:
            os.write(self.master, codec.encode_frame(bytes([code + 1, 0x32, 1, 6, 7]),
                                                     tfi=codec.TFI_PN532))
        else:
            os.write(self.master, codec.encode_frame(bytes([code + 1]), tfi=codec.TFI_PN532))

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.master)
        os.close(self.master)
        os.close(self.slave)


def write_configs(directory: Path, reader_port: str, csms_url: str, state: Path) -> Path:
    board = directory / "board.toml"
    board.write_text(f"""
[board]
name = "Bench: simulated connector, PN532 on a pty"
mixed_sim = true

[[connector]]
id = 1
max_current_a = 32.0
phases = 3
nominal_voltage_v = 230.0

[connector.pilot]
driver = "sim"

[connector.contactor]
driver = "sim"

[connector.meter]
driver = "sim"

[[reader]]
name = "front"
driver = "pn532"
port = "{reader_port}"
baudrate = 115200
poll_interval_s = 0.002
debounce_s = 0.0
response_timeout_s = 0.5
""")
    return sitefile.write_site(directory, csms_url, station_id=STATION, board=board,
                               defaults={"LocalPreAuthorize": True}, state_dir=state,
                               extra='[log]\nlevel = "WARNING"\n')


async def start_csms() -> tuple[asyncio.subprocess.Process, str, asyncio.Future]:
    """``python -m devcsms --port 0`` as a separate process; its URL; a drain task."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "devcsms", "--port", "0", "--stop-on-stdin-close", cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
    url = line.strip().rsplit(" ", 1)[-1]
    assert url.startswith("ws://"), line

    async def drain() -> None:  # one line per message: keep its pipe empty
        while await process.stdout.read(65536):
            pass

    return process, url, asyncio.ensure_future(drain())


async def measure(directory: Path) -> dict:
    from firmware.app import build_agent, run
    from firmware.config import load_site_config

    logging.getLogger("firmware").setLevel(logging.ERROR)  # the agent's shutdown notices
    state = provisioned_state(directory)
    rng = random.Random(20260101)
    tags = [list_uid(rng.randrange(LIST_SIZE)) for _ in range(WARMUP + SAMPLES)]
    script: list[bytes | None] = []
    for tag in tags:  # card on, taken away, on again (cancels), taken away
        uid = bytes.fromhex(tag)
        script += [uid, None, uid, None]
    ready = asyncio.Event()  # online: start presenting cards
    step = iter(script)

    def answers() -> bytes | None:
        return next(step, None) if ready.is_set() else None

    peer = Pn532Peer(answers)
    csms, url, drain = await start_csms()
    site = write_configs(directory, peer.path, url, state)
    agent = build_agent(load_site_config(site))
    decided: list[tuple[str, float]] = []   # (tag, frame → decision s)
    carded: dict[str, float] = {}           # tag → frame → CardRead s (latest)
    card_samples: list[float] = []
    done = asyncio.Event()
    reader_task = agent.readers[0]
    plain_present = reader_task.present

    def present(card) -> None:
        tag = card.uid.hex().upper()
        t0 = peer.sent_at.get(tag)
        if t0 is not None:
            carded[tag] = time.perf_counter() - t0
        plain_present(card)

    def observe(effects: list) -> None:
        for effect in effects:
            if isinstance(effect, fx.RecordDecision) and effect.why == "list:Accepted":
                t0 = peer.sent_at.get(effect.id_tag)
                if t0 is not None:
                    decided.append((effect.id_tag, time.perf_counter() - t0))
                    card_samples.append(carded[effect.id_tag])
                    if len(decided) >= WARMUP + SAMPLES:
                        done.set()
            elif isinstance(effect, fx.RecordDecision) and effect.why != \
                    "cancelled-by-second-tap":
                raise AssertionError(f"not a list hit: {effect}")

    reader_task.present = present
    agent.runtime.observe(observe)
    task = asyncio.ensure_future(run(agent))
    try:
        async with asyncio.timeout(60):
            changed = asyncio.Event()
            agent.runtime.observe(lambda effects: changed.set())
            while not agent.station.online:
                changed.clear()
                await changed.wait()
        ready.set()
        started = time.perf_counter()
        await asyncio.wait_for(done.wait(), 300)
        elapsed = time.perf_counter() - started
        size = agent.auth.store.list_size()
    finally:
        agent.stop()
        await asyncio.wait_for(task, 30)
        peer.close()
        assert csms.stdin is not None
        csms.stdin.close()
        try:
            await asyncio.wait_for(csms.wait(), 10)
        except TimeoutError:
            csms.send_signal(signal.SIGKILL)
            await csms.wait()
        await drain
    assert size == LIST_SIZE, size
    decision_ms = [s * 1000 for _, s in decided[WARMUP:]]
    card_ms = [s * 1000 for s in card_samples[WARMUP:]]
    return {"decision_ms": decision_ms, "card_ms": card_ms, "elapsed_s": elapsed}


def run(results: list) -> None:
    with tempfile.TemporaryDirectory(prefix="borne-rfid-bench-") as directory:
        figures = asyncio.run(measure(Path(directory)))
    decision, card = figures["decision_ms"], figures["card_ms"]
    results.append(result("rfid: PN532 frame on the pty → decision, 1M list hit, p99",
                          percentile(decision, 0.99), "ms", percentile(card, 0.99)))
    results.append(result("rfid: PN532 frame on the pty → decision, 1M list hit, p50",
                          percentile(decision, 0.50), "ms", percentile(card, 0.50)))
    print(f"# {len(decision)} samples in {figures['elapsed_s']:.1f} s; max frame → decision "
          f"{max(decision):.2f} ms, max frame → CardRead {max(card):.2f} ms", file=sys.stderr)


if __name__ == "__main__":
    from bench import run_alone

    run_alone(run)
