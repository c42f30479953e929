"""Reservations ([16] §5.13, §6.48; 2.0.1 block H): a connector, or any connector (id 0),
held for one idTag (or its parent group) until a time.

Rules (ocpp16-rules.md, ocpp201-rules.md §7 and "1.6 rules that carry over"):
- ReserveNow answers Accepted, Faulted, Occupied, Rejected or Unavailable. A request with
  the id of an existing reservation replaces it (it is judged as if the old one were gone).
- Connector 0 only when ReserveConnectorZeroSupported is true (else Rejected); it is
  Accepted while a free connector is left for it, and other drivers may then not take the
  last free connectors the station-wide reservations need.
- A connector that is faulted answers Faulted, an inoperative one Unavailable, one with a
  session (transaction, authorization, a plugged vehicle) or another reservation Occupied.
- A reserved connector reports Reserved (a vehicle plugged in without its holder's token
  does not change that: 2.0.1 G01.FR.09) and starts only for the holder: its idTag, or a
  token whose parentIdTag is the reservation's parentIdTag.
- A reservation ends when its holder's transaction starts (StartTransaction / Started
  carries its id), at its expiry, on CancelReservation, and when its connector becomes
  Faulted or Unavailable. Every end but the start is reported as a fact
  (``SendReservationEnded``: 2.0.1 ReservationStatusUpdate; 1.6 has no message).
- Reservations are persisted (``PersistReservations``) and survive restarts; one
  that expired while the agent was down ends at start-up.

Expiry is a wall-clock time: its timer is re-armed when the clock steps.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import effects as fx
from .configuration import Configuration
from .connector import Connector
from .authorization import same_id_tag
from .timers import ReservationExpiry


@dataclass(frozen=True)
class Reservation:
    """``connector_id`` 0: any connector of the station. ``expiry_s``: UTC epoch s."""

    reservation_id: int
    connector_id: int
    id_tag: str
    expiry_s: float
    parent_id_tag: str | None = None

    def held_for(self, id_tag: str, parent_id_tag: str | None) -> bool:
        """Whether a token (with the parent it is known to have) is this reservation's
        holder ([16] §5.13: the idTag, or the same parentIdTag)."""
        if same_id_tag(self.id_tag, id_tag):
            return True
        return (self.parent_id_tag is not None and parent_id_tag is not None
                and same_id_tag(self.parent_id_tag, parent_id_tag))


class Reservations:
    """The station's reservations. Owns ``Connector.reservation`` of every connector
    (the connector-specific ones) and the connector-0 ones; every method returns the
    effects of what it changed (persistence, timers, facts)."""

    def __init__(self, connectors: dict[int, Connector], config: Configuration,
                 restored: list[Reservation] | None = None) -> None:
        self._connectors = connectors
        self._config = config
        self._by_id: dict[int, Reservation] = {}
        for reservation in restored or []:
            self._put(reservation)

    # ------------------------------------------------------------------ queries
    def all(self) -> tuple[Reservation, ...]:
        return tuple(sorted(self._by_id.values(), key=lambda r: r.reservation_id))

    def station_wide(self) -> list[Reservation]:
        return [r for r in self._by_id.values() if r.connector_id == 0]

    def free_connectors(self) -> list[Connector]:
        return [c for c in self._connectors.values()
                if c.is_idle() and c.reservation is None and not c.pilot.ev_connected]

    def may_start(self, c: Connector, id_tag: str, parent_id_tag: str | None) -> bool:
        """Whether a session for this token may start on ``c``: the connector's own
        reservation is the token's, or, unreserved, no station-wide reservation of
        someone else needs it."""
        if c.reservation is not None:
            return c.reservation.held_for(id_tag, parent_id_tag)
        others = [r for r in self.station_wide() if not r.held_for(id_tag, parent_id_tag)]
        if not others:
            return True
        free = self.free_connectors()
        left_after = len([f for f in free if f is not c])
        return left_after >= len(others)

    def may_be_for(self, c: Connector, id_tag: str) -> bool:
        """Before the token's parent is known: ``c`` is not reserved for someone who
        certainly is not this token (a parent match stays possible)."""
        r = c.reservation
        return r is None or same_id_tag(r.id_tag, id_tag) or r.parent_id_tag is not None

    def held_connector(self, id_tag: str, connector_ids: list[int]) -> Connector | None:
        """The connector among ``connector_ids`` reserved for exactly this idTag."""
        for cid in connector_ids:
            c = self._connectors.get(cid)
            if c is not None and c.reservation is not None and same_id_tag(
                    c.reservation.id_tag, id_tag):
                return c
        return None

    # ------------------------------------------------------------------ changes
    def reserve(self, reservation: Reservation, now: float) -> tuple[str, list[fx.Effect]]:
        """ReserveNow: (status, effects). A rejected request changes nothing."""
        replaced = self._by_id.get(reservation.reservation_id)
        if replaced is not None:
            self._drop(replaced)
        status = self._judge(reservation, now)
        if status != "Accepted":
            if replaced is not None:
                self._put(replaced)        # refused: the old reservation stands
            return status, []
        self._put(reservation)
        return status, [self._arm(reservation, now), self._persist()]

    def cancel(self, reservation_id: int) -> tuple[str, list[fx.Effect]]:
        reservation = self._by_id.get(reservation_id)
        if reservation is None:
            return "Rejected", []
        return "Accepted", self._end(reservation, "Removed")

    def expire(self, reservation_id: int, now: float) -> list[fx.Effect]:
        reservation = self._by_id.get(reservation_id)
        if reservation is None:
            return []
        if reservation.expiry_s > now:      # the clock was set back: not yet
            return [self._arm(reservation, now)]
        return self._end(reservation, "Expired")

    def started(self, c: Connector, id_tag: str, parent_id_tag: str | None
                ) -> tuple[int | None, list[fx.Effect]]:
        """A transaction starts on ``c`` for this token: the reservation it ends (its id
        goes in the start message) and the effects."""
        reservation = c.reservation
        if reservation is None or not reservation.held_for(id_tag, parent_id_tag):
            reservation = next((r for r in self.station_wide()
                                if r.held_for(id_tag, parent_id_tag)), None)
        if reservation is None:
            return None, []
        self._drop(reservation)
        return reservation.reservation_id, [fx.CancelTimer(
            ReservationExpiry(reservation.reservation_id)), self._persist()]

    def end_unusable(self) -> list[fx.Effect]:
        """End the reservations of connectors that became Faulted or Unavailable."""
        out: list[fx.Effect] = []
        for c in self._connectors.values():
            if c.reservation is not None and (c.faults or not c.operative):
                out.extend(self._end(c.reservation, "Removed"))
        return out

    def rearm(self, now: float) -> list[fx.Effect]:
        """At start and after a clock step: every expiry timer from the wall clock; the
        reservations that expired meanwhile end now."""
        out: list[fx.Effect] = []
        for reservation in self.all():
            out.extend(self.expire(reservation.reservation_id, now))
        return out

    # ------------------------------------------------------------------ internals
    def _judge(self, reservation: Reservation, now: float) -> str:
        if "Reservation" not in self._config.get_list("SupportedFeatureProfiles"):
            return "Rejected"
        if reservation.expiry_s <= now:
            return "Rejected"
        if reservation.connector_id == 0:
            if not self._config.get_bool("ReserveConnectorZeroSupported"):
                return "Rejected"
            if all(not c.operative for c in self._connectors.values()):
                return "Unavailable"
            if all(c.faults for c in self._connectors.values()):
                return "Faulted"
            needed = len(self.station_wide()) + 1
            return "Accepted" if len(self.free_connectors()) >= needed else "Occupied"
        c = self._connectors.get(reservation.connector_id)
        if c is None:
            return "Rejected"
        if c.faults:
            return "Faulted"
        if not c.operative:
            return "Unavailable"
        if (c.reservation is not None or not c.is_idle() or c.pilot.ev_connected
                or c.finishing):
            return "Occupied"
        return "Accepted"

    def _put(self, reservation: Reservation) -> None:
        self._by_id[reservation.reservation_id] = reservation
        c = self._connectors.get(reservation.connector_id)
        if c is not None:
            c.reservation = reservation

    def _drop(self, reservation: Reservation) -> None:
        self._by_id.pop(reservation.reservation_id, None)
        c = self._connectors.get(reservation.connector_id)
        if c is not None and c.reservation is reservation:
            c.reservation = None

    def _end(self, reservation: Reservation, why: str) -> list[fx.Effect]:
        self._drop(reservation)
        return [fx.CancelTimer(ReservationExpiry(reservation.reservation_id)), self._persist(),
                fx.SendReservationEnded(reservation.reservation_id, why)]

    def _arm(self, reservation: Reservation, now: float) -> fx.Effect:
        return fx.StartTimer(ReservationExpiry(reservation.reservation_id),
                             max(0.0, reservation.expiry_s - now))

    def _persist(self) -> fx.Effect:
        return fx.PersistReservations(self.all())
