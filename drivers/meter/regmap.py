"""Register maps of Modbus energy meters: data (TOML), validation, read planning and
decoding. Sans-I/O: registers (lists of 16-bit ints) in, quantities out.

A map (``drivers/meter/maps/*.toml``, or inline in a board config) looks like::

    name = "Eastron SDM630"
    function = 4                  # 3 = holding registers, 4 = input registers
    word_order = "big"            # 32/64-bit values: "big" = high word first
    max_registers_per_read = 40   # largest block requested at once
    max_gap_registers = 0         # unused registers that may be read between two values
    [serial]                      # factory settings; the board config may override each
    baudrate = 9600
    parity = "N"
    stopbits = 1
    bytesize = 8
    device_id = 1
    [registers]
    energy_import_kwh = { address = 0x0048, type = "float32" }
    voltage_l1_v = { address = 0x5B00, type = "uint32", scale = 0.1 }

Quantity keys carry their unit: ``energy_import_kwh`` or ``energy_import_wh``
(exactly one, required), ``power_w``, ``current_l1_a``..``current_l3_a``,
``voltage_l1_v``..``voltage_l3_v``, ``frequency_hz``, ``power_factor``. Types:
float32, float64, int16, uint16, int32, uint32, int64, uint64; ``scale`` multiplies
the raw value. "Not available" markers (integer all-ones, signed max-positive, float
NaN) decode to None; a missing energy value or an implausible value makes the whole
reading invalid (``MeterUnavailable`` in the device) — never an invented number.
"""

from __future__ import annotations

import math
import struct
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from drivers.errors import DriverError

TYPES: dict[str, tuple[int, str]] = {   # registers, struct format (big-endian bytes)
    "int16": (1, ">h"), "uint16": (1, ">H"),
    "int32": (2, ">i"), "uint32": (2, ">I"), "float32": (2, ">f"),
    "int64": (4, ">q"), "uint64": (4, ">Q"), "float64": (4, ">d"),
}
PHASE_QUANTITIES = {f"{q}_l{n}_{u}": (q, n) for q, u in (("current", "a"), ("voltage", "v"))
                    for n in (1, 2, 3)}
QUANTITIES = ("energy_import_kwh", "energy_import_wh", "power_w", "frequency_hz",
              "power_factor", *PHASE_QUANTITIES)
SERIAL_DEFAULT_KEYS = ("baudrate", "parity", "stopbits", "bytesize", "device_id")

# Plausibility bounds (inclusive) after scaling; anything outside is a bad read.
LIMITS: dict[str, tuple[float, float]] = {
    "energy_wh": (0.0, 1e13),       # 10 TWh: beyond any meter register
    "power_w": (-1e6, 1e6),
    "current": (-2000.0, 2000.0),
    "voltage": (0.0, 1000.0),
    "frequency_hz": (0.0, 100.0),   # 0 is what some meters show without supply
    "power_factor": (-1.001, 1.001),
}


class MapError(DriverError, ValueError):
    """The register map itself is wrong (a configuration problem)."""


class ImplausibleValue(DriverError, ValueError):
    """A decoded value is outside what a working meter can report."""


@dataclass(frozen=True)
class Register:
    quantity: str
    address: int
    type: str
    scale: float = 1.0

    @property
    def count(self) -> int:
        return TYPES[self.type][0]


@dataclass(frozen=True)
class Block:
    """One read request: ``count`` registers from ``address``."""

    address: int
    count: int
    registers: tuple[Register, ...]


@dataclass(frozen=True)
class RegisterMap:
    name: str
    function: int
    word_order: str
    registers: tuple[Register, ...]
    max_registers_per_read: int = 40
    max_gap_registers: int = 0
    serial_defaults: tuple[tuple[str, Any], ...] = ()

    @property
    def defaults(self) -> dict[str, Any]:
        return dict(self.serial_defaults)

    # -- planning -------------------------------------------------------------------
    def plan(self) -> list[Block]:
        """Group registers into as few contiguous requests as the map allows."""
        blocks: list[Block] = []
        current: list[Register] = []
        start = end = 0
        for reg in sorted(self.registers, key=lambda r: r.address):
            reg_end = reg.address + reg.count
            if (current and reg.address - end <= self.max_gap_registers
                    and reg_end - start <= self.max_registers_per_read):
                current.append(reg)
                end = max(end, reg_end)
                continue
            if current:
                blocks.append(Block(start, end - start, tuple(current)))
            current, start, end = [reg], reg.address, reg_end
        if current:
            blocks.append(Block(start, end - start, tuple(current)))
        return blocks

    # -- decoding -------------------------------------------------------------------
    def decode_value(self, reg: Register, words: list[int]) -> float | None:
        count, fmt = TYPES[reg.type]
        if len(words) != count or any(not 0 <= w <= 0xFFFF for w in words):
            raise ImplausibleValue(f"{reg.quantity}: expected {count} registers, got {words!r}")
        ordered = words if self.word_order == "big" else list(reversed(words))
        raw_bytes = b"".join(w.to_bytes(2, "big") for w in ordered)
        if reg.type.startswith("uint") and raw_bytes == b"\xff" * len(raw_bytes):
            return None                               # "not available"
        if reg.type.startswith("int") and raw_bytes == b"\x7f" + b"\xff" * (len(raw_bytes) - 1):
            return None
        (value,) = struct.unpack(fmt, raw_bytes)
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, float) and math.isinf(value):
            raise ImplausibleValue(f"{reg.quantity}: infinite value")
        return value * reg.scale

    def decode(self, blocks: list[tuple[Block, list[int]]]) -> dict[str, float | None]:
        """Quantities from the registers of each block (one read cycle)."""
        values: dict[str, float | None] = {}
        for block, words in blocks:
            if len(words) != block.count:
                raise ImplausibleValue(f"block at 0x{block.address:04X}: expected "
                                       f"{block.count} registers, got {len(words)}")
            for reg in block.registers:
                offset = reg.address - block.address
                values[reg.quantity] = self.decode_value(reg, words[offset:offset + reg.count])
        return values


