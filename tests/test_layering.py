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


# OCPP actions of 1.6 and 2.0.1 whose names would betray a protocol in the core (issue 9
# item 1). "Reset" is left out: a reset is a concept, and both versions' adapters map it.
OCPP_ACTIONS = (
    "Authorize", "BootNotification", "CancelReservation", "ChangeAvailability",
    "ChangeConfiguration", "ClearCache", "ClearChargingProfile", "DataTransfer",
    "DiagnosticsStatusNotification", "FirmwareStatusNotification", "GetCompositeSchedule",
    "GetConfiguration", "GetDiagnostics", "GetLocalListVersion", "Heartbeat", "MeterValues",
    "RemoteStartTransaction", "RemoteStopTransaction", "ReserveNow", "SendLocalList",
    "SetChargingProfile", "StartTransaction", "StatusNotification", "StopTransaction",
    "TriggerMessage", "UnlockConnector", "UpdateFirmware",
    "TransactionEvent", "RequestStartTransaction", "RequestStopTransaction", "GetVariables",
    "SetVariables", "GetBaseReport", "NotifyReport", "NotifyEvent", "ClearedChargingLimit",
    "ReportChargingProfiles", "GetChargingProfiles", "SecurityEventNotification",
)


def ocpp_named_identifiers(path: Path) -> list[str]:
    """Class, function, attribute and variable names (not strings or comments) that
    contain an OCPP action name."""
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
    return sorted(f"{path.relative_to(REPO)}: {name}" for name in names
                  if any(action in name for action in OCPP_ACTIONS))


def test_the_core_names_no_ocpp_message():
    """The core emits facts (a transaction started, a token presented); one adapter per
    OCPP version turns them into messages."""
    core = sorted((REPO / "firmware" / "core").rglob("*.py"))
    assert [bad for path in core for bad in ocpp_named_identifiers(path)] == []
