"""Judge the CSMS's record of OCPP 2.0.1 transaction messages after a fault-injection run.

The 2.0.1 twin of ``record_check`` (ocpp201-rules.md §3; [S201] TransactionEventRequest).
Only CALLs the CSMS accepted count (answered with a CALLRESULT): one answered with a
CALLERROR, or cut off before its answer, was not processed and is legitimately sent
again. Those are grouped by the station-chosen ``transactionId`` and judged in the order
the CSMS received them:

- **duplicates**: an accepted event identical to one accepted before (the answer was
  lost on the way, or the agent died before it committed it). Counted, not an error. A
  re-used seqNo with a different payload is a problem; so is an identical re-send of
  an earlier event after the transaction's Ended was accepted (``replayed_after_ended``:
  nothing after Ended, as 1.6 allows no meter values after the stop).
- **reordered**: the distinct events of a transaction whose seqNo does not count up in
  the order received (a step back), that do not open with Started (seqNo 0), carry a
  second Started or anything after Ended; timestamps or energy going backwards.
- **lost**: a transaction whose Ended never arrived after the final settle; a seqNo
  missing (a gap of n counts n); fewer transactions seen started than the charger's
  database says it started; meter values missing (Sample.Periodic / Sample.Clock from
  the Started, through every value, to the Ended: no gap over ``GAP_FACTOR`` × the
  interval, as in ``record_check``).
- **invented**: a transaction whose Started matches no session the chaos driver began
  (an idToken it never presented, on another EVSE, or a second transaction for one
  session), or more transactions than the charger started.
- **offline** ([S201] ``offline``; TC_E_40): an event that happened while the CSMS had no
  connection from the station (its own timestamp in a gap between connections, with
  ``OFFLINE_MARGIN_S`` at both ends) must carry ``offline: true``; an event with
  ``offline: true`` must carry the time it happened, not the time it was sent: no later
  than the opening of the connection that delivered it (+ ``OFFLINE_MARGIN_S``); and a
  session the driver began while the network had been cut for ``OFFLINE_MARGIN_S``
  starts with an offline Started stamped at the tap (within ``OFFLINE_MARGIN_S``).
  Each failure is a problem (``report.offline_problems`` counts them).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from devcsms.handshake import ConnectionRecord
from devcsms.recording import FROM_CP, TO_CP, Frame
from devcsms.validation import CALL, CALLRESULT
from firmware.ocpp.mapping import parse_time

from .record_check import GAP_FACTOR, TIMESTAMP_TOLERANCE_S, ChaosReport, _canonical

TX_ACTIONS_201 = ("TransactionEvent", "MeterValues")
OFFLINE_MARGIN_S = 1.5
ENERGY = "Energy.Active.Import.Register"


@dataclass(frozen=True)
class Session:
    """One session the chaos driver began: a card presented on ``connector_id`` (the EVSE
    of sim-2c) at wall time ``tapped_at_s`` (UNIX s, just before the command), answered
    at ``answered_at_s``; ``cut_for_s``: how long the network had been cut then (0 when
    it was not)."""

    tag: str
    connector_id: int
    tapped_at_s: float = 0.0
    answered_at_s: float = 0.0
    cut_for_s: float = 0.0


@dataclass
class ChaosReport201(ChaosReport):
    offline_events: int = 0
    offline_problems: int = 0
    sessions_without_transaction: int = 0
    cut_sessions_checked: int = 0
    # Identical re-sends (the unique ids of their CALLs) and, of those, the ones that
    # arrived after their transaction's Ended was accepted: the known 2.0.1 outbox bug
    # of test_replay_after_ended_201.py (a crash replays the batch of confirmed events
    # whose removal was not committed yet, Ended included).
    resent_ids: set[str] = field(default_factory=set)
    replayed_after_ended: int = 0

    def summary(self) -> str:
        return super().summary() + f" offline_events={self.offline_events}"


def accepted_events(frames: list[Frame], station: str) -> list[Frame]:
    """Every TransactionEvent CALL of ``station`` the CSMS accepted (answered with a
    CALLRESULT), in the order the CALLs arrived."""
    answered = {f.request_seq for f in frames
                if f.direction == TO_CP and f.station == station
                and f.message_type == CALLRESULT and f.request_seq is not None}
    return [f for f in frames
            if f.direction == FROM_CP and f.station == station and f.message_type == CALL
            and f.action == "TransactionEvent" and f.seq in answered]


def resent_ids(frames: list[Frame], station: str) -> set[str]:
    """The unique ids of TransactionEvent CALLs identical to one received before, answered
    or not (a retry, or a replay after a crash)."""
    seen: set[str] = set()
    out: set[str] = set()
    for f in frames:
        if f.direction == FROM_CP and f.station == station and f.message_type == CALL \
                and f.action == "TransactionEvent":
            key = _canonical(f.payload)
            if key in seen:
                out.add(str(f.unique_id))
            seen.add(key)
    return out


def check_record_201(frames: list[Frame], station: str, charger_transactions: int,
                     sessions: list[Session], connections: list[ConnectionRecord],
                     cycles: int = 0, sample_interval_s: float | None = None,
                     aligned_interval_s: float | None = None) -> ChaosReport201:
    report = ChaosReport201(cycles=cycles)
    report.resent_ids = resent_ids(frames, station)
    by_id: dict[str, list[Frame]] = defaultdict(list)
    for call in accepted_events(frames, station):
        info = call.payload.get("transactionInfo", {})
        by_id[str(info.get("transactionId"))].append(call)
    clock = _Clock(frames, [c for c in connections if c.station == station])
    by_tag = {s.tag: s for s in sessions}
    matched: dict[str, str] = {}  # tag -> transactionId

    for transaction_id, received in by_id.items():
        events = _distinct(report, transaction_id, received)
        _judge_sequence(report, transaction_id, events)
        _judge_offline(report, transaction_id, events, clock)
        started = next((e for e in events if e.payload.get("eventType") == "Started"), None)
        if started is not None:
            _match_session(report, transaction_id, started, by_tag, matched)
        ended = [e for e in events if e.payload.get("eventType") == "Ended"]
        if not ended:
            report.lost += 1
            report.problems.append(f"transaction {transaction_id} never ended")
            continue
        reason = ended[0].payload.get("transactionInfo", {}).get("stoppedReason", "Local")
        report.stop_reasons[reason] = report.stop_reasons.get(reason, 0) + 1
        for context, interval_s in (("Sample.Periodic", sample_interval_s),
                                    ("Sample.Clock", aligned_interval_s)):
            if started is None or not interval_s:
                continue
            missing = _missing_values(events, context, interval_s)
            if missing:
                report.lost += missing
                report.problems.append(f"transaction {transaction_id}: {missing} {context} "
                                       "meter value(s) missing")

    report.transactions = len(by_id)
    report.sessions_without_transaction = len(sessions) - len(matched)
    for session in sessions:
        if session.tag in matched:
            _judge_cut_session(report, session, by_id[matched[session.tag]])
    if charger_transactions > len(by_id):
        report.lost += charger_transactions - len(by_id)
        report.problems.append(f"the charger started {charger_transactions} transactions, "
                               f"the CSMS saw {len(by_id)}")
    elif charger_transactions < len(by_id):
        report.invented += len(by_id) - charger_transactions
        report.problems.append(f"the CSMS saw {len(by_id)} transactions, the charger "
                               f"started {charger_transactions}")
    return report


def _distinct(report: ChaosReport201, transaction_id: str, received: list[Frame]
              ) -> list[Frame]:
    """The events without identical re-sends (counted as duplicates)."""
    seen: dict[str, Frame] = {}
    by_seq_no: dict[Any, Frame] = {}
    out: list[Frame] = []
    ended_seen = False
    for frame in received:
        key = _canonical(frame.payload)
        if key in seen:
            report.duplicates += 1
            if ended_seen and frame.payload.get("eventType") != "Ended":
                report.replayed_after_ended += 1
                report.problems.append(f"transaction {transaction_id}: #{frame.seq} "
                                       f"{frame.payload.get('eventType')} seqNo "
                                       f"{frame.payload.get('seqNo')} re-sent after Ended")
            continue
        ended_seen = ended_seen or frame.payload.get("eventType") == "Ended"
        seq_no = frame.payload.get("seqNo")
        if seq_no in by_seq_no:
            report.reordered += 1
            report.problems.append(f"transaction {transaction_id}: seqNo {seq_no} at "
                                   f"#{frame.seq} differs from #{by_seq_no[seq_no].seq}: "
                                   f"{by_seq_no[seq_no].payload} then {frame.payload}")
            continue
        seen[key] = by_seq_no[seq_no] = frame
        out.append(frame)
    return out


def _judge_sequence(report: ChaosReport201, transaction_id: str, events: list[Frame]) -> None:
    """seqNo 0, 1, 2, ... in the order received; Started first and once; Ended last and
    once; timestamps and energy never going back."""
    seq_nos = [e.payload.get("seqNo") for e in events]
    types = [e.payload.get("eventType") for e in events]
    problem = ""
    if any(not isinstance(n, int) for n in seq_nos):
        problem = f"seqNo not an integer: {seq_nos}"
    elif seq_nos != sorted(seq_nos):
        problem = f"seqNo steps back in the order received: {seq_nos}"
    elif types.count("Started") > 1 or ("Started" in types and (
            types[0] != "Started" or seq_nos[0] != 0)):
        problem = f"does not open with one Started, seqNo 0: {list(zip(types, seq_nos))}"
    elif "Ended" in types and types.index("Ended") != len(types) - 1:
        problem = f"events after Ended: {types}"
    else:
        problem = _time_or_energy_problem(events)
    if problem:
        report.reordered += 1
        report.problems.append(f"transaction {transaction_id}: {problem}")
    if all(isinstance(n, int) for n in seq_nos):
        expected = set(range(max(seq_nos, default=-1) + 1))
        gaps = sorted(expected - set(seq_nos))
        if gaps:
            report.lost += len(gaps)
            report.problems.append(f"transaction {transaction_id}: seqNo gap, {gaps} never "
                                   f"arrived (received {seq_nos})")


def _own_values(frame: Frame) -> list[dict]:
    """The meter values an event reports as taken at it: an Ended also carries the
    transaction's sampled data (SampledDataCtrlr.TxEndedMeasurands, the history already
    sent in Updated events), of which only its Transaction.End values are new."""
    values = frame.payload.get("meterValue", [])
    if frame.payload.get("eventType") != "Ended":
        return values
    return [v for v in values
            if any(s.get("context") == "Transaction.End" for s in v.get("sampledValue", []))]


def _time_or_energy_problem(events: list[Frame]) -> str:
    last_time = None
    last_energy = None
    for frame in events:
        stamp = parse_time(frame.payload.get("timestamp"))
        if stamp is None:
            return f"unreadable timestamp at #{frame.seq}"
        if last_time is not None and stamp < last_time - TIMESTAMP_TOLERANCE_S:
            return f"timestamp goes back at #{frame.seq}"
        for meter_value in _own_values(frame):
            value_time = parse_time(meter_value.get("timestamp"))
            if value_time is None or (last_time is not None
                                      and value_time < last_time - TIMESTAMP_TOLERANCE_S):
                return f"meter value timestamp goes back at #{frame.seq}"
            for sampled in meter_value.get("sampledValue", []):
                if sampled.get("measurand", ENERGY) != ENERGY:
                    continue
                energy = float(sampled["value"])
                if last_energy is not None and energy < last_energy:
                    return f"energy goes back ({last_energy} -> {energy}) at #{frame.seq}"
                last_energy = energy
        last_time = stamp if last_time is None else max(last_time, stamp)
    return ""


def _missing_values(events: list[Frame], context: str, interval_s: float) -> int:
    """Values of ``context`` missing between the Started and the Ended."""
    times = [parse_time(events[0].payload["timestamp"]),
             parse_time(events[-1].payload["timestamp"])]
    for frame in events:
        for meter_value in _own_values(frame):
            if context in {v.get("context") for v in meter_value.get("sampledValue", [])}:
                times.append(parse_time(meter_value["timestamp"]))
    times = sorted(t for t in times if t is not None)
    missing = 0
    for earlier, later in zip(times, times[1:]):
        if later - earlier > GAP_FACTOR * interval_s:
            missing += max(1, round((later - earlier) / interval_s) - 1)
    return missing


def _match_session(report: ChaosReport201, transaction_id: str, started: Frame,
                   by_tag: dict[str, Session], matched: dict[str, str]) -> None:
    token = started.payload.get("idToken") or {}
    tag = token.get("idToken")
    evse = (started.payload.get("evse") or {}).get("id")
    session = by_tag.get(tag)
    if session is None or session.connector_id != evse:
        report.invented += 1
        report.problems.append(f"transaction {transaction_id}: Started {started.payload} "
                               "matches no session the driver began")
    elif tag in matched:
        report.invented += 1
        report.problems.append(f"transactions {matched[tag]} and {transaction_id} both "
                               f"started for the session of {tag}")
    else:
        matched[tag] = transaction_id


class _Clock:
    """When the CSMS had a connection from the station, on the wall clock (UNIX s):
    the record's frames give the offset between its monotonic and wall clocks."""

    def __init__(self, frames: list[Frame], connections: list[ConnectionRecord]):
        offset = (frames[0].wall_time.timestamp() - frames[0].monotonic_s) if frames else 0.0
        self.spans = sorted((c.opened_monotonic_s + offset,
                             (c.closed_monotonic_s + offset) if c.closed_monotonic_s is not None
                             else float("inf")) for c in connections)
        self.offset = offset

    def in_gap(self, at_s: float) -> bool:
        """No connection within ``OFFLINE_MARGIN_S`` of ``at_s``."""
        return not any(opened - OFFLINE_MARGIN_S <= at_s <= closed + OFFLINE_MARGIN_S
                       for opened, closed in self.spans)

    def delivered_on(self, frame: Frame) -> float | None:
        """Wall time the connection that carried ``frame`` opened."""
        received_s = frame.monotonic_s + self.offset
        opened = [o for o, c in self.spans if o <= received_s <= c]
        return max(opened) if opened else None


