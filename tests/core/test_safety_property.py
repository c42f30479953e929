"""Randomized (seeded, shrinking) test of the safety rule and of "every session ends
with the connector free" over sequences of plug/unplug, pilot states, taps, CSMS
answers, remote commands, availability, faults, lock failures, link loss, time and
restarts (issue #8: A–D and item 3).

After every event, against the contactor and offer as the effects drove them:
- a closed contactor means a running, not withheld transaction, the EV asking for
  energy (C/D), no fault, the cable lock confirmed, no contactor awaiting its check;
- an offer > 0 means the same except the pilot may be B;
- an OpenContactor / zero offer comes first in its batch (nothing may delay it).
At the end of every sequence, once the vehicle is gone, faults are cleared, the CSMS
has answered and the ConnectionTimeOut has passed, every operative connector is
Available, free for a new session, and the CSMS was told so.

Every bug this found is also kept as a plain test in ``test_safety_defects.py``.
``BORNE_PROPERTY_EXAMPLES`` raises the number of sequences (default 300).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.core.connector import TransactionRecord
from firmware.core.reservations import Reservations

from .harness import Entry, Harness

EXAMPLES = int(os.environ.get("BORNE_PROPERTY_EXAMPLES", "300"))
TAGS = ("AAAA0001", "BBBB0002", "CCCC0003")
CONNECTORS = (1, 2)


@dataclass
class Rig:
    """The harness plus what the hardware and the CSMS would do with the effects."""

    h: Harness
    closed: dict[int, bool] = field(default_factory=lambda: {c: False for c in CONNECTORS})
    offer_a: dict[int, float] = field(default_factory=lambda: {c: 0.0 for c in CONNECTORS})
    timers: dict[object, float] = field(default_factory=dict)
    pending_locks: list[int] = field(default_factory=list)
    pending_authorize: list[fx.SendAuthorizationRequest] = field(default_factory=list)
    pending_starts: list[fx.SendTransactionStarted] = field(default_factory=list)
    pending_reads: list[int] = field(default_factory=list)
    requests: int = 0
    restarting: bool = False

    def feed(self, event: ev.Event) -> list[fx.Effect]:
        out = self.h.station.handle(event, self.h.now)
        self.h.log.extend(out)
        self.observe(out)
        check_safety(self)
        return out

    def observe(self, out: list[fx.Effect]) -> None:
        safety_done = False
        for effect in out:
            is_safety = isinstance(effect, fx.OpenContactor) or (
                isinstance(effect, fx.OfferEnergy) and effect.max_current_a == 0)
            if is_safety:
                assert not safety_done, f"an opening was delayed in its batch: {out}"
            else:
                safety_done = True
            if isinstance(effect, fx.CloseContactor):
                self.closed[effect.connector_id] = True
            elif isinstance(effect, fx.OpenContactor):
                self.closed[effect.connector_id] = False
            elif isinstance(effect, fx.OfferEnergy):
                self.offer_a[effect.connector_id] = effect.max_current_a
            elif isinstance(effect, fx.StartTimer):
                self.timers[effect.key] = self.h.now + effect.delay_s
            elif isinstance(effect, fx.CancelTimer):
                self.timers.pop(effect.key, None)
            elif isinstance(effect, fx.LockCable):
                self.pending_locks.append(effect.connector_id)
            elif isinstance(effect, fx.ReadMeter):
                self.pending_reads.append(effect.connector_id)
            elif isinstance(effect, fx.SendAuthorizationRequest):
                self.pending_authorize.append(effect)
            elif isinstance(effect, fx.SendTransactionStarted):
                self.pending_starts.append(effect)
            elif isinstance(effect, fx.RestartAgent):
                self.restarting = True

    def ref(self) -> tuple:
        self.requests += 1
        return ("req", self.requests)


def check_safety(rig: Rig) -> None:
    for cid, c in rig.h.station.connectors.items():
        allowed = (c.tx is not None and not c.tx.record.suspended_by_evse and not c.faults
                   and not c.contactor_needs_check and (not c.has_lock or c.lock_confirmed))
        if rig.closed[cid]:
            assert allowed and c.pilot.ev_requests_energy, (
                f"connector {cid} closed outside the rule: pilot={c.pilot} faults={c.faults} "
                f"tx={c.tx} lock={c.lock_confirmed} check={c.contactor_needs_check}")
        if rig.offer_a[cid] > 0:
            assert allowed and c.pilot.ev_connected, f"connector {cid} offers outside the rule"


# ---------------------------------------------------------------------- actions
def pilot(cid: int, state: str):
    return lambda rig: rig.feed(ev.PilotChanged(cid, _pilot(state)))


def _pilot(state: str):
    from hal.interfaces import PilotState
    return PilotState(state)


def tap(tag: str, where: str, cid: int):
    def act(rig: Rig) -> None:
        entry = {"none": (None, None, False),
                 "list": (Entry(tag), None, False),
                 "cache": (None, Entry(tag, source="cache"), False),
                 "blocked": (None, Entry(tag, "Blocked", source="cache"), True)}[where]
        rig.feed(ev.CardPresented(tag, "r", entry[0], entry[1], entry[2],
                                  connector_id=cid))
    return act


def answer_authorize(status: str):
    def act(rig: Rig) -> None:
        if not rig.pending_authorize:
            return
        request = rig.pending_authorize.pop(0)
        if status == "fail":
            rig.feed(ev.CallFailed(request.ref, request, "timeout"))
        else:
            rig.feed(ev.AuthorizationAnswered(request.ref, request.id_tag, ev.IdTagInfo(status)))
    return act


def answer_start(status: str):
    def act(rig: Rig) -> None:
        if not rig.pending_starts:
            return
        start = rig.pending_starts.pop(0)
        rig.feed(ev.TransactionStartAnswered(start.local_tx_id, 1000 + start.local_tx_id,
                                              ev.IdTagInfo(status), start.id_tag))
    return act


def answer_lock(ok: bool):
    def act(rig: Rig) -> None:
        if rig.pending_locks:
            cid = rig.pending_locks.pop(0)
            rig.feed(ev.CableLocked(cid) if ok else ev.LockFailed(cid, "jammed"))
    return act


def answer_read(ok: bool):
    def act(rig: Rig) -> None:
        if rig.pending_reads:
            from hal.interfaces import MeterReading
            cid = rig.pending_reads.pop(0)
            reading = MeterReading(energy_wh=rig.h.energy_wh[cid]) if ok else None
            rig.feed(ev.MeterRead(cid, reading))
    return act


def meter(cid: int, ok: bool):
    def act(rig: Rig) -> None:
        if ok:
            rig.h.energy_wh[cid] += 50
            from hal.interfaces import MeterReading
            rig.feed(ev.MeterSampled(cid, MeterReading(energy_wh=rig.h.energy_wh[cid])))
        else:
            rig.feed(ev.MeterFailed(cid, "no answer"))
    return act


def contactor_fault(cid: int, which: str):
    def act(rig: Rig) -> None:
        if which == "weld":
            # The driver reports a contactor fault after switching the coil off itself
            # (hal.interfaces.Contactor obligations).
            rig.closed[cid] = False
            rig.feed(ev.ContactorFailed(cid, "ContactorWelded"))
        elif which == "clear":
            rig.feed(ev.HardwareFaultChanged(cid, "contactor", False))
        else:
            rig.feed(ev.ContactorChecked(cid))
    return act


def hw_fault(cid: int, active: bool):
    return lambda rig: rig.feed(ev.HardwareFaultChanged(cid, "pilot-link", active,
                                                        "OtherError", "PilotLinkLost"))


def remote_start(cid: int | None, tag: str):
    return lambda rig: rig.feed(ev.RemoteStartRequested(rig.ref(), tag, cid))


def remote_stop(tx: int):
    return lambda rig: rig.feed(ev.RemoteStopRequested(rig.ref(), 1000 + tx))


def reserve(cid: int, tag: str, rid: int, expires_in_s: float):
    return lambda rig: rig.feed(ev.ReservationRequested(rig.ref(), rid, cid, tag,
                                                        rig.h.now + expires_in_s))


def cancel_reservation(rid: int):
    return lambda rig: rig.feed(ev.ReservationCancelRequested(rig.ref(), rid))


def availability(cid: int, kind: str):
    return lambda rig: rig.feed(ev.AvailabilityChangeRequested(rig.ref(), cid, kind))


def link(up: bool):
    def act(rig: Rig) -> None:
        if up:
            rig.feed(ev.LinkConnected())
            rig.feed(ev.RegistrationAnswered("Accepted", 300, rig.h.now))
        else:
            # The connection is gone: CALLs in flight never get an answer, and the
            # link promises nothing more about them.
            rig.feed(ev.LinkDisconnected())
            rig.pending_authorize.clear()
    return act


def advance(seconds: float):
    def act(rig: Rig) -> None:
        rig.h.advance(seconds)
        fire_due_timers(rig)
    return act


def fire_due_timers(rig: Rig) -> None:
    while True:
        due = [k for k, at in rig.timers.items() if at <= rig.h.now]
        if not due:
            return
        for key in due:
            rig.timers.pop(key, None)
            rig.feed(ev.TimerFired(key))


def reset(rig: Rig) -> None:
    rig.feed(ev.ResetRequested(rig.ref(), "Soft"))


def reset_when_idle(rig: Rig) -> None:
    """2.0.1 Reset OnIdle: Scheduled while a transaction runs, a restart after it."""
    rig.feed(ev.ResetRequested(rig.ref(), "Soft", when_idle=True))


def restart(rig: Rig) -> None:
    """The agent died: a fresh station on the same hardware, the open transactions
    recovered from the store (PowerLoss); the hardware opens everything on start."""
    records = [c.tx.record for c in rig.h.station.connectors.values() if c.tx is not None]
    reservations = list(rig.h.station.reservations.all())   # persisted
    plugged = {cid: c.pilot for cid, c in rig.h.station.connectors.items()}
    h = Harness(connectors=len(CONNECTORS), auto_lock=False,
                config={"ConnectionTimeOut": "30", "MeterValueSampleInterval": "0"})
    h.now = rig.h.now
    h.energy_wh = rig.h.energy_wh
    rig.h = h
    rig.closed = {c: False for c in CONNECTORS}
    rig.offer_a = {c: 0.0 for c in CONNECTORS}
    rig.timers.clear()
    rig.pending_locks.clear()
    rig.pending_authorize.clear()
    rig.pending_starts.clear()
    rig.pending_reads.clear()
    rig.restarting = False
    h.station.reservations = Reservations(h.station.connectors, h.station.config, reservations)
    rig.feed(ev.AgentStarted())
    for record in records:
        rig.feed(ev.RecoveredTransaction(record))
    for cid, state in plugged.items():
        rig.feed(ev.PilotChanged(cid, state))


def session(cid: int, tag: str, state: str):
    """The common path, so random sequences reach charging often: plug, tap a listed
    tag offline-or-online, the lock confirms, the EV asks (or waits)."""
    def act(rig: Rig) -> None:
        pilot(cid, "B")(rig)
        tap(tag, "list", cid)(rig)
        answer_authorize("Accepted")(rig)
        answer_lock(True)(rig)
        pilot(cid, state)(rig)
    return act


CID = st.sampled_from(CONNECTORS)
SESSION = st.builds(session, CID, st.sampled_from(TAGS), st.sampled_from("CCDB"))
ACTIONS = st.one_of(
    SESSION, SESSION, SESSION, SESSION,
    st.builds(pilot, CID, st.sampled_from("ABCDEF")),
    st.builds(tap, st.sampled_from(TAGS), st.sampled_from(("none", "list", "cache", "blocked")),
              st.sampled_from((0, 1, 2))),
    st.builds(answer_authorize, st.sampled_from(("Accepted", "Blocked", "Invalid", "fail"))),
    st.builds(answer_start, st.sampled_from(("Accepted", "Accepted", "Invalid", "Blocked"))),
    st.builds(answer_lock, st.booleans()),
    st.builds(answer_read, st.booleans()),
    st.builds(meter, CID, st.booleans()),
    st.builds(contactor_fault, CID, st.sampled_from(("weld", "clear", "checked"))),
    st.builds(hw_fault, CID, st.booleans()),
    st.builds(remote_start, st.sampled_from((None, 1, 2)), st.sampled_from(TAGS)),
    st.builds(remote_stop, st.integers(1, 4)),
    st.builds(availability, st.sampled_from((0, 1, 2)),
              st.sampled_from(("Operative", "Inoperative"))),
    st.builds(link, st.booleans()),
    st.builds(advance, st.sampled_from((1.0, 10.0, 31.0))),
    st.builds(reserve, st.sampled_from((0, 1, 2)), st.sampled_from(TAGS), st.integers(1, 3),
              st.sampled_from((20.0, 600.0))),
    st.builds(cancel_reservation, st.integers(1, 3)),
    st.just(reset),
    st.just(reset_when_idle),
    st.just(restart),
)


def settle(rig: Rig) -> None:
    """Everything a quiet hour brings: vehicle gone, faults repaired, CSMS back and
    answering, timers run out, the agent restarted if a Reset asked for it."""
    if rig.restarting:
        restart(rig)
    for cid in CONNECTORS:
        rig.feed(ev.PilotChanged(cid, _pilot("A")))
        rig.feed(ev.HardwareFaultChanged(cid, "pilot-link", False))
        meter(cid, True)(rig)
        rig.feed(ev.HardwareFaultChanged(cid, "contactor", False))
        rig.feed(ev.ContactorChecked(cid))
        rig.feed(ev.AvailabilityChangeRequested(rig.ref(), cid, "Operative"))
    link(True)(rig)
    for _ in range(10):
        answer_authorize("Accepted")(rig)
        answer_start("Accepted")(rig)
        answer_lock(True)(rig)
    advance(3600.0)(rig)


@settings(max_examples=EXAMPLES, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(ACTIONS, max_size=40))
def test_the_safety_rule_holds_after_every_event_and_every_session_ends_free(actions):
    h = Harness(connectors=len(CONNECTORS), auto_lock=False,
                config={"ConnectionTimeOut": "30", "MeterValueSampleInterval": "0"})
    rig = Rig(h)
    link(True)(rig)
    for act in actions:
        act(rig)
    settle(rig)
    for cid, c in rig.h.station.connectors.items():
        assert c.tx is None and c.authorization is None and not c.awaiting_authorize, (
            f"connector {cid} not free: tx={c.tx} auth={c.authorization} "
            f"awaiting={c.awaiting_authorize}")
        assert c.status() == "Available", (cid, c.status(), c.faults)
        assert rig.h.statuses_sent(cid)[-1] == "Available"
        assert not rig.closed[cid] and rig.offer_a[cid] == 0


def test_a_recovered_transaction_does_not_count_as_running():
    """Restart path sanity: a recovered record is stopped, never resumed."""
    h = Harness(auto_lock=False)
    record = TransactionRecord(3, 1, "AAAA0001", None, 1000, h.now - 5)
    out = h.handle(ev.RecoveredTransaction(record))
    assert [s.reason for s in h.of(fx.SendTransactionEnded, out)] == ["PowerLoss"]
    assert h.station.connectors[1].tx is None
