"""Energy meters over Modbus RTU, driven by a register map (``regmap``).

One ``read()`` = one read cycle: the map's registers grouped into as few contiguous
requests as the map allows, read back to back under the bus lock, decoded and checked
together. Any failed request, "not available" energy or implausible value raises
``MeterUnavailable`` for the whole reading: values are never mixed across cycles,
cached, or extrapolated. The energy register must never go backwards while the driver
runs (a decrease means a wrong device_id or a swapped meter): that also raises.

Several meters on one RS-485 line (one per connector, distinct ``device_id``) share
one ``ModbusRtuBus`` through ``BuildContext.shared[("modbus", port)]``; their serial
settings must agree.
"""

from __future__ import annotations

import logging
from typing import Any

from drivers import serial_options
from drivers.meter import regmap
from drivers.meter.modbus_rtu import ModbusRtuBus
from drivers.registry import BuildContext, DriverSpec
from hal.errors import DeviceOpenError, MeterUnavailable
from hal.interfaces import DeviceInfo, MeterReading
from hal.options import Option, optional, required
from hal.serial import SerialSettings

log = logging.getLogger(__name__)


class ModbusEnergyMeter:
    """``EnergyMeter`` for any meter described by a ``RegisterMap``.

    :param bus: the (possibly shared) RS-485 line
    :param device_id: Modbus address of the meter (1..247)
    """

    def __init__(self, bus: ModbusRtuBus, register_map: regmap.RegisterMap, *, device_id: int,
                 name: str = "meter", backend: str = "modbus", open_error: str = "") -> None:
        self.bus = bus
        self.map = register_map
        self.device_id = device_id
        self.name = name
        self.backend = backend
        self._plan = register_map.plan()
        self._last_energy_wh: float | None = None
        self._last_error = ""
        self._open = False
        self._open_error = open_error

    async def open(self) -> None:
        if self._open_error:
            raise DeviceOpenError(self._open_error)
        if not self._open:
            await self.bus.open()
            self._open = True
            self._last_energy_wh = None

    async def close(self) -> None:
        if self._open:
            self._open = False
            await self.bus.close()

    def info(self) -> DeviceInfo:
        return DeviceInfo(role="meter", name=self.name, backend=self.backend,
                          port=f"{self.bus.settings.describe()} id {self.device_id}",
                          last_error=self._last_error,
                          details={"map": self.map.name, "requests_per_read": str(len(self._plan))})

    async def read(self) -> MeterReading:
        try:
            reading = await self._read_cycle()
        except MeterUnavailable as exc:
            self._last_error = str(exc)
            raise
        self._last_error = ""
        return reading

    async def _read_cycle(self) -> MeterReading:
        if not self._open:
            raise MeterUnavailable(f"{self.name}: meter not open")
        blocks = []
        for block in self._plan:
            words = await self.bus.read_registers(self.map.function, block.address, block.count,
                                                  self.device_id)
            blocks.append((block, words))
        try:
            values = regmap.check_plausible(self.map.decode(blocks))
        except regmap.ImplausibleValue as exc:
            raise MeterUnavailable(f"{self.name}: implausible reading from {self.map.name} "
                                   f"(id {self.device_id}): {exc}") from exc
        energy_wh = values["energy_wh"]
        if self._last_energy_wh is not None and energy_wh < self._last_energy_wh:
            raise MeterUnavailable(
                f"{self.name}: energy register went backwards ({self._last_energy_wh:.0f} → "
                f"{energy_wh:.0f} Wh): wrong device_id, two meters with one address, or a "
                f"replaced meter (restart the agent after replacing a meter)")
        self._last_energy_wh = energy_wh
        return MeterReading(
            energy_wh=energy_wh,
            power_w=values.get("power_w"),
            current_a=_phases(values, "current", "a"),
            voltage_v=_phases(values, "voltage", "v"),
            frequency_hz=values.get("frequency_hz"),
            power_factor=values.get("power_factor"))


def _phases(values: dict[str, float | None], quantity: str, unit: str) -> tuple[float | None, ...]:
    present = [n for n in (1, 2, 3) if f"{quantity}_l{n}_{unit}" in values]
    if not present:
        return ()
    return tuple(values.get(f"{quantity}_l{n}_{unit}") for n in range(1, max(present) + 1))


