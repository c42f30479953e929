"""Running the real agent in-process against a real DevCsms on 127.0.0.1 (port 0).

The agent is the production composition (``build_agent`` + ``run``) on a simulated
board; tests drive the simulated EV and cards through the console's own commands and
watch the CSMS's record. Nothing of the agent or of the ocpp library is mocked.

Timing rule (docs/architecture.md, "Time in tests"): wait for a condition with a generous deadline
(``until``, ``csms.wait_for``), never sleep a fixed time and never assert a measured
gap; a retry schedule is asserted on a ``ManualClock`` injected as the agent's
``retry_clock``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, Callable

from firmware.app import Agent, build_agent, run
from devcsms.sitefile import toml_value, write_site  # noqa: F401  (re-exported)
from firmware.config import load_site_config

REPO = Path(__file__).resolve().parents[2]
BOARDS = REPO / "board_configs"

DEADLINE_S = 30.0
"""How long ``until`` waits by default: a deadline for an agent that is broken, not a
measure of one that is slow (the suite must pass on a loaded 2-core machine)."""

POLL_S = 0.02
"""``until`` also re-checks this often, for state that changes without an event (the
outbox's attempt count, the link's connection)."""


class ManualClock:
    """A monotonic clock (s) that moves only when the test advances it."""

    def __init__(self, start_s: float = 1000.0) -> None:
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


@dataclass
class RunningAgent:
    agent: Agent
    task: asyncio.Task

    async def console(self, line: str) -> list[str]:
        """Run a console command; asserts it answered OK and returns the other lines."""
        reply = await self.agent.console.execute(line)
        assert reply and reply[-1] == "OK", f"{line!r} -> {reply}"
        return reply[:-1]

    @property
    def station(self):
        return self.agent.station

    async def until(self, predicate, timeout_s: float = DEADLINE_S) -> None:
        """Wait until ``predicate()`` holds, re-checked after every event the agent
        handles and every ``POLL_S``. Raises TimeoutError after ``timeout_s``."""
        changed = asyncio.Event()
        self.agent.runtime.observe(lambda effects: changed.set())

        async def wait() -> None:
            while not predicate():
                changed.clear()
                try:
                    async with asyncio.timeout(POLL_S):
                        await changed.wait()
                except TimeoutError:
                    pass

        await asyncio.wait_for(wait(), timeout_s)

    async def stop(self) -> str | None:
        self.agent.stop()
        return await asyncio.wait_for(self.task, 15)


@contextlib.asynccontextmanager
async def running_agent(site_path: Path, *, retry_clock: Callable[[], float] | None = None
                        ) -> AsyncIterator[RunningAgent]:
    agent = build_agent(load_site_config(site_path),
                        retry_clock=time.monotonic if retry_clock is None else retry_clock)
    task = asyncio.create_task(run(agent))
    handle = RunningAgent(agent, task)
    try:
        yield handle
    finally:
        if not task.done():
            agent.stop()
        await stopped_within(task, STOP_DEADLINE_S)


STOP_DEADLINE_S = 15.0


async def stopped_within(task: asyncio.Task, timeout_s: float) -> None:
    """Wait for the agent's task to end; when it does not, fail naming every task still
    running, with its stack, instead of hanging: a task that swallows its cancellation
    would otherwise keep ``wait_for``'s own cancel-and-wait (and the suite) waiting
    forever."""
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    if done:
        task.result()
        return
    stuck = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    report = []
    for other in stuck:
        frames = other.get_stack(limit=8)
        where = " <- ".join(f"{f.f_code.co_filename.rsplit('/', 1)[-1]}:{f.f_lineno} "
                            f"{f.f_code.co_name}" for f in reversed(frames))
        report.append(f"{other.get_name()}: {where}")
    task.cancel()
    raise AssertionError(f"the agent did not stop within {timeout_s:g} s; tasks still "
                         f"running:\n" + "\n".join(report))
