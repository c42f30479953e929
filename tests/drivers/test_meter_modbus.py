"""Modbus meters over real ptys: pymodbus's own server (SimDevice) as the meter, raw
RTU frames from hardware.md, and silent / misbehaving peers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct

import pytest
from pymodbus.server import ModbusSerialServer
from pymodbus.simulator import DataType, SimData, SimDevice

from drivers.meter.modbus_meter import CUSTOM_SPEC, specs
from drivers.registry import BuildContext
from hal.errors import DeviceOpenError, MeterUnavailable
from hal.interfaces import EnergyMeter, MeterReading
from hal.options import validate_table

SPECS = {s.name: s for s in specs()}
H = bytes.fromhex


@pytest.fixture(autouse=True)
def quiet_pymodbus(caplog):
    caplog.set_level(logging.CRITICAL, logger="pymodbus")


def crc16_modbus(frame: bytes) -> bytes:
    crc = 0xFFFF
    for byte in frame:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc.to_bytes(2, "little")


def test_crc_helper_matches_datasheet_frames():
    assert crc16_modbus(H("010400000002")) == H("71CB")
    assert crc16_modbus(H("01040443663334")) == H("1B38")


def build(spec, path, ctx=None, **kw):
    options = {"port": path, "timeout_s": 0.3, "retries": 0}
    options.update(kw)
    values, problems = validate_table(options, spec.options, "connector[1].meter")
    assert not problems, problems
    return spec.build(ctx or BuildContext(name="connector 1 meter", connector_id=1), values)


@contextlib.asynccontextmanager
async def modbus_server(path, devices, **serial):
    server = ModbusSerialServer(context=devices, port=path, ignore_missing_devices=True,
                                **serial)
    await server.serve_forever(background=True)
    try:
        yield server
    finally:
        await server.shutdown()


def sdm630_device(device_id=1, energy_kwh=1234.5, voltages=(230.1, 231.2, 229.9),
                  action=None):
    return SimDevice(id=device_id, action=action, simdata=[
        SimData(address=0x0000, values=list(voltages), datatype=DataType.FLOAT32),
        SimData(address=0x0006, values=[10.0, 10.5, 9.5], datatype=DataType.FLOAT32),
        SimData(address=0x0034, values=6900.0, datatype=DataType.FLOAT32),
        SimData(address=0x0046, values=50.0, datatype=DataType.FLOAT32),
        SimData(address=0x0048, values=energy_kwh, datatype=DataType.FLOAT32)])


async def test_sdm630_one_consistent_reading(linked_ptys):
    meter = build(SPECS["sdm630"], linked_ptys.path_b)
    assert isinstance(meter, EnergyMeter)
    async with modbus_server(linked_ptys.path_a, [sdm630_device()], baudrate=9600):
        await meter.open()
        reading = await meter.read()
        await meter.close()
    assert isinstance(reading, MeterReading)
    assert reading.energy_wh == pytest.approx(1234500.0)
    assert reading.voltage_v == pytest.approx((230.1, 231.2, 229.9))
    assert reading.current_a == pytest.approx((10.0, 10.5, 9.5))
    assert reading.power_w == pytest.approx(6900.0)
    assert reading.frequency_hz == pytest.approx(50.0)
    assert meter.info().details["requests_per_read"] == "3"


async def test_sdm120_defaults_to_2400_baud_single_phase(linked_ptys):
    meter = build(SPECS["sdm120"], linked_ptys.path_b)
    assert meter.bus.settings.baudrate == 2400
    dev = SimDevice(id=1, simdata=[
        SimData(address=0x0000, values=229.5, datatype=DataType.FLOAT32),
        SimData(address=0x0006, values=15.5, datatype=DataType.FLOAT32),
        SimData(address=0x000C, values=3557.0, datatype=DataType.FLOAT32),
        SimData(address=0x0046, values=49.9, datatype=DataType.FLOAT32),
        SimData(address=0x0048, values=12.25, datatype=DataType.FLOAT32)])
    async with modbus_server(linked_ptys.path_a, [dev], baudrate=2400):
        await meter.open()
        reading = await meter.read()
        await meter.close()
    assert reading.energy_wh == pytest.approx(12250.0)
    assert reading.voltage_v == pytest.approx((229.5,)) and len(reading.current_a) == 1


async def test_abb_b23_holding_registers_scaled_and_not_available(linked_ptys):
    meter = build(SPECS["abb_b23"], linked_ptys.path_b)
    def regs(address, *words):
        return SimData(address=address, values=list(words), datatype=DataType.REGISTERS)

    dev = SimDevice(id=1, simdata=[
        regs(0x5000, 0, 0, 0x0001, 0x86A0),
        regs(0x5B00, 0, 2301, 0, 2312, 0, 2299),
        regs(0x5B0C, 0, 1600, 0xFFFF, 0xFFFF, 0, 1550),     # L2 current "not available"
        regs(0x5B14, 0x0001, 0x0D40),
        regs(0x5B2C, 5001)])
    async with modbus_server(linked_ptys.path_a, [dev], baudrate=9600):
        await meter.open()
        reading = await meter.read()
        await meter.close()
    assert reading.energy_wh == pytest.approx(1_000_000.0)          # 100000 × 0.01 kWh
    assert reading.voltage_v == pytest.approx((230.1, 231.2, 229.9))
    assert reading.current_a[0] == pytest.approx(16.0) and reading.current_a[1] is None
    assert reading.power_w == pytest.approx(0x10D40 * 0.01)
    assert reading.frequency_hz == pytest.approx(50.01)


async def test_two_meters_share_one_bus(linked_ptys):
    ctx1 = BuildContext(name="c1 meter", connector_id=1)
    ctx2 = BuildContext(name="c2 meter", connector_id=2, shared=ctx1.shared)
    m1 = build(SPECS["sdm630"], linked_ptys.path_b, ctx1, device_id=1)
    m2 = build(SPECS["sdm630"], linked_ptys.path_b, ctx2, device_id=2)
    assert m1.bus is m2.bus
    other = build(SPECS["sdm630"], linked_ptys.path_b, BuildContext(name="x", shared=ctx1.shared),
                  baudrate=19200)
    with pytest.raises(DeviceOpenError, match="same baudrate"):
        await other.open()
    devices = [sdm630_device(1, energy_kwh=1.0), sdm630_device(2, energy_kwh=2.0)]
    async with modbus_server(linked_ptys.path_a, devices, baudrate=9600):
        await m1.open()
        await m2.open()
        r1, r2 = await asyncio.gather(m1.read(), m2.read())
        await m1.close()
        assert (await m2.read()).energy_wh == pytest.approx(2000.0)   # bus still open for m2
        await m2.close()
    assert (r1.energy_wh, r2.energy_wh) == (pytest.approx(1000.0), pytest.approx(2000.0))


# -- bad peers first class ------------------------------------------------------------
async def test_silent_peer_then_recovery(linked_ptys):
    meter = build(SPECS["sdm630"], linked_ptys.path_b)
    async with modbus_server(linked_ptys.path_a, [sdm630_device()], baudrate=9600):
        await meter.open()
        linked_ptys.cut = True
        with pytest.raises(MeterUnavailable, match="no valid answer"):
            await meter.read()
        assert "no valid answer" in meter.info().last_error
        linked_ptys.cut = False
        assert (await meter.read()).energy_wh == pytest.approx(1234500.0)
        assert meter.info().last_error == ""
        await meter.close()


async def test_wrong_device_id_is_unavailable(linked_ptys):
    meter = build(SPECS["sdm630"], linked_ptys.path_b, device_id=7)
    async with modbus_server(linked_ptys.path_a, [sdm630_device(1)], baudrate=9600):
        await meter.open()
        with pytest.raises(MeterUnavailable):
            await meter.read()
        await meter.close()


async def test_implausible_and_backwards_readings_are_refused(linked_ptys):
    state = {"energy": None, "voltage": None}

    async def action(function_code, start_address, address, count, registers, set_values):
        # ``registers`` is the device's whole register array, starting at start_address
        for key, at in (("energy", 0x0048), ("voltage", 0x0000)):
            if state[key] is not None:
                i = at - start_address
                registers[i:i + 2] = struct.unpack(">HH", struct.pack(">f", state[key]))
        return None

    meter = build(SPECS["sdm630"], linked_ptys.path_b)
    async with modbus_server(linked_ptys.path_a, [sdm630_device(action=action)], baudrate=9600):
        await meter.open()
        first = await meter.read()
        state["voltage"] = 5000.0
        with pytest.raises(MeterUnavailable, match="voltage_l1_v"):
            await meter.read()
        state["voltage"] = float("nan")                  # "not available" voltage is fine
        assert (await meter.read()).voltage_v[0] is None
        state["energy"] = 1000.0                         # was 1234.5 kWh
        with pytest.raises(MeterUnavailable, match="backwards"):
            await meter.read()
        state["energy"] = float("nan")
        with pytest.raises(MeterUnavailable, match="not available"):
            await meter.read()
        await meter.close()
    assert first.energy_wh == pytest.approx(1234500.0)


async def test_raw_rtu_frames_from_the_datasheet(peer):
    """The request on the wire is exactly 01 04 00 00 00 02 71 CB; the datasheet reply
    decodes to 230.2; a reply with a bad CRC or an exception is unavailable."""
    register_map = {"registers": {"energy_import_kwh": {"address": 0, "type": "float32"}}}
    meter = build(CUSTOM_SPEC, peer.path, baudrate=9600, device_id=1, register_map=register_map)
    await meter.open()
    replies = [H("010404436633341B38"), H("010404436633341B39"),
               H("018402") + crc16_modbus(H("018402")), b""]
    results = []

    async def meter_peer():
        for reply in replies:
            assert await peer.read_exactly(8) == H("01040000000271CB")
            peer.write(reply)

    async with asyncio.TaskGroup() as tg:
        tg.create_task(meter_peer())
        for _ in replies:
            try:
                results.append((await meter.read()).energy_wh)
            except MeterUnavailable as exc:
                results.append(str(exc))
    await meter.close()
    assert results[0] == pytest.approx(230200.0, abs=0.1)
    assert "no valid answer" in results[1]               # CRC error
    assert "exception 2" in results[2]                   # illegal data address
    assert "no valid answer" in results[3]               # silence


async def test_missing_port_is_an_open_error():
    meter = build(SPECS["sdm630"], "/dev/ttyUSB-nonexistent")
    with pytest.raises(DeviceOpenError, match="/dev/ttyUSB-nonexistent.*does not exist"):
        await meter.open()
    await meter.close()
    with pytest.raises(MeterUnavailable, match="not open"):
        await meter.read()


def test_custom_driver_options():
    _, problems = validate_table({"port": "/dev/ttyUSB0", "device_id": 1,
                                  "register_map": {"registers": {}}}, CUSTOM_SPEC.options, "m")
    keys = {p.key for p in problems}
    assert keys == {"m.baudrate", "m.register_map"}
    _, problems = validate_table({"port": "/dev/ttyUSB0", "baudrate": 9600, "register_map": {
        "serial": {"baudrate": 9600},
        "registers": {"energy_import_wh": {"address": 0, "type": "uint32"}}}},
        CUSTOM_SPEC.options, "m")
    assert [p.key for p in problems] == ["m.register_map"]