def check_plausible(values: dict[str, float | None]) -> dict[str, float | None]:
    """Normalise energy to Wh and raise ``ImplausibleValue`` for values a working meter
    cannot report. A missing energy register value is implausible too."""
    out = dict(values)
    if "energy_import_kwh" in out:
        kwh = out.pop("energy_import_kwh")
        out["energy_wh"] = None if kwh is None else kwh * 1000.0
    else:
        out["energy_wh"] = out.pop("energy_import_wh", None)
    if out["energy_wh"] is None:
        raise ImplausibleValue("energy register reports 'not available'")
    for key, value in out.items():
        if value is None:
            continue
        limit_key = key if key in LIMITS else key.split("_")[0]
        low, high = LIMITS[limit_key]
        if not low <= value <= high:
            raise ImplausibleValue(f"{key} = {value!r} outside [{low:g}, {high:g}]")
    return out


# -- loading and validation -----------------------------------------------------------
def _problems_of_register(name: str, spec: Any) -> list[str]:
    if name not in QUANTITIES:
        return [f"registers.{name}: unknown quantity (known: {', '.join(QUANTITIES)})"]
    if not isinstance(spec, dict):
        return [f"registers.{name}: must be a table {{ address = ..., type = ... }}"]
    problems = []
    unknown = set(spec) - {"address", "type", "scale"}
    if unknown:
        problems.append(f"registers.{name}: unknown key(s) {sorted(unknown)}")
    address = spec.get("address")
    if not isinstance(address, int) or isinstance(address, bool) or not 0 <= address <= 0xFFFF:
        problems.append(f"registers.{name}.address: must be an integer 0..65535 (0-based "
                        f"protocol address, e.g. 0x0048), got {address!r}")
    if spec.get("type") not in TYPES:
        problems.append(f"registers.{name}.type: must be one of {', '.join(TYPES)}, "
                        f"got {spec.get('type')!r}")
    scale = spec.get("scale", 1.0)
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not math.isfinite(scale) \
            or scale == 0:
        problems.append(f"registers.{name}.scale: must be a non-zero number, got {scale!r}")
    return problems


def map_problems(data: Any) -> list[str]:
    """Every problem of a map table (empty list = valid)."""
    if not isinstance(data, dict):
        return ["must be a table"]
    problems: list[str] = []
    known = {"name", "function", "word_order", "max_registers_per_read", "max_gap_registers",
             "serial", "registers"}
    problems += [f"{k}: unknown key" for k in data if k not in known]
    if data.get("function", 4) not in (3, 4):
        problems.append(f"function: must be 3 (holding) or 4 (input registers), "
                        f"got {data.get('function')!r}")
    if data.get("word_order", "big") not in ("big", "little"):
        problems.append("word_order: must be 'big' or 'little'")
    mrr = data.get("max_registers_per_read", 40)
    if not isinstance(mrr, int) or not 1 <= mrr <= 125:
        problems.append("max_registers_per_read: must be an integer 1..125 (Modbus limit)")
    gap = data.get("max_gap_registers", 0)
    if not isinstance(gap, int) or not 0 <= gap <= 125:
        problems.append("max_gap_registers: must be an integer 0..125")
    serial = data.get("serial", {})
    if not isinstance(serial, dict):
        problems.append("serial: must be a table")
    else:
        problems += [f"serial.{k}: unknown key" for k in serial if k not in SERIAL_DEFAULT_KEYS]
    registers = data.get("registers")
    if not isinstance(registers, dict) or not registers:
        return problems + ["registers: missing or empty"]
    for name, spec in registers.items():
        problems += _problems_of_register(name, spec)
    energy = [k for k in registers if k.startswith("energy_import_")]
    if len(energy) != 1:
        problems.append("registers: exactly one of energy_import_kwh / energy_import_wh is "
                        "required")
    if not problems:
        spans = sorted((spec["address"], spec["address"] + TYPES[spec["type"]][0], name)
                       for name, spec in registers.items())
        for (a0, a1, n0), (b0, _b1, n1) in zip(spans, spans[1:]):
            if b0 < a1:
                problems.append(f"registers: {n0} and {n1} overlap (0x{a0:04X} / 0x{b0:04X})")
        if isinstance(mrr, int) and any(a1 - a0 > mrr for a0, a1, _ in spans):
            problems.append("max_registers_per_read: smaller than one value")
    return problems


def map_from_table(data: dict[str, Any], default_name: str = "custom") -> RegisterMap:
    problems = map_problems(data)
    if problems:
        raise MapError("; ".join(problems))
    regs = tuple(Register(name, spec["address"], spec["type"], float(spec.get("scale", 1.0)))
                 for name, spec in data["registers"].items())
    return RegisterMap(name=data.get("name", default_name), function=data.get("function", 4),
                       word_order=data.get("word_order", "big"), registers=regs,
                       max_registers_per_read=data.get("max_registers_per_read", 40),
                       max_gap_registers=data.get("max_gap_registers", 0),
                       serial_defaults=tuple(sorted(data.get("serial", {}).items())))


def load_builtin(map_id: str) -> RegisterMap:
    """A map shipped in ``drivers/meter/maps/<map_id>.toml`` (package data)."""
    text = resources.files("drivers.meter").joinpath("maps", f"{map_id}.toml").read_text("utf-8")
    return map_from_table(tomllib.loads(text), default_name=map_id)


def builtin_ids() -> list[str]:
    folder = resources.files("drivers.meter").joinpath("maps")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))
