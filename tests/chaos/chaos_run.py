"""One fault-injection run: the real agent process, a proxy that fails, SIGKILL at random.

Each cycle starts ``python -m firmware run`` on the same state directory (simulated
two-connector board, console on stdio, CSMS behind ``FaultProxy``), drives a few
charging sessions through the console (plug, tap a card never seen before, charge with
MeterValueSampleInterval = 1 s and clock-aligned values every 2 s, stop by tapping
again or by unplugging, or leave it running), while the network is cut, stalled or
restored at random and the CSMS now and then answers a transaction message with a
CALLERROR or not at all. The cycle ends with SIGKILL at a random moment (during start-up
and recovery too), or, now and then, SIGTERM after its sessions.

The end: the network is restored, the agent started once more and left to drain its
queue (the number of messages to wait for is read from its database while it is
down: queued ones plus one PowerLoss stop per transaction left running), then stopped.
``record_check`` (OCPP 1.6) or ``record_check_201`` (OCPP 2.0.1, ``protocol``)
judges the CSMS record against the number of transactions the charger's database says
it started and, for 2.0.1, the sessions this driver began (one new card each).

Time is only spent where the scenario needs it to pass (an EV charging for a while, a
random kill moment); everything else waits on the agent's console replies and on
frames in the CSMS record.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from devcsms import CallError, DevCsms, NoAnswer
from devcsms.recording import TO_CP
from devcsms.validation import CALLRESULT
from tests.integration.agent import write_site

from .agent_process import AgentDied, AgentProcess, ConsoleError
from .proxy import FaultProxy
from .record_check import TX_ACTIONS, ChaosReport, check_record
from .record_check_201 import TX_ACTIONS_201, Session, check_record_201

STATION = "CP-CHAOS"
CONNECTORS = (1, 2)
MAX_CYCLE_S = 4.0  # the kill falls within this long after the console is up
EARLY_KILL_SHARE = 0.1  # kills during start-up, recovery and boot
GRACEFUL_SHARE = 0.12  # cycles ending with SIGTERM instead of SIGKILL

CHAOS_DEFAULTS = {
    "HeartbeatInterval": 300, "MeterValueSampleInterval": 1, "ClockAlignedDataInterval": 2,
    "WebSocketPingInterval": 2, "TransactionMessageAttempts": 10,
    "TransactionMessageRetryInterval": 1, "AllowOfflineTxForUnknownId": True,
    "LocalAuthorizeOffline": True, "ConnectionTimeOut": 30,
}
OCPP16, OCPP201 = "ocpp1.6", "ocpp2.0.1"
PROTOCOLS = (OCPP16, OCPP201)
CHAOS_OCPP = {"call_timeout_s": 4.0, "reconnect_initial_s": 0.2, "reconnect_max_s": 1.0,
              "replay_max_per_s": 200.0, "unanswered_calls_max": 2}


@dataclass
class CycleStats:
    kills: int = 0
    early_kills: int = 0
    graceful: int = 0
    sessions: int = 0
    offline_sessions: int = 0


def db_state(state_dir: Path) -> tuple[int, int, int]:
    """(queued messages, transactions left running, transactions ever started) from the
    agent's database; only while the agent is down."""
    conn = sqlite3.connect(state_dir / "borne.db")
    try:
        queued = conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        running = conn.execute("SELECT COUNT(*) FROM transactions").fetchone()[0]
        row = conn.execute("SELECT value FROM meta WHERE key='next_local_tx_id'").fetchone()
        started = int(row[0]) - 1 if row else 0
    finally:
        conn.close()
    return queued, running, started


