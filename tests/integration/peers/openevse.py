"""An OpenEVSE controller (RAPI) with an EV behind its socket.

``FakeOpenEvse`` (tests/drivers) is the controller; this adds the EV: plugged in it
is in state B, it asks for energy (C) once the controller is enabled ($FE: PWM on)
and drops back to B when the controller sleeps ($FS), like a real car.
"""

from __future__ import annotations

import asyncio
from typing import Callable

from drivers.pilot import rapi
from tests.drivers.openevse_peer import FakeOpenEvse


class OpenEvseWithEv(FakeOpenEvse):
    def __init__(self, pty, **kw) -> None:
        super().__init__(pty, **kw)
        self.plugged = False
        self._handled = asyncio.Event()

    async def wait_until(self, predicate: Callable[[], bool], timeout_s: float = 20.0) -> None:
        """Wait until ``predicate()`` holds, re-checked after every command the peer handles."""
        async with asyncio.timeout(timeout_s):
            while not predicate():
                self._handled.clear()
                await self._handled.wait()

    def plug(self) -> None:
        self.plugged = True
        self.set_ev("C" if self._offering() else "B")

    def unplug(self) -> None:
        self.plugged = False
        self.set_ev("A")

    def _offering(self) -> bool:
        return not self.sleeping and self.fault is None

    def handle(self, msg) -> None:
        super().handle(msg)
        self._handled.set()
        if not self.plugged or not isinstance(msg, rapi.Notification):
            return
        if msg.kind == "FE" and self._offering() and self.ev == "B":
            self.set_ev("C")
        elif msg.kind == "FS" and self.ev == "C":
            self.set_ev("B")
