"""Which driver builds which device: the board config names them, this table finds them.

A board config device table looks like ``[connector.meter] driver = "sdm630" port = ...``.
``firmware.board`` looks up ``(role, driver)`` here, validates the table against the
driver's ``options`` (every problem reported, unknown keys included) and calls ``build``.

Roles: ``pilot``, ``contactor``, ``meter``, ``lock``, ``indicator`` (per connector),
``rfid`` (per reader) and ``payment`` (per terminal; one terminal may serve several
connectors). Simulated devices register under the driver name ``sim``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from hal.options import Option

ROLES = ("pilot", "contactor", "meter", "lock", "indicator", "rfid", "payment")


@dataclass
class BuildContext:
    """What a driver's ``build`` gets besides its validated options.

    ``gpio`` is the board's GPIO factory (``hal.gpio``) or None when the board has no
    ``[gpio]`` table; ``shared`` lets devices that share one physical link (an OpenEVSE
    board serves pilot, contactor and meter on one serial port) find each other, keyed
    by whatever the driver chooses (e.g. ``("rapi", port)``); ``sim`` is the simulated
    world of a board with simulated devices; ``connector_id`` is 0 for readers.
    """

    name: str
    connector_id: int = 0
    gpio: Any = None
    sim: Any = None
    shared: dict[Any, Any] = field(default_factory=dict)
    connector: dict[str, Any] = field(default_factory=dict)  # the connector's own table


@dataclass(frozen=True)
class DriverSpec:
    role: str
    name: str
    options: tuple[Option, ...]
    build: Callable[[BuildContext, dict[str, Any]], Any]
    doc: str = ""
    uses_gpio: bool = False  # needs the board's [gpio] table; its *_pin options are lines
    # Devices of one group may share a serial port (one link or bus for all of them, with
    # the same serial settings); any other two devices on one port are a board mistake.
    port_group: str = ""
    # Problems between validated options that one option's own check cannot see, as
    # ``(key, message)`` pairs (``firmware.board_checks`` reports them; e.g. a motor lock
    # without its unlock_pin). None: the options are independent.
    check: Callable[[dict[str, Any]], list[tuple[str, str]]] | None = None


_REGISTRY: dict[tuple[str, str], DriverSpec] = {}


def register(spec: DriverSpec) -> DriverSpec:
    if spec.role not in ROLES:
        raise ValueError(f"unknown role {spec.role!r}")
    key = (spec.role, spec.name)
    if key in _REGISTRY and _REGISTRY[key] is not spec:
        raise ValueError(f"driver {spec.name!r} registered twice for role {spec.role!r}")
    _REGISTRY[key] = spec
    return spec


def lookup(role: str, name: str) -> DriverSpec | None:
    """The spec of ``name`` for ``role``; imports only the module that registers it."""
    key = (role, name)
    if key not in _REGISTRY and key in BUILTIN_DRIVERS:
        import importlib

        importlib.import_module(BUILTIN_DRIVERS[key])
    return _REGISTRY.get(key)


def names(role: str) -> list[str]:
    known = {n for (r, n) in BUILTIN_DRIVERS if r == role}
    return sorted(known | {n for (r, n) in _REGISTRY if r == role})


def all_specs() -> list[DriverSpec]:
    _load_builtin_drivers()
    return sorted(_REGISTRY.values(), key=lambda s: (s.role, s.name))


_loaded = False


def _load_builtin_drivers() -> None:
    """Import the modules that register built-in drivers (once, lazily).

    Lazily, so that importing the registry does not import pyserial/pymodbus for a
    board that only uses simulated devices.
    """
    global _loaded
    if _loaded:
        return
    _loaded = True
    import importlib

    for module in BUILTIN_DRIVER_MODULES:
        importlib.import_module(module)


# Which module registers which built-in driver, so a board loads only the drivers it names
# (importing every driver package costs ~30 ms of start-up). A test checks this index
# against what the modules really register.
BUILTIN_DRIVERS: dict[tuple[str, str], str] = {
    **{(role, "sim"): "drivers.sim" for role in ROLES},
    ("contactor", "gpio"): "drivers.contactor",
    ("lock", "gpio"): "drivers.lock",
    ("indicator", "gpio_rgb"): "drivers.indicator",
    **{("meter", name): "drivers.meter"
       for name in ("sdm630", "sdm120", "sdm72dm_v2", "abb_b23", "modbus")},
    **{(role, "openevse"): "drivers.pilot" for role in ("pilot", "contactor", "meter")},
    **{(role, "borne_mcu"): "drivers.pilot" for role in ("pilot", "contactor")},
    **{("rfid", name): "drivers.rfid" for name in ("pn532", "rdm6300", "wiegand", "line")},
    **{("payment", name): "drivers.payment" for name in ("zvt", "zvt_tcp")},
}

# Modules whose import registers drivers. Keep imports inside them cheap: heavy
# libraries (pymodbus, gpiod) are imported by ``build``, not at module import.
BUILTIN_DRIVER_MODULES: list[str] = [
    "drivers.sim",
    "drivers.contactor",   # gpio
    "drivers.lock",        # gpio
    "drivers.indicator",   # gpio_rgb
    "drivers.meter",       # sdm630, sdm120, sdm72dm_v2, abb_b23, modbus (inline map)
    "drivers.pilot",       # openevse (pilot, contactor, meter), borne_mcu (pilot, contactor)
    "drivers.rfid",        # pn532, rdm6300, wiegand, line
    "drivers.payment",     # zvt (RS-232), zvt_tcp
]
