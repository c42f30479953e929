"""Technician diagnostics for real boards (they work on simulated boards too).

| command | what it does |
|---|---|
| `hw` | the board (name, config file, GPIO backend), then one line per device: role, name, backend, port, state, last error with its time and recovery, key details |
| `test rfid [SECONDS]` | waits for the next card on any reader and prints its raw form, its canonical idTag and what `auth lookup` says; the card does not reach the station (no session starts) |
| `test meter [N]` | reads connector N's meter once (default 1) and prints every value with its unit |
| `test contactor N` | closes then opens connector N's contactor, checking the feedback each time, and prints the switching times |

`test contactor N` is refused (ERROR) while a vehicle is plugged in (pilot not A), a
transaction runs or an authorization is pending on the connector, and on contactors
the agent cannot switch without a vehicle (an OpenEVSE controller's own relay). A
failure is reported like a run-time fault (``ContactorFailed``: the connector goes
Faulted, StatusNotification PowerSwitchFailure with the vendor error code); a pass
clears a contactor fault, including a latched "did not pull in" (see
``firmware.hardware``). The contactor really closes: the socket is live meanwhile.

`hw` shows each device's ``state`` (``ok``; ``retrying``: failing, and its owner tries
again by itself; ``failed``: the last command failed and waits for the next one), its
``last_error`` as its owner caught it with ``error_at`` (agent clock, UTC, and how long
ago), while failing ``failing_since`` and ``failures``, and once back ``recovered_at``
(``firmware.device_health``). The last error stays visible after the recovery.

Durations printed are measured on the monotonic clock, for the technician's eyes only.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from firmware.device_health import DeviceHealth, error_text
from firmware.logs import mask_id_tag
from firmware.readers import DiversionBusy, next_card
from hal.errors import ContactorFault, HalError
from hal.interfaces import DeviceInfo, MeterReading, PilotState

from .console import Console, ConsoleError, age, need_args, parse_int, stamp

TEST_RFID_DEFAULT_S = 30
TEST_RFID_MAX_S = 600
TEST_METER_TIMEOUT_S = 30.0     # a read is bounded by the driver's own timeouts; this is a backstop
TEST_CONTACTOR_TIMEOUT_S = 120.0


def _quote(value: str) -> str:
    """One token of a ``hw`` line: "-" when empty, double-quoted when it has spaces
    (newlines collapsed, inner double quotes made single: one device, one line)."""
    value = " ".join(value.split()).replace('"', "'") or "-"
    return f'"{value}"' if " " in value else value


def _when(at_s: float, now_s: float) -> str:
    return f"{stamp(at_s)} ({age(now_s - at_s)} ago)"


def health_fields(health: DeviceHealth | None, now_s: float) -> dict[str, str]:
    """``state``, ``last_error`` and the times of one device's health record: the error's
    (``error_at``), the start of the current failure episode when it is older
    (``failing_since``) and the consecutive ``failures``, or once the device is back,
    its ``recovered_at``."""
    if health is None:
        return {"state": "ok", "last_error": ""}
    fields = {"state": health.state, "last_error": health.last_error}
    if health.last_error_at_s is not None:
        fields["error_at"] = _when(health.last_error_at_s, now_s)
    if health.failing:
        if health.failing_since_s is not None and \
                health.failing_since_s != health.last_error_at_s:
            fields["failing_since"] = _when(health.failing_since_s, now_s)
        fields["failures"] = str(health.failures)
    elif health.recovered_at_s is not None:
        fields["recovered_at"] = _when(health.recovered_at_s, now_s)
    return fields


def device_line(info: DeviceInfo, extra: dict[str, str] | None = None, *,
                health: DeviceHealth | None = None, now_s: float | None = None) -> str:
    """``meter "connector 1 meter": backend=modbus-sdm630 port="/dev/ttyUSB0 9600 8N1 id 1"
    state=ok last_error=- map="Eastron SDM630" ...``

    ``state``/``last_error`` and their times come from the owner's ``health`` record
    (``firmware.device_health``), read at ``now_s`` (agent clock, epoch s). The
    backend's own remark (``DeviceInfo.last_error``: a rejected frame, an ignored line)
    follows as ``driver_error`` unless it is the error the owner already shows."""
    now_s = time.time() if now_s is None else now_s
    fields = health_fields(health, now_s)
    remark = error_text(info.last_error) if info.last_error else ""
    if remark and remark != fields["last_error"]:
        fields["driver_error"] = remark
    details = {**fields, **info.details, **(extra or {})}
    parts = [f"{info.role} {_quote(info.name)}:",
             f"backend={_quote(info.backend)}", f"port={_quote(info.port)}"]
    parts += [f"{key}={_quote(str(value))}" for key, value in details.items()]
    return " ".join(parts)


def _info(device: Any, role: str) -> DeviceInfo:
    try:
        return device.info()
    except Exception as e:  # info() must never raise; if it does, say so instead of failing
        return DeviceInfo(role, getattr(device, "name", type(device).__name__), "?",
                          last_error=f"info() failed: {type(e).__name__}: {e}")


def _fmt(value: float | None, unit: str, digits: int) -> str:
    if value is None:
        return "n/a"
    return f"{value:.{digits}f} {unit}".rstrip()


def reading_lines(reading: MeterReading) -> list[str]:
    """Every value of a reading, one per line, name with unit suffix then value and unit."""
    lines = [f"energy_wh = {_fmt(reading.energy_wh, 'Wh', 1)} "
             f"({reading.energy_wh / 1000:.3f} kWh)",
             f"power_w = {_fmt(reading.power_w, 'W', 1)}"]
    for index, value in enumerate(reading.current_a, 1):
        lines.append(f"current_l{index}_a = {_fmt(value, 'A', 3)}")
    for index, value in enumerate(reading.voltage_v, 1):
        lines.append(f"voltage_l{index}_v = {_fmt(value, 'V', 2)}")
    lines.append(f"frequency_hz = {_fmt(reading.frequency_hz, 'Hz', 2)}")
    lines.append(f"power_factor = {_fmt(reading.power_factor, '', 3)}")
    return lines


def install_hw_commands(console: Console, agent: Any) -> None:
    def hardware(connector_id: int):
        worker = agent.runtime.hardware.get(connector_id)
        if worker is None:
            known = ", ".join(str(c) for c in sorted(agent.runtime.hardware))
            raise ConsoleError(f"no connector {connector_id} (connectors: {known})")
        return worker

    async def hw(args: list[str]) -> list[str]:
        need_args(args, 0, 0, "hw")
        board = agent.board
        gpio = getattr(board.gpio, "backend", "") if board.gpio is not None else ""
        lines = [f"board {_quote(board.config.name)}: config={_quote(str(board.config.path))} "
                 f"gpio={_quote(gpio)}"]
        now_s = agent.runtime.clock.now()
        for connector_id, worker in sorted(agent.runtime.hardware.items()):
            roles = (("pilot", worker.pilot), ("contactor", worker.contactor),
                     ("meter", worker.meter), ("lock", worker.lock),
                     ("indicator", worker.indicator))
            for role, device in roles:
                if device is None:
                    continue
                extra: dict[str, str] = {}
                if role == "meter":
                    extra["failed_reads"] = (f"{worker.meter_failures}/"
                                             f"{worker.timing.meter_failed_reads}")
                elif role == "contactor" and worker.contactor_fault is not None:
                    extra["fault"] = worker.contactor_fault.vendor_error_code + (
                        " (latched until `test contactor`)"
                        if worker.contactor_fault_latched else "")
                lines.append(device_line(_info(device, role), extra,
                                         health=worker.health[role], now_s=now_s))
        for reader in agent.readers:
            extra = {"connector": str(reader.options.get("connector", 0))}
            if reader.last_card is not None:
                extra["last_idtag"] = mask_id_tag(reader.last_card[1])
            lines.append(device_line(_info(reader.reader, "rfid"), extra,
                                     health=reader.health, now_s=now_s))
        return lines

    async def test_rfid(args: list[str]) -> list[str]:
        need_args(args, 0, 1, "test rfid [SECONDS]")
        timeout_s = TEST_RFID_DEFAULT_S if not args else parse_int(args[0], "SECONDS", 1)
        if timeout_s > TEST_RFID_MAX_S:
            raise ConsoleError(f"SECONDS must be <= {TEST_RFID_MAX_S}")
        try:
            got = await next_card(agent.readers, timeout_s)
        except TimeoutError:
            raise ConsoleError(f"no card within {timeout_s} s") from None
        except (DiversionBusy, LookupError) as e:
            raise ConsoleError(str(e)) from None
        card = got.card
        lines = [f"reader {card.reader} ({card.technology}): raw {card.raw}",
                 f"uid bytes {card.uid.hex().upper() or '-'} ({len(card.uid)} bytes, as read)"]
        if got.id_tag is None:
            raise ConsoleError(f"card on reader {card.reader} (raw {card.raw}) cannot be an "
                               f"idTag: {got.problem}")
        lines.append(f"idTag {got.id_tag} (canonical; not presented to the station)")
        lines += agent.auth.lookup_lines(got.id_tag, agent.runtime.clock.now())
        return lines

    async def test_meter(args: list[str]) -> list[str]:
        need_args(args, 0, 1, "test meter [N]")
        connector_id = parse_int(args[0], "connector", 1) if args else 1
        meter = hardware(connector_id).meter
        info = _info(meter, "meter")
        started = time.monotonic()
        try:
            async with asyncio.timeout(TEST_METER_TIMEOUT_S):
                reading = await meter.read()
        except TimeoutError:
            raise ConsoleError(f"{info.name}: no reading within {TEST_METER_TIMEOUT_S:g} s") \
                from None
        except HalError as e:
            raise ConsoleError(f"{info.name} ({info.backend}"
                               f"{', ' + info.port if info.port else ''}): read failed: {e}") \
                from None
        took_ms = (time.monotonic() - started) * 1000
        head = (f"{info.name} ({info.backend}{', ' + info.port if info.port else ''}): "
                f"read in {took_ms:.0f} ms")
        return [head] + reading_lines(reading)

    async def test_contactor(args: list[str]) -> list[str]:
        need_args(args, 1, 1, "test contactor N")
        connector_id = parse_int(args[0], "connector", 1)
        worker = hardware(connector_id)
        c = agent.station.connectors[connector_id]
        if c.pilot is not PilotState.A:
            raise ConsoleError(f"connector {connector_id}: refused: a vehicle is plugged in "
                               f"(pilot state {c.pilot.value}); unplug it first")
        if c.tx is not None:
            raise ConsoleError(f"connector {connector_id}: refused: a transaction is running")
        if c.authorization is not None or c.awaiting_authorize:
            raise ConsoleError(f"connector {connector_id}: refused: an authorization is pending")
        if c.contactor_closed:
            raise ConsoleError(f"connector {connector_id}: refused: the contactor is in use")
        reason = getattr(worker.contactor, "self_test_unsupported", "")
        if reason:
            raise ConsoleError(f"connector {connector_id}: not supported: {reason}")
        name = _info(worker.contactor, "contactor").name
        try:
            async with asyncio.timeout(TEST_CONTACTOR_TIMEOUT_S):
                result = await worker.self_test()
        except ContactorFault as e:
            raise ConsoleError(f"{name}: {e.vendor_error_code}: {e}; connector "
                               f"{connector_id} is Faulted") from None
        except TimeoutError:
            raise ConsoleError(f"{name}: no result within {TEST_CONTACTOR_TIMEOUT_S:g} s") \
                from None
        except HalError as e:
            raise ConsoleError(f"{name}: test failed: {e}") from None
        lines = [f"{name}: closed, feedback confirmed in {result.close_s * 1000:.0f} ms",
                 f"{name}: opened, feedback confirmed in {result.open_s * 1000:.0f} ms"]
        if result.cleared_fault:
            lines.append(f"connector {connector_id}: contactor fault {result.cleared_fault} "
                         f"cleared")
        return lines

    console.register("hw", "every device: role, backend, port, last error, details", hw)
    console.register("test rfid [SECONDS]", "wait for a card (default 30 s) and show its raw "
                     "form, idTag and auth lookup; no session starts", test_rfid,
                     role="technician")
    console.register("test meter [N]", "read connector N's meter once (default 1), every value "
                     "with its unit", test_meter, role="technician")
    console.register("test contactor N", "close then open connector N's contactor checking the "
                     "feedback (no vehicle, no session); clears a contactor fault when it passes",
                     test_contactor, role="technician")
