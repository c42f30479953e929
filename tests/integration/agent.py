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
from typing import Any, AsyncIterator

from firmware.app import Agent, build_agent, run
from firmware.config import load_site_config

REPO = Path(__file__).resolve().parents[2]
BOARDS = REPO / "board_configs"


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_site(directory: Path, csms_url: str, *, station_id: str = "CP-IT",
               board: str | Path = "sim.toml", defaults: dict[str, Any] | None = None,
               ocpp: dict[str, Any] | None = None, console: str = "none",
               state_dir: Path | None = None, extra: str = "") -> Path:
    """Write a site config for the agent; returns its path."""
    board_path = board if isinstance(board, Path) else BOARDS / board
    values = {"HeartbeatInterval": 300, "MeterValueSampleInterval": 0,
              "WebSocketPingInterval": 0, **(defaults or {})}
    ocpp_values = {"csms_url": csms_url, "call_timeout_s": 5.0, "reconnect_initial_s": 0.1,
                   "reconnect_max_s": 0.5, "replay_max_per_s": 1000.0, **(ocpp or {})}
    lines = ["[station]", f"id = {toml_value(station_id)}", 'vendor = "Borne"',
             'model = "IT-1"', "", "[ocpp]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in ocpp_values.items()]
    lines += ["", "[ocpp.defaults]"] + [f"{k} = {toml_value(v)}" for k, v in values.items()]
    lines += ["", "[board]", f"config = {toml_value(str(board_path))}", "", "[storage]",
              f"state_dir = {toml_value(str(state_dir or directory / 'state'))}", "",
              "[console]", f"device = {toml_value(console)}", "", extra]
    path = directory / "site.toml"
    path.write_text("\n".join(lines))
    return path


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
