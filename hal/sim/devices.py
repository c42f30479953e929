"""Simulated devices: the HAL interfaces over a ``SimWorld``, obligations included.

They keep the same contracts as real backends (a contactor close that is not confirmed
raises, a dead meter raises instead of returning an old number), so the agent's
behaviour on the simulator is the behaviour it will have on hardware.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

from hal.errors import ContactorDidNotClose, ContactorWelded, DeviceUnavailable, MeterUnavailable
from hal.interfaces import CardRead, DeviceInfo, MeterReading, PilotState

from .world import SimConnector, SimWorld

FEEDBACK_DELAY_S = 0.005  # a real contactor takes ~10-30 ms; keep tests fast


class _SimDevice:
    role = ""

    def __init__(self, name: str):
        self.name = name
        self.last_error = ""

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    def info(self) -> DeviceInfo:
        return DeviceInfo(self.role, self.name, "sim", "", self.last_error)


class SimControlPilot(_SimDevice):
    role = "pilot"

    def __init__(self, name: str, connector: SimConnector):
        super().__init__(name)
        self._c = connector

    async def states(self) -> AsyncIterator[PilotState]:
        queue = self._c.listen()
        try:
            while True:
                yield await queue.get()
        finally:
            self._c.unlisten(queue)

    async def offer(self, max_current_a: float) -> None:
        if "pilot-refuses-offers" in self._c.faults:  # an EVSE controller that stopped answering
            self.last_error = "controller did not take the offer"
            raise DeviceUnavailable(self.last_error)
        self._c.update(offer_a=max(0.0, float(max_current_a)))


class SimContactor(_SimDevice):
    role = "contactor"

    def __init__(self, name: str, connector: SimConnector, feedback_timeout_s: float):
        super().__init__(name)
        self._c = connector
        self.feedback_timeout_s = feedback_timeout_s

    @property
    def is_closed(self) -> bool:
        return self._c.feedback_closed

    async def close_contactor(self) -> None:
        self._c.update(coil_on=True)
        await asyncio.sleep(FEEDBACK_DELAY_S)
        if "contactor-stuck" in self._c.faults:
            await asyncio.sleep(self.feedback_timeout_s)
            self._c.update(coil_on=False)
            self.last_error = "coil energised, feedback never closed"
            raise ContactorDidNotClose(self.last_error)
        self._c.integrate()
        self._c.feedback_closed = True
        self._c.changed()

    async def open_contactor(self) -> None:
        self._c.update(coil_on=False)
        await asyncio.sleep(FEEDBACK_DELAY_S)
        if self._c.feedback_closed:
            self.last_error = "coil off, feedback still closed (welded)"
            raise ContactorWelded(self.last_error)

    async def check(self) -> None:
        if not self._c.coil_on and self._c.feedback_closed:
            self.last_error = "coil off, feedback closed (welded)"
            raise ContactorWelded(self.last_error)
        if self._c.coil_on and not self._c.feedback_closed:
            self.last_error = "coil on, feedback open"
            raise ContactorDidNotClose(self.last_error)


class SimEnergyMeter(_SimDevice):
    role = "meter"

    def __init__(self, name: str, connector: SimConnector):
        super().__init__(name)
        self._c = connector

    async def read(self) -> MeterReading:
        c = self._c
        if "meter-offline" in c.faults:
            self.last_error = "no answer (simulated meter offline)"
            raise MeterUnavailable(self.last_error)
        c.integrate()
        current_a = c.current_a()
        phases = max(1, c.phases)
        return MeterReading(
            energy_wh=c.energy_wh, power_w=c.power_w(),
            current_a=tuple(current_a for _ in range(phases)),
            voltage_v=tuple(c.voltage_v for _ in range(phases)), frequency_hz=50.0,
            power_factor=1.0 if current_a else None)


class SimConnectorLock(_SimDevice):
    role = "lock"

    def __init__(self, name: str, connector: SimConnector):
        super().__init__(name)
        self._c = connector

    async def lock(self) -> bool:
        self._c.locked = True
        return True

    async def unlock(self) -> bool:
        if "lock-stuck" in self._c.faults:
            self.last_error = "lock motor stuck"
            return False
        self._c.locked = False
        return True


class SimIndicator(_SimDevice):
    role = "indicator"

    def __init__(self, name: str, connector: SimConnector):
        super().__init__(name)
        self._c = connector

    async def show(self, status: str) -> None:
        self._c.indicator = status


class SimRfidReader(_SimDevice):
    role = "rfid"

    def __init__(self, name: str, world: SimWorld):
        super().__init__(name)
        self._queue = world.reader_queue(name)

    async def cards(self) -> AsyncIterator[CardRead]:
        while True:
            uid = await self._queue.get()
            yield CardRead(uid=uid, raw=uid.hex().upper(), reader=self.name)
