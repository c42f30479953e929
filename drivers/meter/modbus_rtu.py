"""The only module that imports pymodbus: a Modbus RTU bus (one serial port, many
devices) with the few calls the meter drivers need.

Why a wrapper: pymodbus renamed its keyword arguments and moved classes several
times in 3.x (``slave=`` → ``device_id=`` in 3.10, payload decoders removed, ...);
keeping every call here means the next rename touches one file. Pinned >=3.12,<4.

The serial settings are always passed explicitly (pymodbus defaults to 19200 baud,
which matches none of the supported meters). One request at a time per bus (a lock),
so two meters on the same RS-485 line share one client safely.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from hal.errors import DeviceOpenError, MeterUnavailable
from hal.serial import SerialSettings, open_error_message
from hal.tasks import raise_if_cancel_was_lost

log = logging.getLogger(__name__)


class ModbusRtuBus:
    """An RS-485 Modbus RTU line.

    :param timeout_s: per-request response timeout
    :param retries: re-sends of a request that got no valid answer (CRC error, timeout)
    """

    def __init__(self, settings: SerialSettings, *, timeout_s: float, retries: int = 1) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self.retries = retries
        self._client: Any = None
        self._lock = asyncio.Lock()
        self._users = 0

    @property
    def port(self) -> str:
        return self.settings.port

    async def open(self) -> None:
        """Open the port (reference-counted). Raises ``DeviceOpenError`` naming it."""
        self._users += 1
        if self._client is not None:
            return
        try:
            await self._connect()
        except DeviceOpenError:
            self._users -= 1
            raise

    async def _connect(self) -> None:
        s = self.settings
        # probe with a plain open first: pymodbus only logs why a connect failed
        try:
            os.close(os.open(s.port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK))
        except OSError as exc:
            raise DeviceOpenError(open_error_message(s.port, exc)) from exc
        from pymodbus.client import AsyncModbusSerialClient
        from pymodbus.framer import FramerType

        client = AsyncModbusSerialClient(
            s.port, framer=FramerType.RTU, baudrate=s.baudrate, bytesize=s.bytesize,
            parity=s.parity, stopbits=s.stopbits, timeout=self.timeout_s,
            retries=self.retries, reconnect_delay=0, name=f"modbus {s.port}")
        if not await client.connect():
            client.close()
            raise DeviceOpenError(f"Modbus port {s.port} could not be opened: check the RS-485 "
                                  f"adapter and that no other process uses it")
        self._client = client
        log.debug("Modbus RTU open on %s", s.describe())

    async def close(self) -> None:
        """Release one user; the port closes with the last one. Safe to call twice."""
        if self._users > 0:
            self._users -= 1
        if self._users == 0 and self._client is not None:
            client, self._client = self._client, None
            client.close()

    async def read_registers(self, function: int, address: int, count: int,
                             device_id: int) -> list[int]:
        """Read ``count`` registers with FC 3 (holding) or 4 (input).

        Raises ``MeterUnavailable`` on no answer, a Modbus exception response, a wrong
        register count or a vanished port; reconnects on the next call after a loss.
        """
        from pymodbus.exceptions import ModbusException

        where = f"device {device_id} on {self.settings.port}"
        async with self._lock:
            if self._client is None:
                raise MeterUnavailable(f"Modbus {where}: bus not open")
            if not self._client.connected:
                try:
                    await self._client.connect()
                except Exception as exc:  # pymodbus raises various errors here
                    raise MeterUnavailable(f"Modbus {where}: reconnect failed: {exc}") from exc
                raise_if_cancel_was_lost()    # pymodbus waits with 3.11's wait_for
                if not self._client.connected:
                    raise MeterUnavailable(f"Modbus {where}: port unavailable (adapter unplugged?)")
            call = (self._client.read_input_registers if function == 4
                    else self._client.read_holding_registers)
            try:
                response = await call(address, count=count, device_id=device_id)
            except ModbusException as exc:
                raise MeterUnavailable(f"Modbus {where}: no valid answer to FC{function:02d} "
                                       f"0x{address:04X}+{count}: {exc} (check wiring A/B, "
                                       f"baudrate/parity, device_id)") from exc
            raise_if_cancel_was_lost()
        if response.isError():
            code = getattr(response, "exception_code", "?")
            raise MeterUnavailable(f"Modbus {where}: exception {code} for FC{function:02d} "
                                   f"0x{address:04X}+{count} (wrong register map?)")
        registers = list(getattr(response, "registers", []) or [])
        if len(registers) != count:
            raise MeterUnavailable(f"Modbus {where}: asked {count} registers, got "
                                   f"{len(registers)}")
        return registers
