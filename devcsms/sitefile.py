"""Site configs for an agent under test or under a benchmark, written from keyword values.

Defaults suit a test against a CSMS on 127.0.0.1: short call timeout and reconnect
delays, no heartbeat traffic, no sampling, no websocket ping, console off. Every key
can be overridden (``ocpp=``, ``defaults=`` for [ocpp.defaults]); ``extra`` is TOML
appended as-is (e.g. a ``[log]`` or ``[auth]`` table).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BOARDS = REPO / "board_configs"


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_site(directory: Path, csms_url: str, *, station_id: str = "CP-IT",
               board: str | Path = "sim.toml", defaults: dict[str, Any] | None = None,
               ocpp: dict[str, Any] | None = None, console: str = "none",
               state_dir: Path | None = None, extra: str = "") -> Path:
    """Write ``directory/site.toml``; ``board`` is a path or a name in board_configs/."""
    board_path = board if isinstance(board, Path) else BOARDS / board
    values = {"HeartbeatInterval": 300, "MeterValueSampleInterval": 0,
              "WebSocketPingInterval": 0, **(defaults or {})}
    ocpp_values = {"csms_url": csms_url, "call_timeout_s": 5.0, "reconnect_initial_s": 0.1,
                   "reconnect_max_s": 0.5, "replay_max_per_s": 1000.0, **(ocpp or {})}
    lines = ["[station]", f"id = {toml_value(station_id)}", 'vendor = "Borne"',
             'model = "IT-1"', "", "[ocpp]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in ocpp_values.items()]
    lines += ["", "[ocpp.defaults]"] + [f"{k} = {toml_value(v)}" for k, v in values.items()]
    lines += ["", "[board]", f"config = {toml_value(str(board_path))}", "", "[storage]",
              f"state_dir = {toml_value(str(state_dir or directory / 'state'))}", "",
              "[console]", f"device = {toml_value(console)}", "", extra]
    path = directory / "site.toml"
    path.write_text("\n".join(lines))
    return path
