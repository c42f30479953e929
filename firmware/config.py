"""Site configuration (TOML): load, validate every key, report every problem.

``load_site_config(path)`` returns a ``SiteConfig`` or raises ``ConfigError`` whose
``problems`` are all the problems found (not only the first), each printed by
``borne check-config`` as ``FILE: key: problem``. Unknown keys, wrong types, missing
files and impossible values are problems. The board config the site names is loaded
and validated too (``firmware.board``), its problems carrying the board file's name.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from firmware.core.configuration import definition
from firmware.errors import ConfigError, ConfigProblem
from firmware.payment_config import PAYMENT_OPTIONS
from hal.options import Option, optional, required, validate_table

_IDENTITY = re.compile(r"^[A-Za-z0-9._~:@!$&'()*+,;=-]{1,48}$")


def _identity(value: str) -> str | None:
    if not _IDENTITY.match(value):
        return "must be 1-48 URL-safe characters (letters, digits, - _ . ~ : and the like)"
    return None


def _csms_url(value: str) -> str | None:
    parsed = urlparse(value)
    if parsed.scheme not in ("ws", "wss") or not parsed.hostname:
        return "must be a ws:// or wss:// URL with a host"
    return None


PROTOCOLS = ("ocpp1.6", "ocpp2.0.1", "ocpp2.1")


def _protocols(value: Any) -> str | None:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        return f"must be one of {', '.join(PROTOCOLS)} or a non-empty list of them"
    unknown = [n for n in names if n not in PROTOCOLS]
    if unknown:
        return f"unknown OCPP version {unknown[0]!r}: use {', '.join(PROTOCOLS)}"
    if len(set(names)) != len(names):
        return "lists a version twice"
    return None


def preferred_protocols(ocpp: dict[str, Any]) -> tuple[str, ...]:
    """The ``[ocpp] protocol`` setting as versions in preference order."""
    value = ocpp.get("protocol", "ocpp1.6")
    return (value,) if isinstance(value, str) else tuple(value)


def _console_device(value: str) -> str | None:
    if value in ("stdio", "none") or value.startswith("/dev/") or value.startswith("pty:"):
        if value == "pty:":
            return "pty: needs a path, e.g. pty:/run/borne/console"
        return None
    return "must be 'stdio', 'none', a serial device such as /dev/ttyS0, or pty:PATH"


def _console_accounts(value: dict[str, Any]) -> str | None:
    from firmware.console.accounts import accounts_problems

    return "; ".join(accounts_problems(value)) or None


def _octal_mode(value: str) -> str | None:
    try:
        mode = int(value, 8)
    except ValueError:
        return "must be an octal mode such as 0660"
    return None if 0 <= mode <= 0o777 else "must be between 0000 and 0777"


STATION_OPTIONS = (
    required("id", str, "OCPP identity, appended to csms_url as the last path segment",
             check=_identity),
    optional("vendor", str, "Borne", "chargePointVendor (<= 20 characters)",
             check=lambda v: None if 0 < len(v) <= 20 else "must be 1-20 characters"),
    optional("model", str, "Borne-AC", "chargePointModel (<= 20 characters)",
             check=lambda v: None if 0 < len(v) <= 20 else "must be 1-20 characters"),
    optional("serial_number", str, "", "chargePointSerialNumber (<= 25 characters)",
             check=lambda v: None if len(v) <= 25 else "must be at most 25 characters"),
)

OCPP_OPTIONS = (
    required("csms_url", str, "ws:// or wss:// URL of the CSMS (identity is appended)",
             check=_csms_url),
    optional("protocol", object, "ocpp1.6",
             "OCPP version (\"ocpp1.6\", \"ocpp2.0.1\" or \"ocpp2.1\"), or a list of them in "
             "preference order, offered as websocket subprotocols: the agent speaks what the "
             "CSMS picks",
             check=_protocols),
    optional("call_timeout_s", float, 30.0, "how long to wait for a CALLRESULT, s",
             minimum=1, maximum=600),
    optional("reconnect_initial_s", float, 1.0, "first reconnect delay, s", minimum=0.1,
             maximum=600),
    optional("reconnect_max_s", float, 60.0, "reconnect delay cap, s", minimum=0.1,
             maximum=3600),
    optional("replay_max_per_s", float, 50.0,
             "queued transaction messages sent per second after a reconnect", minimum=0.1),
    optional("ca_file", str, "", "CA bundle for wss:// (default: the system's)"),
    optional("outbox_budget_mb", float, 50.0,
             "disk the queued transaction messages may take, MB (10^6 bytes); beyond it "
             "the agent alarms in the log and the console, but never drops them",
             minimum=0.001, maximum=100000),
    optional("upload_timeout_s", float, 120.0,
             "one attempt of a GetLog / GetDiagnostics upload (connect, send, answer), s",
             minimum=0.1, maximum=3600),
    optional("unanswered_calls_max", int, 2,
             "CALLs in a row without any answer before the link is closed and redialled "
             "as half-open; 0 = never", minimum=0, maximum=1000),
)

BOARD_OPTIONS = (required("config", str, "path of the board config TOML"),)
STORAGE_OPTIONS = (required("state_dir", str, "directory of the agent's database"),)
CONSOLE_OPTIONS = (
    optional("device", str, "stdio", "stdio, none, a serial device, or pty:PATH",
             check=_console_device),
    optional("baudrate", int, 115200, "serial console speed", minimum=300, maximum=4000000),
    optional("login", str, "accounts", "accounts: log in with [console.accounts]; none: "
             "anyone on the port is admin (refused on a serial device without accounts "
             "unless said explicitly)", choices=("accounts", "none")),
    optional("accounts", dict, {}, "NAME = {role, password_hash}, written by `borne passwd`",
             check=_console_accounts),
    optional("idle_logout_s", float, 900.0, "log out after this long without a keystroke, s",
             minimum=10, maximum=86400),
    optional("page_lines", int, 24, "page replies longer than this on a terminal (0 = never)",
             minimum=0, maximum=1000),
    optional("group", str, "dialout", "group of the pty:PATH device (empty = keep)"),
    optional("mode", str, "0660", "permissions of the pty:PATH device, octal",
             check=_octal_mode),
)
LOG_OPTIONS = (
    optional("level", str, "INFO", "log level", choices=("DEBUG", "INFO", "WARNING", "ERROR")),
)
AUTH_OPTIONS = (
    optional("cache_capacity", int, 10000, "authorization cache entries (LRU)", minimum=0,
             maximum=10_000_000),
    optional("negative_cache_window_s", float, 60.0,
             "a refused card tapped again within this time is refused without asking",
             minimum=0, maximum=86400),
)

def _install_command(value: list[Any]) -> str | None:
    if value and not all(isinstance(v, str) and v for v in value):
        return "must be a list of non-empty strings: the program and its arguments"
    return None


FIRMWARE_OPTIONS = (
    optional("allow_unsigned", bool, False,
             "accept the plain OCPP 1.6 UpdateFirmware (no signature). false: it is "
             "answered CALLERROR NotSupported, as the security whitepaper requires "
             "(L01.FR.20); only signed updates (SignedUpdateFirmware, 2.0.1 "
             "UpdateFirmware) are installed"),
    optional("install_command", list, [],
             "the installer: program and arguments; the image's path is appended. Exit 0 = "
             "installed (the agent then restarts), anything else = InstallationFailed. "
             "Empty: every update is refused", check=_install_command),
    optional("install_timeout_s", float, 600.0, "the installer is killed after this, s",
             minimum=1, maximum=86400),
    optional("manufacturer_roots", str, "",
             "a directory of *.pem ManufacturerRootCertificates that firmware signing "
             "certificates must chain to, besides <state_dir>/certs/manufacturer/"),
    optional("version_file", str, "",
             "a file whose first line is the firmware version reported in BootNotification "
             "(an image updater writes it); empty: borne-<package version>"),
    optional("max_image_mb", float, 200.0, "largest image downloaded, MB (10^6 bytes)",
             minimum=0.001, maximum=100000),
    optional("download_timeout_s", float, 900.0, "one download attempt's limit, s",
             minimum=1, maximum=86400),
    optional("stall_timeout_s", float, 60.0,
             "a download with no byte received for this long fails, s", minimum=0.1,
             maximum=3600),
    optional("default_retries", int, 2,
             "download attempts after the first when the CSMS gives no retries",
             minimum=0, maximum=100),
    optional("default_retry_interval_s", float, 60.0,
             "between download attempts when the CSMS gives no retryInterval, s",
             minimum=0, maximum=86400),
)

SECTIONS: dict[str, tuple[Option, ...]] = {
    "station": STATION_OPTIONS, "ocpp": OCPP_OPTIONS, "board": BOARD_OPTIONS,
    "storage": STORAGE_OPTIONS, "console": CONSOLE_OPTIONS, "log": LOG_OPTIONS,
    "auth": AUTH_OPTIONS, "payment": PAYMENT_OPTIONS, "firmware": FIRMWARE_OPTIONS,
}
OPTIONAL_SECTIONS = {"console", "log", "auth", "payment", "firmware"}


@dataclass
class SiteConfig:
    path: Path
    station: dict[str, Any]
    ocpp: dict[str, Any]
    ocpp_defaults: dict[str, str]
    board_path: Path
    state_dir: Path
    console: dict[str, Any]
    log: dict[str, Any]
    auth: dict[str, Any]
    board: Any = field(default=None)  # firmware.board.BoardConfig
    payment: dict[str, Any] = field(default_factory=dict)  # [payment] (firmware.payment_config)
    firmware: dict[str, Any] = field(default_factory=dict)  # [firmware]: updates


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; ConfigError naming the file and the line when it cannot."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError([ConfigProblem(str(path), "(file)", "file not found")]) from None
    except OSError as e:
        raise ConfigError([ConfigProblem(str(path), "(file)", e.strerror or str(e))]) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([ConfigProblem(str(path), "(syntax)", str(e))]) from None
    except UnicodeDecodeError as e:
        raise ConfigError([ConfigProblem(str(path), "(file)",
                                         f"not UTF-8 text (byte {e.start})")]) from None
    except RecursionError:
        raise ConfigError([ConfigProblem(str(path), "(syntax)",
                                         "nested too deeply to be a configuration")]) from None
    except ValueError as e:  # e.g. an integer of more than 4,300 digits
        raise ConfigError([ConfigProblem(str(path), "(syntax)", str(e)[:120])]) from None


def _defaults(table: Any, problems: list[ConfigProblem], path: str) -> dict[str, str]:
    """[ocpp.defaults]: first-boot values of OCPP keys, validated like ChangeConfiguration."""
    out: dict[str, str] = {}
    if not isinstance(table, dict):
        problems.append(ConfigProblem(path, "ocpp.defaults", "must be a table"))
        return out
    for key, value in table.items():
        where = f"ocpp.defaults.{key}"
        d = definition(key)
        if d is None:
            problems.append(ConfigProblem(path, where, "unknown OCPP configuration key"))
            continue
        if key == "NumberOfConnectors":
            problems.append(ConfigProblem(path, where, "derived from the board config; remove it"))
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (int, str)):
            text = str(value)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            text = ",".join(value)
        else:
            problems.append(ConfigProblem(path, where, f"unsupported value {value!r}"))
            continue
        problem = d.problem(text)
        if problem:
            problems.append(ConfigProblem(path, where, problem))
            continue
        out[d.name] = text
    return out


def resolve_relative(path_text: str, base: Path) -> Path:
    """A relative path: against ``base`` (the site file's folder) first, then the cwd."""
    candidate = Path(path_text).expanduser()
    if candidate.is_absolute():
        return candidate
    beside = base / candidate
    if beside.exists() or not candidate.exists():
        return beside
    return candidate.resolve()


def load_site_config(path: str | Path, *, with_board: bool = True) -> SiteConfig:
    path = Path(path)
    data = read_toml(path)
    problems: list[ConfigProblem] = []
    name = str(path)
    values: dict[str, dict[str, Any]] = {}
    for key in data:
        if key not in SECTIONS:
            problems.append(ConfigProblem(name, key, "unknown section"))
    for section, options in SECTIONS.items():
        if section not in data:
            if section in OPTIONAL_SECTIONS:
                values[section], found = validate_table({}, options, section)
            else:
                problems.append(ConfigProblem(name, section, "missing section"))
                values[section] = {}
                continue
        else:
            ignore = ("defaults",) if section == "ocpp" else ()
            values[section], found = validate_table(data[section], options, section, ignore)
        problems.extend(ConfigProblem(name, p.key, p.message) for p in found)
    ocpp_table = data.get("ocpp") if isinstance(data.get("ocpp"), dict) else {}
    ocpp_defaults = _defaults(ocpp_table.get("defaults", {}), problems, name)
    base = path.resolve().parent
    board_path = resolve_relative(values["board"].get("config", ""), base) \
        if values["board"].get("config") else Path()
    state_dir = resolve_relative(values["storage"].get("state_dir", ""), base) \
        if values["storage"].get("state_dir") else Path()
    for key in ("manufacturer_roots", "version_file"):  # beside the site file, like board
        if values["firmware"].get(key):
            values["firmware"][key] = str(resolve_relative(values["firmware"][key], base))
    console = values["console"]
    if (str(console.get("device", "")).startswith("/dev/") and not console.get("accounts")
            and console.get("login") != "none"):
        problems.append(ConfigProblem(name, "console.accounts", "a console on a serial device "
                                      "needs accounts (`borne passwd`) or login = \"none\""))
    site = SiteConfig(path, values["station"], values["ocpp"], ocpp_defaults, board_path,
                      state_dir, values["console"], values["log"], values["auth"],
                      payment=values["payment"], firmware=values["firmware"])
    if with_board and values["board"].get("config"):
        from firmware.board import load_board_config

        try:
            site.board = load_board_config(board_path)
        except ConfigError as e:
            problems.extend(e.problems)
    if not problems:
        from firmware.board_checks import site_problems

        problems.extend(site_problems(site))
    if problems:
        raise ConfigError(problems)
    return site


def firmware_settings(site: SiteConfig) -> dict[str, Any]:
    """``[firmware]`` with every default filled in (a SiteConfig built by hand in a
    test may leave it empty)."""
    values, _ = validate_table(site.firmware or {}, FIRMWARE_OPTIONS, "firmware")
    return values
