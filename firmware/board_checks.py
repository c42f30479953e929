"""Checks across devices and between the site and its board: what ``borne run`` would
refuse (or what could never work) is reported by ``check-config`` first.

Each check returns ``ConfigProblem``s (``FILE: key: problem``); none touches hardware or
changes anything on disk. Devices are named by connector id and role (``connector 1
contactor``) or reader name, never by a 0-based index.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drivers import registry
from firmware.errors import ConfigProblem

SERIAL_SETTINGS = ("baudrate", "bytesize", "parity", "stopbits")


@dataclass(frozen=True)
class _Placed:
    where: str  # "connector 1.contactor" / "reader front"
    role: str
    driver: str
    options: dict[str, Any]

    @property
    def spec(self) -> registry.DriverSpec | None:
        return registry.lookup(self.role, self.driver)


def _devices(board: Any) -> list[_Placed]:
    out = [_Placed(f"connector {c.connector_id}.{role}", d.role, d.driver, d.options)
           for c in board.connectors for role, d in c.devices.items()]
    out += [_Placed(f"reader {values.get('name', d.name)}", d.role, d.driver, d.options)
            for values, d in board.readers]
    out += [_Placed(f"payment {values.get('name', d.name)}", d.role, d.driver, d.options)
            for values, d in getattr(board, "payments", [])]
    return out


def real_port(path: str) -> str:
    """The device a serial path names, through symlinks (/dev/serial0 → /dev/ttyS0)."""
    return os.path.realpath(path)


def board_problems(board: Any) -> list[ConfigProblem]:
    file = str(board.path)
    devices = _devices(board)
    problems: list[ConfigProblem] = []
    problems += _option_problems(file, devices)
    problems += _gpio_problems(file, board, devices)
    problems += _port_problems(file, devices)
    problems += _sim_mix_problems(file, board, devices)
    return problems


def _option_problems(file: str, devices: list[_Placed]) -> list[ConfigProblem]:
    """Problems between a device's own options (its driver's ``DriverSpec.check``)."""
    problems: list[ConfigProblem] = []
    for d in devices:
        spec = d.spec
        if spec is not None and spec.check is not None:
            problems += [ConfigProblem(file, f"{d.where}.{key}", message)
                         for key, message in spec.check(d.options)]
    return problems


def _gpio_problems(file: str, board: Any, devices: list[_Placed]) -> list[ConfigProblem]:
    """Every ``*_pin`` option of every GPIO driver names a line no other pin uses (within
    one device too: a lock's lock_pin and feedback_pin, a contactor's coil and feedback)."""
    problems: list[ConfigProblem] = []
    owners: dict[int, str] = {}
    for d in devices:
        spec = d.spec
        if spec is None or not spec.uses_gpio:
            continue
        if board.gpio is None:
            problems.append(ConfigProblem(file, f"{d.where}.driver",
                                          f"driver {d.driver!r} needs a [gpio] table"))
        for key, value in sorted(d.options.items()):
            if not key.endswith("_pin") or not isinstance(value, int):
                continue
            owner = owners.setdefault(value, f"{d.where}.{key}")
            if owner != f"{d.where}.{key}":
                problems.append(ConfigProblem(file, f"{d.where}.{key}",
                                              f"GPIO line {value} is already used by {owner}"))
    return problems


def _port_problems(file: str, devices: list[_Placed]) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    first: dict[str, _Placed] = {}
    for d in devices:
        port = d.options.get("port")
        if not isinstance(port, str) or not port:
            continue
        other = first.setdefault(real_port(port), d)
        if other is d:
            continue
        group = d.spec.port_group if d.spec else ""
        other_group = other.spec.port_group if other.spec else ""
        if not group or group != other_group:
            problems.append(ConfigProblem(
                file, f"{d.where}.port",
                f"{port} is already used by {other.where} ({other.options.get('port')}); "
                "one serial port serves one device"))
            continue
        for key in SERIAL_SETTINGS:
            if d.options.get(key) != other.options.get(key):
                problems.append(ConfigProblem(
                    file, f"{d.where}.{key}",
                    f"{d.options.get(key)} differs from {other.where}'s "
                    f"{other.options.get(key)} on the shared port {port}"))
    return problems


def _sim_mix_problems(file: str, board: Any, devices: list[_Placed]) -> list[ConfigProblem]:
    sims = [d.where for d in devices if d.driver == "sim"]
    if not sims or len(sims) == len(devices) or board.mixed_sim:
        return []
    return [ConfigProblem(file, "board.mixed_sim",
                          f"simulated devices ({', '.join(sims)}) next to real ones: a real "
                          "charger would run with pretend hardware; set mixed_sim = true "
                          "only on a test bench")]


def ports_of(board: Any) -> dict[str, str]:
    """Real device path → who uses it."""
    return {real_port(d.options["port"]): d.where for d in _devices(board)
            if isinstance(d.options.get("port"), str) and d.options.get("port")}


def site_problems(site: Any) -> list[ConfigProblem]:
    """Console and storage checks of a loaded site config (board loaded or not)."""
    file = str(site.path)
    problems: list[ConfigProblem] = []
    device = str(site.console.get("device", "none"))
    if device.startswith("/dev/"):
        if not os.path.exists(device):
            problems.append(ConfigProblem(file, "console.device", f"{device} does not exist"))
        elif site.board is not None:
            user = ports_of(site.board).get(real_port(device))
            if user is not None:
                problems.append(ConfigProblem(file, "console.device",
                                              f"{device} is the serial port of {user}"))
    if device == "stdio" and under_systemd() and not _stdin_is_terminal():
        problems.append(ConfigProblem(
            file, "console.device",
            "stdio has no terminal under systemd (stdin is /dev/null): use a serial device, "
            "pty:PATH or none"))
    problem = _state_dir_problem(site.state_dir)
    if problem:
        problems.append(ConfigProblem(file, "storage.state_dir", problem))
    return problems


def under_systemd() -> bool:
    return bool(os.environ.get("INVOCATION_ID") or os.environ.get("NOTIFY_SOCKET"))


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):
        return False


def _state_dir_problem(state_dir: Path) -> str:
    """Why the agent could not create or write ``state_dir`` ("" when it can)."""
    path = Path(state_dir)
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            return f"{path}: no existing parent directory"
        probe = probe.parent
    if not probe.is_dir():
        return f"{path}: {probe} is not a directory"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{path}: {probe} is not writable by this user"
    return ""
