"""Register maps: decoding, planning and validation (sans-I/O)."""

from __future__ import annotations

import math
import struct

import pytest

from drivers.meter import regmap
from drivers.meter.regmap import ImplausibleValue, Register, RegisterMap


def f32(value: float) -> list[int]:
    hi, lo = struct.unpack(">HH", struct.pack(">f", value))
    return [hi, lo]


def test_float32_from_datasheet_reply():
    # reply 01 04 04 43 66 33 34 ... -> 0x43663334 = 230.2 V (hardware.md §2.1)
    sdm = regmap.load_builtin("sdm630")
    reg = Register("voltage_l1_v", 0, "float32")
    assert sdm.decode_value(reg, [0x4366, 0x3334]) == pytest.approx(230.2, abs=1e-4)


def test_word_order_little_swaps_words_not_bytes():
    m = RegisterMap("x", 4, "little", (Register("power_w", 0, "int32"),))
    assert m.decode_value(m.registers[0], [0x0002, 0x0001]) == 0x00010002


def test_abb_scaled_integers_and_not_available():
    abb = regmap.load_builtin("abb_b23")
    regs = {r.quantity: r for r in abb.registers}
    assert abb.decode_value(regs["energy_import_kwh"], [0, 0, 0x0001, 0x86A0]) == pytest.approx(1000.0)
    assert abb.decode_value(regs["voltage_l1_v"], [0, 2301]) == pytest.approx(230.1)
    assert abb.decode_value(regs["power_w"], [0xFFFF, 0xFF9C]) == pytest.approx(-1.0)
    assert abb.decode_value(regs["frequency_hz"], [5000]) == pytest.approx(50.0)
    assert abb.decode_value(regs["current_l1_a"], [0xFFFF, 0xFFFF]) is None   # unsigned all-FF
    assert abb.decode_value(regs["power_w"], [0x7FFF, 0xFFFF]) is None        # signed max
    nan = RegisterMap("x", 4, "big", (Register("power_w", 0, "float32"),))
    assert nan.decode_value(nan.registers[0], f32(math.nan)) is None
    with pytest.raises(ImplausibleValue):
        nan.decode_value(nan.registers[0], f32(math.inf))


def test_plans_group_contiguous_registers_only_as_the_map_allows():
    assert [(b.address, b.count) for b in regmap.load_builtin("sdm630").plan()] == [
        (0x00, 12), (0x34, 2), (0x46, 4)]
    assert [(b.address, b.count) for b in regmap.load_builtin("abb_b23").plan()] == [
        (0x5000, 4), (0x5B00, 6), (0x5B0C, 6), (0x5B14, 2), (0x5B2C, 1)]
    data = {"max_gap_registers": 0x46, "max_registers_per_read": 80,
            "registers": {"voltage_l1_v": {"address": 0, "type": "float32"},
                          "energy_import_kwh": {"address": 0x48, "type": "float32"}}}
    assert [(b.address, b.count) for b in regmap.map_from_table(data).plan()] == [(0, 0x4A)]
    data["max_registers_per_read"] = 40
    assert len(regmap.map_from_table(data).plan()) == 2


def test_plausibility_converts_kwh_and_rejects_nonsense():
    out = regmap.check_plausible({"energy_import_kwh": 1.5, "voltage_l1_v": 230.0})
    assert out == {"energy_wh": 1500.0, "voltage_l1_v": 230.0}
    for bad in ({"energy_import_kwh": -1.0}, {"energy_import_kwh": None},
                {"energy_import_wh": 1.0, "voltage_l2_v": 5000.0},
                {"energy_import_wh": 1.0, "frequency_hz": 400.0},
                {"energy_import_wh": 1.0, "power_factor": 1.5},
                {"energy_import_wh": 1.0, "current_l3_a": 1e6}):
        with pytest.raises(ImplausibleValue):
            regmap.check_plausible(bad)


def test_decode_rejects_short_blocks():
    sdm = regmap.load_builtin("sdm120")
    block = sdm.plan()[0]
    with pytest.raises(ImplausibleValue):
        sdm.decode([(block, [0x4366])])


@pytest.mark.parametrize("data,needle", [
    ({"registers": {}}, "registers: missing or empty"),
    ({"registers": {"voltage_l1_v": {"address": 0, "type": "float32"}}}, "exactly one"),
    ({"registers": {"energy_import_kwh": {"address": 0, "type": "float16"}}}, "type"),
    ({"registers": {"energy_import_kwh": {"address": 70000, "type": "float32"}}}, "address"),
    ({"registers": {"energy_kwh": {"address": 0, "type": "float32"}}}, "unknown quantity"),
    ({"function": 5, "registers": {"energy_import_kwh": {"address": 0, "type": "float32"}}},
     "function"),
    ({"registers": {"energy_import_kwh": {"address": 0, "type": "float32"},
                    "power_w": {"address": 1, "type": "float32"}}}, "overlap"),
    ({"registers": {"energy_import_kwh": {"address": 0, "type": "float32", "scale": 0}}}, "scale"),
    ({"colour": "red", "registers": {"energy_import_kwh": {"address": 0, "type": "float32"}}},
     "colour: unknown key"),
])
def test_map_problems(data, needle):
    problems = regmap.map_problems(data)
    assert any(needle in p for p in problems), problems
    with pytest.raises(regmap.MapError):
        regmap.map_from_table(data)


def test_builtin_maps_are_valid_and_packaged():
    assert regmap.builtin_ids() == ["abb_b23", "sdm120", "sdm630", "sdm72dm_v2"]
    defaults = {m: regmap.load_builtin(m).defaults for m in regmap.builtin_ids()}
    assert defaults["sdm120"]["baudrate"] == 2400
    assert defaults["sdm630"] == {"baudrate": 9600, "parity": "N", "stopbits": 1, "bytesize": 8,
                                  "device_id": 1}
    assert regmap.load_builtin("abb_b23").function == 3
    assert regmap.load_builtin("sdm630").function == 4
