"""The simulated charger and EV: one shared world behind the simulated devices.

It behaves like hardware so the agent cannot tell the difference:
- The EV's pilot state follows the cable and the EV: A unplugged; B plugged; C once the
  EVSE offers energy (PWM) and the EV wants to charge — the EV goes to C by itself.
- The contactor's feedback follows its coil within a few milliseconds, unless a fault
  is injected: ``contactor-weld`` (feedback stays closed after opening) or
  ``contactor-stuck`` (never pulls in).
- The meter integrates energy from the EV's power only while the contactor is closed
  and the EV is in state C; ``meter-offline`` makes every read fail.
- ``pilot-error`` drives the pilot to state E (CP shorted).

Times come from ``time.monotonic`` (the simulator is real time; the core has its own
fake clock in tests).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from typing import TYPE_CHECKING

from hal.interfaces import PilotState

if TYPE_CHECKING:
    from hal.sim.payment import SimPaymentTerminal

FAULT_KINDS = ("contactor-weld", "contactor-stuck", "meter-offline", "pilot-error", "lock-stuck",
               "pilot-refuses-offers")


@dataclass
class SimConnector:
    connector_id: int
    phases: int = 3
    voltage_v: float = 230.0
    ev_power_w: float = 7400.0
    plugged: bool = False
    ev_wants_charge: bool = True
    offer_a: float = 0.0
    coil_on: bool = False
    feedback_closed: bool = False
    energy_wh: float = 0.0
    faults: set[str] = field(default_factory=set)
    locked: bool = False
    indicator: str = ""
    _integrated_at: float = field(default_factory=time.monotonic)
    _listeners: list[asyncio.Queue[PilotState]] = field(default_factory=list)
    _last_pilot: PilotState = PilotState.A

    # ------------------------------------------------------------------ derived state
    def pilot(self) -> PilotState:
        if "pilot-error" in self.faults:
            return PilotState.E
        if not self.plugged:
            return PilotState.A
        if self.offer_a > 0 and self.ev_wants_charge:
            return PilotState.C
        return PilotState.B

    def drawing(self) -> bool:
        return self.feedback_closed and self.pilot() is PilotState.C

    def power_w(self) -> float:
        if not self.drawing():
            return 0.0
        limit_w = self.offer_a * self.voltage_v * self.phases
        return min(self.ev_power_w, limit_w)

    def current_a(self) -> float:
        power_w = self.power_w()
        return power_w / (self.voltage_v * self.phases) if power_w else 0.0

    # ------------------------------------------------------------------ changes
    def integrate(self) -> None:
        now = time.monotonic()
        self.energy_wh += self.power_w() * (now - self._integrated_at) / 3600.0
        self._integrated_at = now

    def changed(self) -> None:
        """Call after any change: integrates up to now and notifies pilot listeners."""
        state = self.pilot()
        if state is not self._last_pilot:
            self._last_pilot = state
            for queue in self._listeners:
                queue.put_nowait(state)

    def update(self, **changes: object) -> None:
        self.integrate()
        for key, value in changes.items():
            setattr(self, key, value)
        if not self.coil_on and "contactor-weld" not in self.faults:
            self.feedback_closed = False
        self.changed()

    def listen(self) -> asyncio.Queue[PilotState]:
        queue: asyncio.Queue[PilotState] = asyncio.Queue()
        queue.put_nowait(self.pilot())
        self._listeners.append(queue)
        return queue

    def unlisten(self, queue: asyncio.Queue[PilotState]) -> None:
        if queue in self._listeners:
            self._listeners.remove(queue)


class SimWorld:
    """All simulated connectors and card readers of one board."""

    def __init__(self) -> None:
        self.connectors: dict[int, SimConnector] = {}
        self.readers: dict[str, asyncio.Queue[bytes]] = {}
        # by name; the console's simulated card taps and outcomes go here
        self.payment_terminals: dict[str, SimPaymentTerminal] = {}

    def connector(self, connector_id: int, **defaults: object) -> SimConnector:
        if connector_id not in self.connectors:
            self.connectors[connector_id] = SimConnector(connector_id, **defaults)  # type: ignore[arg-type]
        return self.connectors[connector_id]

    def reader_queue(self, name: str) -> asyncio.Queue[bytes]:
        return self.readers.setdefault(name, asyncio.Queue())

    # ------------------------------------------------------------------ what `sim` commands do
    def plug(self, connector_id: int) -> None:
        self._get(connector_id).update(plugged=True)

    def unplug(self, connector_id: int) -> None:
        self._get(connector_id).update(plugged=False)

    def ev_charge(self, connector_id: int, wants: bool) -> None:
        self._get(connector_id).update(ev_wants_charge=wants)

    def set_power(self, connector_id: int, power_w: float) -> None:
        if power_w < 0:
            raise ValueError("power must be >= 0 W")
        self._get(connector_id).update(ev_power_w=power_w)

    def tap(self, uid: bytes, reader: str | None = None) -> str:
        """Present a card on ``reader`` (the first reader by default); returns its name."""
        if not self.readers:
            raise LookupError("this board has no simulated card reader")
        name = reader or next(iter(self.readers))
        if name not in self.readers:
            raise LookupError(f"no simulated reader named {name!r}")
        self.readers[name].put_nowait(uid)
        return name

    def fault(self, connector_id: int, kind: str, active: bool) -> None:
        c = self._get(connector_id)
        if kind == "clear":
            c.faults.clear()
            if not c.coil_on:
                c.feedback_closed = False
            c.update()
            return
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
        if active:
            c.faults.add(kind)
        else:
            c.faults.discard(kind)
        if kind == "contactor-weld" and active:
            c.feedback_closed = True  # welded: stays closed whatever the coil does
        c.update()

    def _get(self, connector_id: int) -> SimConnector:
        if connector_id not in self.connectors:
            raise LookupError(f"no simulated connector {connector_id}")
        return self.connectors[connector_id]
