"""A test rig: every real-board peer on its own pty, started and stopped together.

``async with peer_rig() as rig:`` gives the peers and their ports; the test writes a
board config with those ports (``rig.write_board(directory, text)`` fills
``{openevse}``, ``{meter}``, ``{pn532}``, ``{line}``), runs the agent on it and, once
the agent is built, wires the contactor's mirror contact to the agent's sim GPIO chip
with ``rig.wire_contactor(agent, coil_pin, feedback_pin)``. The peers' tasks belong
to the rig's TaskGroup and end with it.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator

from tests.drivers.ptys import LinkedPtys, PtyPeer

from .contactor import MirrorContact
from .modbus import Sdm630Peer
from .openevse import OpenEvseWithEv
from .pn532 import Pn532Peer


@dataclass
class Rig:
    evse: OpenEvseWithEv
    pn532: Pn532Peer
    line: PtyPeer                 # a reader printing one UID per line: write to it
    meter: Sdm630Peer
    ports: dict[str, str] = field(default_factory=dict)
    contact: MirrorContact | None = None

    def write_board(self, directory: Path, text: str, name: str = "board.toml") -> Path:
        path = directory / name
        path.write_text(text.format(**self.ports))
        return path

    def wire_contactor(self, agent, coil_pin: int, feedback_pin: int) -> MirrorContact:
        """Call right after ``running_agent`` yields: before the contactor claims its lines."""
        self.contact = MirrorContact(agent.board.gpio, coil_pin, feedback_pin)
        return self.contact

    def print_uid(self, text: str) -> None:
        self.line.write(text.encode("ascii") + b"\r\n")


@contextlib.asynccontextmanager
async def peer_rig() -> AsyncIterator[Rig]:
    evse_pty, pn532_pty, line_pty = PtyPeer(), PtyPeer(), PtyPeer()
    link = LinkedPtys()
    meter = Sdm630Peer(link)
    rig = Rig(OpenEvseWithEv(evse_pty), Pn532Peer(pn532_pty), line_pty, meter,
              {"openevse": evse_pty.path, "pn532": pn532_pty.path, "line": line_pty.path,
               "meter": meter.port})
    try:
        await meter.start()
        async with asyncio.TaskGroup() as tasks:
            peers = [tasks.create_task(rig.evse.run()), tasks.create_task(rig.pn532.run())]
            try:
                yield rig
            finally:
                for task in peers:
                    task.cancel()
    finally:
        await meter.stop()
        link.close()
        for pty in (evse_pty, pn532_pty, line_pty):
            pty.close()
