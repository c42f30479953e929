"""A fake-clock driver for the sans-I/O station: feed events, inspect effects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.core.configuration import Configuration
from firmware.core.connector import Connector
from firmware.core.station import Station
from hal.interfaces import MeterReading, PilotState

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@dataclass(frozen=True)
class Entry:
    """A local list/cache entry as the authorization store returns it."""

    id_tag: str
    status: str = "Accepted"
    expiry_s: float | None = None
    parent_id_tag: str | None = None
    source: str = "list"


class Harness:
    def __init__(self, connectors: int = 1, config: dict[str, str] | None = None,
                 has_lock: bool = True, max_current_a: float = 32.0,
                 auto_lock: bool = True, auto_meter: bool = True,
                 station_options: dict[str, Any] | None = None):
        """``auto_lock``: answer every LockCable with CableLocked, as a working lock's
        hardware worker does (False: the test answers CableLocked/LockFailed itself)."""
        self.now = T0
        self.auto_lock = auto_lock
        self.auto_meter = auto_meter  # answer ReadMeter with the current reading
        self.station = Station(
            [Connector(i, max_current_a, has_lock=has_lock) for i in range(1, connectors + 1)],
            Configuration.initial(config or {}, {}, {"NumberOfConnectors": str(connectors)}),
            **(station_options or {}))
        self.log: list[fx.Effect] = []
        self._ref = 0
        self.energy_wh = {i: 1000.0 for i in range(1, connectors + 1)}
        self.handle(ev.AgentStarted())
        for i in range(1, connectors + 1):
            self.meter(i)

    # ------------------------------------------------------------------ driving
    def handle(self, event: ev.Event) -> list[fx.Effect]:
        out = self.station.handle(event, self.now)
        self.log.extend(out)
        if self.auto_lock:
            for lock in [e for e in out if isinstance(e, fx.LockCable)]:
                out = out + self.handle(ev.CableLocked(lock.connector_id))
        if self.auto_meter:
            for read in [e for e in out if isinstance(e, fx.ReadMeter)]:
                out = out + self.handle(ev.MeterRead(read.connector_id, self.reading(
                    read.connector_id)))
        return out

    def reading(self, connector_id: int = 1, power_w: float = 7000.0) -> MeterReading:
        return MeterReading(energy_wh=self.energy_wh[connector_id], power_w=power_w,
                            current_a=(10.0, 10.0, 10.0), voltage_v=(230.0, 231.0, 229.0))

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def ref(self) -> tuple:
        self._ref += 1
        return ("req", self._ref)

    def boot(self, status: str = "Accepted", interval_s: int = 300) -> list[fx.Effect]:
        self.handle(ev.LinkConnected())
        return self.handle(ev.RegistrationAnswered(status, interval_s, self.now))

    def meter(self, connector_id: int = 1, add_wh: float = 0.0,
              power_w: float = 7000.0) -> list[fx.Effect]:
        self.energy_wh[connector_id] += add_wh
        return self.handle(ev.MeterSampled(connector_id, self.reading(connector_id, power_w)))

    def pilot(self, state: str, connector_id: int = 1) -> list[fx.Effect]:
        return self.handle(ev.PilotChanged(connector_id, PilotState(state)))

    def tap(self, tag: str, list_entry=None, cache_entry=None,
            negative: bool = False) -> list[fx.Effect]:
        return self.handle(ev.CardPresented(tag, "test", list_entry, cache_entry, negative))

    def answer_authorize(self, status: str = "Accepted", parent: str | None = None,
                         expiry_s: float | None = None) -> list[fx.Effect]:
        request = self.last(fx.SendAuthorizationRequest)
        return self.handle(ev.AuthorizationAnswered(
            request.ref, request.id_tag, ev.IdTagInfo(status, expiry_s, parent)))

    def answer_start(self, transaction_id: int = 1001, status: str = "Accepted") -> list[fx.Effect]:
        start = self.last(fx.SendTransactionStarted)
        return self.handle(ev.TransactionStartAnswered(
            start.local_tx_id, transaction_id, ev.IdTagInfo(status), start.id_tag))

    def start_session(self, tag: str = "AABBCCDD", connector_id: int = 1,
                      transaction_id: int = 1001) -> None:
        """Plug, tap, CSMS accepts, EV draws: a charging session."""
        self.pilot("B", connector_id)
        self.tap(tag)
        self.answer_authorize()
        self.answer_start(transaction_id)
        self.pilot("C", connector_id)

    # ------------------------------------------------------------------ inspecting
    def of(self, kind: type, effects: list[fx.Effect] | None = None) -> list:
        return [e for e in (self.log if effects is None else effects) if isinstance(e, kind)]

    def last(self, kind: type):
        found = self.of(kind)
        assert found, f"no {kind.__name__} among effects"
        return found[-1]

    def status(self, connector_id: int = 1) -> str:
        return self.station.connectors[connector_id].status()

    def statuses_sent(self, connector_id: int = 1) -> list[str]:
        return [e.status for e in self.of(fx.SendConnectorStatus)
                if e.connector_id == connector_id]

    def reply(self, effects: list[fx.Effect]) -> dict:
        replies = self.of(fx.Reply, effects)
        assert len(replies) == 1, replies
        return replies[0].fields