def _judge_offline(report: ChaosReport201, transaction_id: str, events: list[Frame],
                   clock: _Clock) -> None:
    for frame in events:
        stamp = parse_time(frame.payload.get("timestamp"))
        offline = frame.payload.get("offline") is True
        report.offline_events += offline
        if stamp is None:
            continue
        if not offline and clock.in_gap(stamp):
            report.offline_problems += 1
            report.problems.append(f"transaction {transaction_id}: #{frame.seq} "
                                   f"{frame.payload.get('eventType')} seqNo "
                                   f"{frame.payload.get('seqNo')} happened with no "
                                   "connection but does not say offline")
        opened = clock.delivered_on(frame)
        if offline and opened is not None and stamp > opened + OFFLINE_MARGIN_S:
            report.offline_problems += 1
            report.problems.append(f"transaction {transaction_id}: offline #{frame.seq} "
                                   f"stamped {stamp - opened:.1f} s after its connection "
                                   "opened: the send time, not its own")


def _judge_cut_session(report: ChaosReport201, session: Session, received: list[Frame]
                       ) -> None:
    if session.cut_for_s < OFFLINE_MARGIN_S:
        return
    started = next((e for e in received if e.payload.get("eventType") == "Started"), None)
    if started is None:
        return
    report.cut_sessions_checked += 1
    stamp = parse_time(started.payload.get("timestamp"))
    if started.payload.get("offline") is not True or stamp is None or not (
            session.tapped_at_s - OFFLINE_MARGIN_S <= stamp
            <= session.answered_at_s + OFFLINE_MARGIN_S):
        report.offline_problems += 1
        report.problems.append(f"session {session.tag} began with the network cut for "
                               f"{session.cut_for_s:.1f} s (tap at {session.tapped_at_s:.3f}"
                               f"), its Started is {started.payload}")
