"""House rule 1: firmware/core is sans-I/O, and dependencies point hal ← drivers ← firmware."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

FORBIDDEN_IN_CORE = {"asyncio", "ocpp", "websockets", "serial", "pymodbus", "gpiod", "RPi",
                     "sqlite3", "socket", "time", "threading", "subprocess", "select", "os",
                     "firmware.ocpp", "firmware.runtime", "firmware.store", "firmware.auth",
                     "drivers"}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def offending(paths, forbidden):
    bad = []
    for path in paths:
        for name in imports(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(REPO)} imports {name}")
    return bad


def test_core_imports_no_io_library_and_reads_no_clock():
    core = sorted((REPO / "firmware" / "core").rglob("*.py"))
    assert core, "firmware/core is empty?"
    assert offending(core, FORBIDDEN_IN_CORE) == []


def test_hal_does_not_import_drivers_or_firmware():
    hal = sorted((REPO / "hal").rglob("*.py"))
    assert offending(hal, {"drivers", "firmware"}) == []


def test_drivers_do_not_import_firmware():
    drivers = sorted((REPO / "drivers").rglob("*.py"))
    assert offending(drivers, {"firmware"}) == []


def test_only_firmware_ocpp_imports_ocpp_and_websockets():
    firmware = [p for p in sorted((REPO / "firmware").rglob("*.py"))
                if "ocpp" not in p.relative_to(REPO / "firmware").parts[:1]]
    assert offending(firmware, {"ocpp", "websockets"}) == []