# -- driver specs ----------------------------------------------------------------------
def _common_options(defaults: dict[str, Any], what: str) -> tuple[Option, ...]:
    serial = serial_options.serial_options(
        baudrate=defaults.get("baudrate", 9600), parity=defaults.get("parity", "N"),
        stopbits=defaults.get("stopbits", 1), bytesize=defaults.get("bytesize", 8), what=what)
    return serial + (
        optional("device_id", int, defaults.get("device_id", 1), "Modbus address of the meter",
                 minimum=1, maximum=247),
        optional("timeout_s", float, 1.0, "response timeout per request", minimum=0.05,
                 maximum=10.0),
        optional("retries", int, 1, "re-sends of a request that got no valid answer",
                 minimum=0, maximum=5),
    )


def _bus(ctx: BuildContext, settings: SerialSettings, timeout_s: float,
         retries: int) -> tuple[ModbusRtuBus, str]:
    """The bus shared by every meter on ``settings.port``, and a problem ("" = none)."""
    key = ("modbus", settings.port)
    bus = ctx.shared.get(key)
    if bus is None:
        bus = ctx.shared[key] = ModbusRtuBus(settings, timeout_s=timeout_s, retries=retries)
    elif bus.settings != settings:
        # reported by open(): building never fails, so check-config lists every problem
        problem = (f"{ctx.name}: Modbus port {settings.port} is already used with "
                   f"{bus.settings.describe()}; meters on one bus need the same "
                   f"baudrate/parity/stopbits/bytesize")
        return ModbusRtuBus(settings, timeout_s=timeout_s, retries=retries), problem
    return bus, ""


def _builder(register_map: regmap.RegisterMap | None, backend: str):
    def build(ctx: BuildContext, options: dict[str, Any]) -> ModbusEnergyMeter:
        opts = dict(options)
        the_map = register_map or regmap.map_from_table(opts.pop("register_map"))
        settings, rest = serial_options.split(opts)
        bus, problem = _bus(ctx, settings, rest["timeout_s"], rest["retries"])
        return ModbusEnergyMeter(bus, the_map, device_id=rest["device_id"], name=ctx.name,
                                 backend=backend, open_error=problem)
    return build


def builtin_spec(driver: str, map_id: str) -> DriverSpec:
    the_map = regmap.load_builtin(map_id)
    return DriverSpec(role="meter", name=driver, port_group="modbus",
                      options=_common_options(the_map.defaults, the_map.name),
                      build=_builder(the_map, f"modbus-{driver}"),
                      doc=f"{the_map.name} over Modbus RTU (FC {the_map.function:02d}); "
                          f"register map drivers/meter/maps/{map_id}.toml")


def _inline_map_check(value: dict) -> str | None:
    problems = regmap.map_problems(value)
    if "serial" in value:
        problems.append("serial: put the serial settings in the meter table itself")
    return "; ".join(problems) or None


CUSTOM_OPTIONS = _common_options({}, "meter") + (
    required("register_map", dict, "the register map, same format as the files in "
             "drivers/meter/maps/ (function, word_order, max_registers_per_read, "
             "max_gap_registers, [registers])", check=_inline_map_check),
)
# a custom meter has no factory settings to default to: baudrate is required
CUSTOM_OPTIONS = tuple(
    required("baudrate", int, o.doc, choices=o.choices) if o.name == "baudrate" else o
    for o in CUSTOM_OPTIONS)

CUSTOM_SPEC = DriverSpec(role="meter", name="modbus", options=CUSTOM_OPTIONS, port_group="modbus",
                         build=_builder(None, "modbus-custom"),
                         doc="Any Modbus RTU meter, register map declared inline in the board "
                             "config.")

BUILTIN_MAPS = {"sdm630": "sdm630", "sdm120": "sdm120", "sdm72dm_v2": "sdm72dm_v2",
                "abb_b23": "abb_b23"}


def specs() -> list[DriverSpec]:
    return [builtin_spec(driver, map_id) for driver, map_id in BUILTIN_MAPS.items()] + [CUSTOM_SPEC]
