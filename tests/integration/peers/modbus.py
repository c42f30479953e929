"""An Eastron SDM630 played by pymodbus's own server (SimDevice) on one end of a
linked pty pair; the agent's meter driver opens the other end.

Every read cycle sees new values (energy and power grow, currents and voltages move):
the driver reads the registers in three requests (0x0000 V/I, 0x0034 P, 0x0046
f/E), and the first of them starts a new cycle. Each cycle's values are kept in
``served`` so a test can tell which cycle a value at the CSMS came from. Every value
is exact in float32. ``silent`` cuts the line (the meter stops answering).
"""

from __future__ import annotations

import struct

from pymodbus.server import ModbusSerialServer
from pymodbus.simulator import DataType, SimData, SimDevice

ENERGY_KWH = 0x0048
VOLTAGE_L1_V = 0x0000
CURRENT_L1_A = 0x0006
POWER_W = 0x0034
FREQUENCY_HZ = 0x0046


def cycle_values(n: int) -> dict[str, float]:
    return {"energy_wh": (1234.5 + 0.25 * n) * 1000.0, "power_w": 7000.0 + 10 * n,
            "current_l1_a": 10.25 + 0.25 * n, "current_l2_a": 10.5, "current_l3_a": 9.75,
            "voltage_l1_v": 230.0 + 0.5 * n, "voltage_l2_v": 231.0, "voltage_l3_v": 229.5,
            "frequency_hz": 50.0}


class Sdm630Peer:
    def __init__(self, link, device_id: int = 1, baudrate: int = 9600) -> None:
        self.link = link
        self.served: list[dict[str, float]] = []
        self.requests = 0
        self._device = SimDevice(id=device_id, action=self._action, simdata=[
            SimData(address=VOLTAGE_L1_V, values=[0.0, 0.0, 0.0], datatype=DataType.FLOAT32),
            SimData(address=CURRENT_L1_A, values=[0.0, 0.0, 0.0], datatype=DataType.FLOAT32),
            SimData(address=POWER_W, values=0.0, datatype=DataType.FLOAT32),
            SimData(address=FREQUENCY_HZ, values=0.0, datatype=DataType.FLOAT32),
            SimData(address=ENERGY_KWH, values=0.0, datatype=DataType.FLOAT32)])
        self._server = ModbusSerialServer(context=[self._device], port=link.path_a,
                                          baudrate=baudrate, ignore_missing_devices=True)

    @property
    def port(self) -> str:
        """The agent's end of the line."""
        return self.link.path_b

    @property
    def silent(self) -> bool:
        return self.link.cut

    @silent.setter
    def silent(self, value: bool) -> None:
        self.link.cut = value

    async def _action(self, function_code, start_address, address, count, registers,
                      set_values):
        self.requests += 1
        if address == VOLTAGE_L1_V:
            values = cycle_values(len(self.served))
            self.served.append(values)
            floats = {VOLTAGE_L1_V: values["voltage_l1_v"], VOLTAGE_L1_V + 2: values["voltage_l2_v"],
                      VOLTAGE_L1_V + 4: values["voltage_l3_v"],
                      CURRENT_L1_A: values["current_l1_a"], CURRENT_L1_A + 2: values["current_l2_a"],
                      CURRENT_L1_A + 4: values["current_l3_a"], POWER_W: values["power_w"],
                      FREQUENCY_HZ: values["frequency_hz"],
                      ENERGY_KWH: values["energy_wh"] / 1000.0}
            for at, value in floats.items():
                i = at - start_address
                registers[i:i + 2] = struct.unpack(">HH", struct.pack(">f", value))
        return None

    async def start(self) -> None:
        await self._server.serve_forever(background=True)

    async def stop(self) -> None:
        await self._server.shutdown()
