"""Running the real agent in-process against a real DevCsms on 127.0.0.1 (port 0).

The agent is the production composition (``build_agent`` + ``run``) on a simulated
board; tests drive the simulated EV and cards through the console's own commands and
watch the CSMS's record. Nothing of the agent or of the ocpp library is mocked.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator

from firmware.app import Agent, build_agent, run
from devcsms.sitefile import toml_value, write_site  # noqa: F401  (re-exported)
from firmware.config import load_site_config

REPO = Path(__file__).resolve().parents[2]
BOARDS = REPO / "board_configs"


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

    async def until(self, predicate, timeout_s: float = 5.0) -> None:
        """Wait until ``predicate()`` holds, re-checked after every event the agent handles."""
        changed = asyncio.Event()
        self.agent.runtime.observe(lambda effects: changed.set())

        async def wait() -> None:
            while not predicate():
                changed.clear()
                await changed.wait()

        await asyncio.wait_for(wait(), timeout_s)

    async def stop(self) -> str | None:
        self.agent.stop()
        return await asyncio.wait_for(self.task, 15)


@contextlib.asynccontextmanager
async def running_agent(site_path: Path) -> AsyncIterator[RunningAgent]:
    agent = build_agent(load_site_config(site_path))
    task = asyncio.create_task(run(agent))
    handle = RunningAgent(agent, task)
    try:
        yield handle
    finally:
        if not task.done():
            agent.stop()
        await asyncio.wait_for(task, 15)
