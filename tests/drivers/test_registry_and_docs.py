"""Every real-hardware driver is registered, documented in board_configs/README.md
exactly as the code declares it, and the shipped Pi board configs validate."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers import docs, registry
from hal import interfaces

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {
    ("pilot", "openevse"), ("contactor", "openevse"), ("meter", "openevse"),
    ("contactor", "gpio"), ("lock", "gpio"), ("indicator", "gpio_rgb"),
    ("meter", "sdm630"), ("meter", "sdm120"), ("meter", "sdm72dm_v2"), ("meter", "abb_b23"),
    ("meter", "modbus"),
    ("rfid", "pn532"), ("rfid", "rdm6300"), ("rfid", "wiegand"), ("rfid", "line"),
    ("payment", "zvt"), ("payment", "zvt_tcp"),
}
PROTOCOLS = {"pilot": interfaces.ControlPilot, "contactor": interfaces.Contactor,
             "meter": interfaces.EnergyMeter, "rfid": interfaces.RfidReader,
             "lock": interfaces.ConnectorLock, "indicator": interfaces.Indicator,
             "payment": interfaces.PaymentTerminal}
MINIMAL = {"port": "/dev/ttyUSB0", "coil_pin": 17, "feedback_pin": 27, "d0_pin": 5, "d1_pin": 6,
           "lock_pin": 22, "red_pin": 5, "green_pin": 6, "blue_pin": 13,
           "baudrate": 9600, "device_id": 1, "host": "192.0.2.10",
           "register_map": {"registers": {"energy_import_kwh": {"address": 0x48,
                                                                "type": "float32"}}}}


def test_builtin_modules_register_every_driver():
    for module in ("drivers.contactor", "drivers.lock", "drivers.indicator", "drivers.meter",
                   "drivers.pilot", "drivers.rfid", "drivers.payment"):
        assert module in registry.BUILTIN_DRIVER_MODULES
    found = {(s.role, s.name) for s in docs.hardware_specs()}
    assert EXPECTED <= found


@pytest.mark.parametrize("role,name", sorted(EXPECTED))
def test_specs_build_devices_of_their_role(role, name):
    from hal.gpio.sim import SimGpioFactory
    from hal.options import validate_table

    spec = registry.lookup(role, name)
    assert spec is not None and spec.doc
    table = {o.name: MINIMAL[o.name] for o in spec.options if o.required}
    values, problems = validate_table(table, spec.options, f"{role}")
    assert not problems, problems
    device = spec.build(registry.BuildContext(name=f"test {role}", gpio=SimGpioFactory()), values)
    assert isinstance(device, PROTOCOLS[role])
    assert device.info().role == role
    for option in spec.options:
        assert option.doc, f"{name}.{option.name} has no doc"
        if option.kind is float and option.name != "stopbits":
            assert option.name.endswith(("_s", "_a", "_v", "_w", "_wh", "_hz")), option.name


def test_readme_reference_matches_the_code():
    text = (ROOT / "board_configs" / "README.md").read_text("utf-8")
    assert docs.ANCHOR in text
    section = docs.current_section(text)
    assert section is not None, "run: python -m drivers.docs --write"
    assert text.index(docs.ANCHOR) < text.index(docs.BEGIN), "the reference belongs below the marker"
    assert section == docs.render(), "README out of date: run python -m drivers.docs --write"
    assert docs.updated_readme(text) == text      # regenerating is a no-op


def test_readme_lists_every_option_of_every_driver():
    section = docs.render()
    for spec in docs.hardware_specs():
        assert f'`driver = "{spec.name}"`' in section
        for option in spec.options:
            assert f"| `{option.name}` |" in section


@pytest.mark.parametrize("board, count", [("pi4-openevse-sdm630-pn532.toml", 4),
                                          ("pi5-relay-sdm120-rdm6300.toml", 6),
                                          ("pi5-pico-mcu-sdm630-pn532.toml", 4)])
def test_pi_board_configs_validate_and_build(board, count):
    board_mod = pytest.importorskip("firmware.board")
    config = board_mod.load_board_config(ROOT / "board_configs" / board)
    built = board_mod.build_board(config)
    assert not config.uses_sim
    devices = built.all_devices()
    assert len(devices) == count
    for device in devices:
        info = device.info()
        assert isinstance(device, PROTOCOLS[info.role])


def test_the_lazy_index_names_exactly_what_the_modules_register():
    registered = {(s.role, s.name): s.build.__module__ for s in registry.all_specs()}
    assert set(registry.BUILTIN_DRIVERS) == set(registered)
    for key, package in registry.BUILTIN_DRIVERS.items():
        assert registered[key].startswith(package), (key, package, registered[key])
