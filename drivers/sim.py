"""Registers the simulated devices as driver ``sim`` for every role."""

from __future__ import annotations

from typing import Any

from drivers.registry import BuildContext, DriverSpec, register
from hal.options import optional

from hal.sim.devices import (SimConnectorLock, SimContactor, SimControlPilot, SimEnergyMeter,
                      SimIndicator, SimRfidReader)
from hal.sim.payment import SimPaymentTerminal


def _sim_connector(ctx: BuildContext):
    if ctx.sim is None:
        raise RuntimeError("simulated device built without a SimWorld")
    c = ctx.connector
    return ctx.sim.connector(ctx.connector_id, phases=c.get("phases", 3),
                             voltage_v=c.get("nominal_voltage_v", 230.0))


def _pilot(ctx: BuildContext, options: dict[str, Any]) -> SimControlPilot:
    connector = _sim_connector(ctx)
    connector.ev_power_w = options["ev_power_w"]
    return SimControlPilot(ctx.name, connector)


register(DriverSpec(
    "pilot", "sim",
    (optional("ev_power_w", float, 7400.0, "power the simulated EV draws when charging, W",
              minimum=0),),
    _pilot, "Simulated control pilot with an EV that charges by itself once offered energy."))

register(DriverSpec(
    "contactor", "sim",
    (optional("feedback_timeout_s", float, 0.5, "how long the feedback may take to agree, s",
              minimum=0.01, maximum=10),),
    lambda ctx, o: SimContactor(ctx.name, _sim_connector(ctx), o["feedback_timeout_s"]),
    "Simulated contactor with a feedback contact (faults: contactor-weld, contactor-stuck)."))

register(DriverSpec(
    "meter", "sim", (), lambda ctx, o: SimEnergyMeter(ctx.name, _sim_connector(ctx)),
    "Simulated meter integrating the EV's power while the contactor is closed in state C."))

register(DriverSpec(
    "lock", "sim", (), lambda ctx, o: SimConnectorLock(ctx.name, _sim_connector(ctx)),
    "Simulated cable lock (fault: lock-stuck)."))

register(DriverSpec(
    "indicator", "sim", (), lambda ctx, o: SimIndicator(ctx.name, _sim_connector(ctx)),
    "Simulated status light (remembers the last status shown)."))

register(DriverSpec(
    "rfid", "sim", (), lambda ctx, o: SimRfidReader(ctx.name, ctx.sim),
    "Simulated card reader fed by the console's `sim tap UID`."))


def _payment(ctx: BuildContext, options: dict[str, Any]) -> SimPaymentTerminal:
    terminal = SimPaymentTerminal(ctx.name, currency_code=options["currency_code"],
                                  timeout_s=options["timeout_s"])
    if ctx.sim is not None:
        ctx.sim.payment_terminals[ctx.name] = terminal
    return terminal


register(DriverSpec(
    "payment", "sim",
    (optional("currency_code", int, 978, "ISO 4217 numeric currency (978 = EUR)",
              minimum=1, maximum=999),
     optional("timeout_s", float, 2.0, "how long the simulated terminal takes to fail when "
              "it is set not to answer, s", minimum=0.01, maximum=600)),
    _payment,
    "Simulated payment terminal that books like a real one (pre-authorisation, capture once, "
    "reversal once; outcomes approve/decline/abort/no_answer)."))
