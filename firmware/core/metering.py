"""Turning meter readings into OCPP sampled values, and clock alignment.

A measurand the reading does not carry is left out, never invented ([16] §3.16 and our
rule "a dead meter is a reported fault, never an invented reading"). Units follow the
1.6 UnitOfMeasure enum (Wh, W, A, V, none for frequency and power factor).
"""

from __future__ import annotations

import math

from hal.interfaces import MeterReading

from .effects import MeterSample, SampledValue

_PHASE_NAMES_CURRENT = ("L1", "L2", "L3")
_PHASE_NAMES_VOLTAGE = ("L1-N", "L2-N", "L3-N")


def _fmt(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def sampled_values(measurands: list[str], reading: MeterReading | None, offered_a: float,
                   context: str) -> tuple[SampledValue, ...]:
    """Sampled values for ``measurands`` from one reading (empty if there is none)."""
    if reading is None:
        return ()
    values: list[SampledValue] = []
    for measurand in measurands:
        if measurand == "Energy.Active.Import.Register":
            values.append(SampledValue(_fmt(reading.energy_wh, 0), measurand, context, "Wh"))
        elif measurand == "Power.Active.Import" and reading.power_w is not None:
            values.append(SampledValue(_fmt(reading.power_w, 1), measurand, context, "W"))
        elif measurand == "Current.Import":
            values.extend(_per_phase(reading.current_a, measurand, context, "A",
                                     _PHASE_NAMES_CURRENT))
        elif measurand == "Voltage":
            values.extend(_per_phase(reading.voltage_v, measurand, context, "V",
                                     _PHASE_NAMES_VOLTAGE))
        elif measurand == "Current.Offered":
            values.append(SampledValue(_fmt(offered_a, 1), measurand, context, "A"))
        elif measurand == "Frequency" and reading.frequency_hz is not None:
            values.append(SampledValue(_fmt(reading.frequency_hz, 2), measurand, context))
        elif measurand == "Power.Factor" and reading.power_factor is not None:
            values.append(SampledValue(_fmt(reading.power_factor, 3), measurand, context))
    return tuple(values)


def _per_phase(values: tuple[float | None, ...], measurand: str, context: str, unit: str,
               names: tuple[str, ...]) -> list[SampledValue]:
    out = []
    for index, value in enumerate(values[:3]):
        if value is None or not math.isfinite(value):
            continue
        phase = names[index] if len(values) > 1 else None
        out.append(SampledValue(_fmt(value, 2), measurand, context, unit, phase))
    return out


def sample(measurands: list[str], reading: MeterReading | None, offered_a: float,
           context: str, now: float) -> MeterSample | None:
    values = sampled_values(measurands, reading, offered_a, context)
    return MeterSample(now, values) if values else None


def seconds_to_next_aligned(now: float, interval_s: int) -> float:
    """Seconds until the next multiple of ``interval_s`` after midnight UTC ([16] §3.16.2)."""
    since_midnight = now % 86400.0
    next_slot = float((math.floor(since_midnight / interval_s) + 1) * interval_s)
    if next_slot > 86400.0:
        # The last slot of the day is shorter when the interval does not divide 24 h.
        next_slot = 86400.0
    delay = next_slot - since_midnight
    return delay if delay > 1e-6 else float(interval_s)