class ChaosRun:
    def __init__(self, directory: Path, csms: DevCsms, proxy: FaultProxy, seed: int,
                 protocol: str = OCPP16):
        self.protocol = protocol
        self.tx_actions = TX_ACTIONS_201 if protocol == OCPP201 else TX_ACTIONS
        self.directory = directory
        self.csms = csms
        self.proxy = proxy
        self.rng = random.Random(seed)
        self.seed = seed
        self.state_dir = directory / "state"
        self.site = write_site(directory, proxy.url_for(csms.url), station_id=STATION,
                               board="sim-2c.toml", console="stdio", defaults=CHAOS_DEFAULTS,
                               ocpp={**CHAOS_OCPP, "protocol": protocol},
                               state_dir=self.state_dir)
        self.log_path = directory / "agent.log"
        self.stats = CycleStats()
        self._tags = 0
        self.sessions: list[Session] = []  # every session begun (a tap answered OK)
        self._cut_since: float | None = None  # time.monotonic() of the cut in force

    def agent(self) -> AgentProcess:
        return AgentProcess(self.site, self.log_path)

    # ------------------------------------------------------------------ cycles
    async def cycle(self) -> None:
        rng = self.rng
        self._network_fault(rng.random())
        self._csms_fault(rng.random())
        agent = self.agent()
        if rng.random() < EARLY_KILL_SHARE:
            await self._spawn(agent)
            await asyncio.sleep(rng.uniform(0.0, 0.6))  # the random kill moment
            await agent.kill()
            self.stats.kills += 1
            self.stats.early_kills += 1
            return
        await agent.start()
        if rng.random() < GRACEFUL_SHARE:
            await self._sessions(agent, stop_all=True)
            code = await agent.terminate()
            assert code == 0, f"SIGTERM exit status {code}\n{agent.log_tail()}"
            self.stats.graceful += 1
            return
        kill_moment = asyncio.timeout(rng.uniform(0.2, MAX_CYCLE_S))
        try:
            async with kill_moment:
                await self._sessions(agent, stop_all=False)
                await asyncio.Event().wait()  # transactions run on until the kill
        except TimeoutError:
            if not kill_moment.expired():
                raise AssertionError(f"the agent stopped answering\n{agent.log_tail()}")
        await agent.kill()
        self.stats.kills += 1

    async def _spawn(self, agent: AgentProcess) -> None:
        try:
            await agent.start(timeout_s=0.001)
        except (TimeoutError, AgentDied):
            pass  # not up yet: exactly what an early kill wants

    async def _sessions(self, agent: AgentProcess, stop_all: bool) -> None:
        rng = self.rng
        charging: dict[int, str] = {}
        for _ in range(rng.randint(3, 7)):
            self._network_fault(rng.random())
            free = [c for c in CONNECTORS if c not in charging]
            if free and (not charging or rng.random() < 0.6):
                connector_id = rng.choice(free)
                tag = self._new_tag()
                await agent.command(f"sim plug {connector_id}")
                tapped_at_s = time.time()
                cut_for_s = time.monotonic() - self._cut_since if self._cut_since else 0.0
                await agent.command(f"sim tap {tag}")
                charging[connector_id] = tag
                self.stats.sessions += 1
                self.sessions.append(Session(tag, connector_id, tapped_at_s, time.time(),
                                             cut_for_s))
                if self.proxy.mode != "open":
                    self.stats.offline_sessions += 1
            else:
                connector_id = rng.choice(sorted(charging))
                await self._stop(agent, connector_id, charging.pop(connector_id))
            await asyncio.sleep(rng.uniform(0.2, 1.2))  # the EVs charge meanwhile
        if stop_all:
            for connector_id, tag in sorted(charging.items()):
                await self._stop(agent, connector_id, tag)

    async def _stop(self, agent: AgentProcess, connector_id: int, tag: str) -> None:
        if self.rng.random() < 0.5:
            await agent.command(f"sim tap {tag}")  # Local, cable stays in until unplugged
        await agent.command(f"sim unplug {connector_id}")

    def _new_tag(self) -> str:
        self._tags += 1
        return f"C{self.rng.randrange(16**3):03X}{self._tags:04X}"

    def _network_fault(self, draw: float) -> None:
        if draw < 0.08:
            if self.proxy.mode != "cut":
                self._cut_since = time.monotonic()
            self.proxy.cut()
        elif draw < 0.14:
            self.proxy.stall()
        elif draw < 0.30:
            self.proxy.restore()
        if self.proxy.mode != "cut":
            self._cut_since = None

    def _csms_fault(self, draw: float) -> None:
        if draw < 0.08:
            action = self.rng.choice(self.tx_actions)
            self.csms.script(action, CallError("InternalError", "chaos"))
        elif draw < 0.10:
            self.csms.script(self.rng.choice(self.tx_actions), NoAnswer())

    # ------------------------------------------------------------------ the end
    async def drain_and_check(self, cycles: int) -> ChaosReport:
        """Restore everything, let the queue drain, stop the agent, judge the record."""
        self.proxy.restore()
        self._cut_since = None
        self.csms.clear_scripts()
        queued, running, _ = db_state(self.state_dir)
        expected = queued + running
        mark = self.csms.mark()
        agent = self.agent()
        await agent.start()
        after = mark
        deadline_s = 60.0 + expected * 0.05
        for _ in range(expected):
            frame = await self.csms.wait_frame(
                lambda f: f.message_type == CALLRESULT and f.action in self.tx_actions,
                direction=TO_CP, station=STATION, after=after, timeout_s=deadline_s)
            after = frame.seq + 1
        lines = await agent.command("queue")
        assert any(line.startswith("queue: ") for line in lines), lines
        # The last CALLRESULT may still be on its way to the agent's commit: a graceful
        # stop waits for the queue to empty before it closes the link.
        code = await agent.terminate()
        assert code == 0, f"SIGTERM exit status {code}\n{agent.log_tail()}"
        queued, running, started = db_state(self.state_dir)
        assert (queued, running) == (0, 0), (queued, running)
        if self.protocol == OCPP201:
            return check_record_201(
                self.csms.frames, STATION, started, self.sessions, self.csms.connections,
                cycles, sample_interval_s=CHAOS_DEFAULTS["MeterValueSampleInterval"],
                aligned_interval_s=CHAOS_DEFAULTS["ClockAlignedDataInterval"])
        return check_record(self.csms.frames, STATION, started, cycles,
                            sample_interval_s=CHAOS_DEFAULTS["MeterValueSampleInterval"],
                            aligned_interval_s=CHAOS_DEFAULTS["ClockAlignedDataInterval"])


async def run_chaos(directory: Path, cycles: int, seed: int, protocol: str = OCPP16
                    ) -> tuple[ChaosReport, CycleStats, float, list[str]]:
    """Run ``cycles`` cycles of the agent speaking ``protocol`` and the final check;
    (report, stats, seconds, violations)."""
    started_s = time.monotonic()
    async with DevCsms(first_transaction_id=1) as csms:
        proxy = FaultProxy("127.0.0.1", csms.port)
        await proxy.start()
        try:
            run = ChaosRun(directory, csms, proxy, seed, protocol)
            for _ in range(cycles):
                try:
                    await run.cycle()
                except ConsoleError as e:
                    raise AssertionError(f"{e}\n{run.agent().log_tail()}") from e
            report = await run.drain_and_check(cycles)
        finally:
            await proxy.close()
        violations = list(csms.violations)
    return report, run.stats, time.monotonic() - started_s, violations
