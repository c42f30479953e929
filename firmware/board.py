"""Board configuration: what hardware a charger model has, and building its devices.

``load_board_config(path)`` validates every key (the board's own and each device's
driver options, looked up in ``drivers.registry``) and reports every problem as
``FILE: key: problem``. ``build_board(config)`` constructs the devices; nothing is
opened yet (``open_devices`` does that at start, and a device that cannot open stops
the agent with a message naming the pin or port and the fix).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers import registry
from firmware.errors import ConfigError, ConfigProblem, StartupError
from hal.errors import DeviceOpenError
from hal.options import optional, required, validate_table

log = logging.getLogger(__name__)

BOARD_OPTIONS = (
    required("name", str, "free text shown by the console's `hw` and `version`"),
    optional("description", str, "", "free text"),
    optional("mixed_sim", bool, False,
             "allow simulated devices next to real ones (a test bench only: a real charger "
             "must never run with pretend hardware)"),
)

CONNECTOR_OPTIONS = (
    required("id", int, "connector id, 1..N without gaps", minimum=1, maximum=99),
    required("max_current_a", float, "the most current offered to the EV, A", minimum=6,
             maximum=80),
    optional("phases", int, 3, "1 or 3", choices=(1, 3)),
    optional("nominal_voltage_v", float, 230.0, "phase-to-neutral voltage, V", minimum=100,
             maximum=480),
    optional("meter_poll_interval_s", float, 1.0, "how often the meter is read, s",
             minimum=0.1, maximum=60),
    optional("meter_failed_reads", int, 3,
             "consecutive failed meter reads before PowerMeterFailure", minimum=1, maximum=100),
)
CONNECTOR_DEVICES = {"pilot": True, "contactor": True, "meter": True, "lock": False,
                     "indicator": False}

READER_OPTIONS = (
    required("name", str, "reader name (logs, `sim tap UID READER`)"),
    required("driver", str, "reader driver"),
    optional("connector", int, 0, "connector this reader serves (0 = the station picks)",
             minimum=0),
    optional("uid_reversed", bool, False,
             "the reader delivers the UID last byte first (KEBA-style); reverse it back to "
             "anticollision order so the card keeps one idTag"),
    optional("uid_zero_pad_to", int, 0,
             "the reader pads short UIDs with trailing 00 bytes to this length (e.g. 6); "
             "the padding is removed (0 = no padding)", minimum=0, maximum=10),
    optional("token_type", str, "",
             "how its cards identify themselves to OCPP 2.0.1 (IdTokenEnumType); '' = the "
             "driver's: ISO14443 for pn532, wiegand and line readers, Local for rdm6300 "
             "(125 kHz EM4100 has no ISO type)",
             choices=("", "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress", "eMAID")),
)
READER_KEYS = tuple(o.name for o in READER_OPTIONS)

PAYMENT_OPTIONS = (
    required("name", str, "terminal name (logs, `hw`)"),
    required("driver", str, "payment terminal driver"),
    optional("connectors", list, [], "connectors this terminal serves ([] = all of them; "
             "one terminal may serve several, as AFIR allows)", item_kind=int),
)
PAYMENT_KEYS = tuple(o.name for o in PAYMENT_OPTIONS)


@dataclass
class DeviceConfig:
    role: str
    driver: str
    name: str
    options: dict[str, Any]


@dataclass
class ConnectorConfig:
    connector_id: int
    values: dict[str, Any]
    devices: dict[str, DeviceConfig]

    @property
    def max_current_a(self) -> float:
        return float(self.values["max_current_a"])


@dataclass
class BoardConfig:
    path: Path
    name: str
    gpio: dict[str, Any] | None
    connectors: list[ConnectorConfig]
    readers: list[tuple[dict[str, Any], DeviceConfig]]
    mixed_sim: bool = False
    payments: list[tuple[dict[str, Any], DeviceConfig]] = field(default_factory=list)

    @property
    def uses_sim(self) -> bool:
        devices = [d for c in self.connectors for d in c.devices.values()]
        devices += [d for _, d in self.readers]
        devices += [d for _, d in self.payments]
        return any(d.driver == "sim" for d in devices)


def _device(role: str, table: Any, prefix: str, file: str, name: str,
            problems: list[ConfigProblem], extra_ignore: tuple[str, ...] = ()) -> DeviceConfig | None:
    if not isinstance(table, dict):
        problems.append(ConfigProblem(file, prefix, "must be a table"))
        return None
    driver = table.get("driver")
    if not isinstance(driver, str):
        problems.append(ConfigProblem(file, f"{prefix}.driver",
                                      f"missing; one of: {', '.join(registry.names(role))}"))
        return None
    spec = registry.lookup(role, driver)
    if spec is None:
        problems.append(ConfigProblem(file, f"{prefix}.driver",
                                      f"unknown {role} driver {driver!r}; known: "
                                      f"{', '.join(registry.names(role))}"))
        return None
    options, found = validate_table(table, spec.options, prefix, ("driver",) + extra_ignore)
    problems.extend(ConfigProblem(file, p.key, p.message) for p in found)
    return DeviceConfig(role, driver, name, options)


def load_board_config(path: str | Path) -> BoardConfig:
    from firmware.config import read_toml

    path = Path(path)
    data = read_toml(path)
    file = str(path)
    problems: list[ConfigProblem] = []
    for key in data:
        if key not in ("board", "gpio", "connector", "reader", "payment"):
            problems.append(ConfigProblem(file, key, "unknown section"))
    board, found = validate_table(data.get("board", {}), BOARD_OPTIONS, "board")
    problems.extend(ConfigProblem(file, p.key, p.message) for p in found)
    gpio = None
    if "gpio" in data:
        from hal.gpio import GPIO_OPTIONS

        gpio, found = validate_table(data["gpio"], GPIO_OPTIONS, "gpio")
        problems.extend(ConfigProblem(file, p.key, p.message) for p in found)
    connectors = _connectors(data.get("connector"), file, problems)
    readers = _readers(data.get("reader", []), file, problems,
                       sorted(c.connector_id for c in connectors))
    payments = _payments(data.get("payment", []), file, problems,
                         sorted(c.connector_id for c in connectors))
    if problems:
        raise ConfigError(problems)
    config = BoardConfig(path, board["name"], gpio, connectors, readers,
                         bool(board.get("mixed_sim", False)), payments)
    from firmware.board_checks import board_problems

    problems = board_problems(config)
    if problems:
        raise ConfigError(problems)
    return config


def _connectors(tables: Any, file: str, problems: list[ConfigProblem]) -> list[ConnectorConfig]:
    if not isinstance(tables, list) or not tables:
        problems.append(ConfigProblem(file, "connector", "at least one [[connector]] is needed"))
        return []
    connectors: list[ConnectorConfig] = []
    seen: set[int] = set()
    for index, table in enumerate(tables):
        raw_id = table.get("id") if isinstance(table, dict) else None
        # Name a connector by its id when it has a usable one (a technician counts from 1).
        prefix = (f"connector {raw_id}" if isinstance(raw_id, int) and not isinstance(raw_id, bool)
                  else f"connector[{index}]")
        values, found = validate_table(table, CONNECTOR_OPTIONS, prefix,
                                       tuple(CONNECTOR_DEVICES))
        problems.extend(ConfigProblem(file, p.key, p.message) for p in found)
        connector_id = values.get("id")
        if connector_id in seen:
            problems.append(ConfigProblem(file, f"{prefix}.id",
                                          f"duplicate connector id {connector_id}"))
        if isinstance(connector_id, int):
            seen.add(connector_id)
        devices: dict[str, DeviceConfig] = {}
        if isinstance(table, dict):
            for role, needed in CONNECTOR_DEVICES.items():
                if role not in table:
                    if needed:
                        problems.append(ConfigProblem(file, f"{prefix}.{role}",
                                                      "missing (required device)"))
                    continue
                device = _device(role, table[role], f"{prefix}.{role}", file,
                                 f"connector {connector_id} {role}", problems)
                if device is not None:
                    devices[role] = device
        connectors.append(ConnectorConfig(connector_id or 0, values, devices))
    ids = sorted(seen)
    if ids and ids != list(range(1, len(ids) + 1)):
        problems.append(ConfigProblem(file, "connector", f"ids must be 1..N without gaps, got {ids}"))
    return sorted(connectors, key=lambda c: c.connector_id)


def _readers(tables: Any, file: str, problems: list[ConfigProblem],
             connector_ids: list[int]) -> list[tuple[dict[str, Any], DeviceConfig]]:
    return _named_devices("reader", "rfid", "reader", READER_KEYS, READER_OPTIONS, "connector",
                          tables, file, problems, connector_ids)


def _payments(tables: Any, file: str, problems: list[ConfigProblem],
              connector_ids: list[int]) -> list[tuple[dict[str, Any], DeviceConfig]]:
    return _named_devices("payment", "payment", "payment terminal", PAYMENT_KEYS,
                          PAYMENT_OPTIONS, "connectors", tables, file, problems, connector_ids)


def _named_devices(section: str, role: str, noun: str, keys: Any, options: Any,
                   connector_key: str, tables: Any, file: str, problems: list[ConfigProblem],
                   connector_ids: list[int]) -> list[tuple[dict[str, Any], DeviceConfig]]:
    """An array of tables ``[[section]]`` of named devices of one ``role`` (readers,
    payment terminals): each table's own ``keys`` validated against ``options``, unique
    names, and ``connector_key`` (one id, or a list of ids) naming connectors that exist."""
    if not isinstance(tables, list):
        problems.append(ConfigProblem(file, section,
                                      f"must be an array of tables [[{section}]]"))
        return []
    found_devices = []
    names: set[str] = set()
    for index, table in enumerate(tables):
        raw_name = table.get("name") if isinstance(table, dict) else None
        prefix = f"{section} {raw_name}" if isinstance(raw_name, str) and raw_name \
            else f"{section}[{index}]"
        if not isinstance(table, dict):
            problems.append(ConfigProblem(file, prefix, "must be a table"))
            continue
        own = {k: table[k] for k in keys if k in table}
        values, found = validate_table(own, options, prefix)
        problems.extend(ConfigProblem(file, p.key, p.message) for p in found)
        wanted = values.get(connector_key, 0)
        # One id (0 = not bound to a connector) or a list of ids ([] = all connectors).
        for connector_id in wanted if isinstance(wanted, list) else [wanted] if wanted else []:
            if connector_ids and connector_id not in connector_ids:
                problems.append(ConfigProblem(
                    file, f"{prefix}.{connector_key}",
                    f"no connector {connector_id} on this board "
                    f"(connectors: {', '.join(map(str, connector_ids))})"))
        name = values.get("name", f"{section}{index}")
        if name in names:
            problems.append(ConfigProblem(file, f"{prefix}.name", f"duplicate {noun} name {name!r}"))
        names.add(name)
        device = _device(role, table, prefix, file, name, problems,
                         extra_ignore=tuple(k for k in keys if k != "driver"))
        if device is not None:
            found_devices.append((values, device))
    return found_devices


# ---------------------------------------------------------------------- building
@dataclass
class BuiltConnector:
    config: ConnectorConfig
    devices: dict[str, Any]


@dataclass
class Board:
    config: BoardConfig
    connectors: list[BuiltConnector]
    readers: list[tuple[dict[str, Any], Any]]
    sim: Any = None
    gpio: Any = None
    shared: dict[Any, Any] = field(default_factory=dict)
    # (values with "name" and "connectors", the PaymentTerminal)
    payments: list[tuple[dict[str, Any], Any]] = field(default_factory=list)

    def all_devices(self) -> list[Any]:
        out = [d for c in self.connectors for d in c.devices.values()]
        out += [r for _, r in self.readers]
        out += [p for _, p in self.payments]
        return out


def build_board(config: BoardConfig) -> Board:
    """Construct every device (no hardware is touched until ``open_devices``)."""
    sim = None
    if config.uses_sim:
        from hal.sim.world import SimWorld

        sim = SimWorld()
    gpio = None
    if config.gpio is not None:
        from hal.gpio import open_gpio_factory

        gpio = open_gpio_factory(config.gpio)
    shared: dict[Any, Any] = {}
    built: list[BuiltConnector] = []
    for c in config.connectors:
        devices = {}
        for role, device in c.devices.items():
            ctx = registry.BuildContext(name=device.name, connector_id=c.connector_id,
                                        gpio=gpio, sim=sim, shared=shared, connector=c.values)
            devices[role] = registry.lookup(role, device.driver).build(ctx, device.options)
        built.append(BuiltConnector(c, devices))
    readers = []
    for values, device in config.readers:
        ctx = registry.BuildContext(name=device.name, connector_id=values.get("connector", 0),
                                    gpio=gpio, sim=sim, shared=shared)
        readers.append((values, registry.lookup("rfid", device.driver).build(ctx, device.options)))
    payments = []
    for values, device in config.payments:
        ctx = registry.BuildContext(name=device.name, gpio=gpio, sim=sim, shared=shared)
        payments.append((values, registry.lookup("payment", device.driver).build(ctx,
                                                                                 device.options)))
    return Board(config, built, readers, sim, gpio, shared, payments)


async def open_devices(board: Board) -> None:
    """Open every device; on the first failure close what was opened and raise
    ``StartupError`` with the device's message (it names the pin/port and the fix)."""
    opened: list[Any] = []
    for device in board.all_devices():
        try:
            await device.open()
        except DeviceOpenError as e:
            for done in reversed(opened):
                await _close_quietly(done)
            raise StartupError(f"{device.info().name}: {e}") from e
        opened.append(device)


async def close_devices(board: Board) -> None:
    for device in reversed(board.all_devices()):
        await _close_quietly(device)


async def _close_quietly(device: Any) -> None:
    try:
        await device.close()
    except Exception as e:  # closing must never mask the reason we are stopping
        log.warning("closing %s failed: %s", getattr(device, "name", device), e)
