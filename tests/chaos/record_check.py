"""Judge the CSMS's record of transaction messages after a fault-injection run.

Only CALLs the CSMS accepted count (answered with a CALLRESULT): a CALL answered with a
CALLERROR, or cut off before any answer, was not processed and is legitimately sent
again. From those:

- A **charger transaction** is one StartTransaction payload (connector, idTag,
  meterStart, timestamp: the event's values, identical however often it is sent).
  Sending it again after the CSMS answered (the agent died, or the answer was lost on
  the way) makes the CSMS hand out another transactionId: a **duplicate start**. The
  agent uses the id of the answer it committed, so exactly one of those ids may carry
  meter values and the stop; the others must carry nothing.
- **lost**: a transaction the charger started (``charger_transactions``, counted from
  its database) that the CSMS never saw started, or saw started and never stopped;
  and meter values missing: with ``sample_interval_s`` (``aligned_interval_s``), from
  the start, through every Sample.Periodic (Sample.Clock) value, to the stop, no gap
  may exceed ``GAP_FACTOR`` × the interval (a gap of n intervals counts n - 1 lost
  values). A value lost just before a power cut escapes this: the PowerLoss stop
  carries the last checkpoint, which that value made.
- **duplicates**: an accepted message whose identical payload had already been
  accepted (start, meter values, stop). Anything not identical is a problem.
- **reordered**: a transaction whose messages reached the CSMS out of order: meter
  values before its start or after its stop, timestamps or energy going backwards,
  meter values outside [meterStart, meterStop].
- **invented**: a stop or meter values for an id no start produced, two ids of one
  transaction both carrying messages, or more transactions than the charger started.

Timestamps may step back by ``TIMESTAMP_TOLERANCE_S``: a clock-aligned sample is
stamped with its slot, a few milliseconds before the moment it was taken.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from devcsms.recording import FROM_CP, TO_CP, Frame
from devcsms.validation import CALL, CALLRESULT
from firmware.ocpp.mapping import parse_time

TX_ACTIONS = ("StartTransaction", "StopTransaction", "MeterValues")
TIMESTAMP_TOLERANCE_S = 2.5
GAP_FACTOR = 1.6


@dataclass
class ChaosReport:
    cycles: int = 0
    transactions: int = 0
    lost: int = 0
    duplicates: int = 0
    reordered: int = 0
    invented: int = 0
    stop_reasons: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"cycles={self.cycles} transactions={self.transactions} lost={self.lost} "
                f"duplicates={self.duplicates} reordered={self.reordered}")


def _canonical(payload: Any) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"))


def _energy_values(payload: dict) -> list[float]:
    out = []
    for meter_value in payload.get("meterValue", []):
        for sampled in meter_value.get("sampledValue", []):
            if sampled.get("measurand", "Energy.Active.Import.Register") == \
                    "Energy.Active.Import.Register":
                out.append(float(sampled["value"]))
    return out


def _timestamps(payload: dict) -> list[float]:
    return [parse_time(mv.get("timestamp")) for mv in payload.get("meterValue", [])]


def accepted_calls(frames: list[Frame], station: str) -> list[tuple[Frame, Frame]]:
    """(CALL, its CALLRESULT) for every transaction CALL of ``station`` the CSMS accepted,
    in the order the CALLs arrived."""
    results = {f.request_seq: f for f in frames
               if f.direction == TO_CP and f.station == station
               and f.message_type == CALLRESULT and f.request_seq is not None}
    return [(f, results[f.seq]) for f in frames
            if f.direction == FROM_CP and f.station == station and f.message_type == CALL
            and f.action in TX_ACTIONS and f.seq in results]


def check_record(frames: list[Frame], station: str, charger_transactions: int,
                 cycles: int = 0, sample_interval_s: float | None = None,
                 aligned_interval_s: float | None = None) -> ChaosReport:
    report = ChaosReport(cycles=cycles)
    calls = accepted_calls(frames, station)
    starts: dict[str, list[tuple[Frame, int]]] = defaultdict(list)  # payload -> (call, id)
    by_id: dict[int, list[Frame]] = defaultdict(list)  # transactionId -> stops and values
    id_of_start: dict[int, str] = {}
    for call, result in calls:
        if call.action == "StartTransaction":
            transaction_id = result.payload.get("transactionId")
            key = _canonical(call.payload)
            starts[key].append((call, transaction_id))
            id_of_start[transaction_id] = key
        elif "transactionId" in call.payload:  # not an idle connector's clock-aligned values
            by_id[call.payload["transactionId"]].append(call)

    for transaction_id, messages in by_id.items():
        if transaction_id not in id_of_start:
            report.invented += 1
            report.problems.append(f"{len(messages)} message(s) for transactionId "
                                   f"{transaction_id}, which no accepted start produced")

    for key, sent in starts.items():
        report.duplicates += len(sent) - 1
        live = [(call, tid) for call, tid in sent if by_id.get(tid)]
        if len(live) > 1:
            report.invented += 1
            report.problems.append(f"start {key} has messages under several ids "
                                   f"{[tid for _, tid in live]}")
        start_call, transaction_id = live[-1] if live else sent[-1]
        messages = by_id.get(transaction_id, [])
        stops = [m for m in messages if m.action == "StopTransaction"]
        values = [m for m in messages if m.action == "MeterValues"]
        if not stops:
            report.lost += 1
            report.problems.append(f"transaction {transaction_id} ({key}) never stopped")
            continue
        if any(_canonical(s.payload) != _canonical(stops[0].payload) for s in stops[1:]):
            report.problems.append(f"transaction {transaction_id}: differing stops "
                                   f"{[s.payload for s in stops]}")
        report.duplicates += len(stops) - 1
        reason = stops[0].payload.get("reason", "Local")
        report.stop_reasons[reason] = report.stop_reasons.get(reason, 0) + 1
        problem, duplicates = _order_problem(start_call, values, stops[0])
        report.duplicates += duplicates
        if problem:
            report.reordered += 1
            report.problems.append(f"transaction {transaction_id}: {problem}")
            continue
        for context, interval_s in (("Sample.Periodic", sample_interval_s),
                                    ("Sample.Clock", aligned_interval_s)):
            if not interval_s:
                continue
            missing = _missing_values(start_call, values, stops[0], context, interval_s)
            if missing:
                report.lost += missing
                report.problems.append(f"transaction {transaction_id}: {missing} {context} "
                                       "meter value(s) missing")

    report.transactions = len(starts)
    if charger_transactions > len(starts):
        report.lost += charger_transactions - len(starts)
        report.problems.append(f"the charger started {charger_transactions} transactions, "
                               f"the CSMS saw {len(starts)} started")
    elif charger_transactions < len(starts):
        report.invented += len(starts) - charger_transactions
        report.problems.append(f"the CSMS saw {len(starts)} transactions started, the "
                               f"charger started {charger_transactions}")
    return report


def _order_problem(start: Frame, values: list[Frame], stop: Frame) -> tuple[str, int]:
    """(what is out of order or "", duplicate meter values) for one transaction."""
    duplicates = 0
    distinct: list[Frame] = []
    for frame in values:
        if distinct and _canonical(frame.payload) == _canonical(distinct[-1].payload):
            duplicates += 1
            continue
        distinct.append(frame)
    if any(v.seq < start.seq for v in values):
        return "meter values before the start", duplicates
    if any(v.seq > stop.seq for v in values):
        return "meter values after the stop", duplicates
    meter_start = float(start.payload["meterStart"])
    meter_stop = float(stop.payload["meterStop"])
    if meter_stop < meter_start:
        return f"meterStop {meter_stop} < meterStart {meter_start}", duplicates
    last_time = parse_time(start.payload["timestamp"])
    last_energy = meter_start
    for frame in distinct:
        for stamp in _timestamps(frame.payload):
            if stamp is None or stamp < last_time - TIMESTAMP_TOLERANCE_S:
                return f"meter value timestamp goes back at #{frame.seq}", duplicates
            last_time = max(last_time, stamp)
        for energy in _energy_values(frame.payload):
            if energy < last_energy:
                return f"energy goes back ({last_energy} -> {energy}) at #{frame.seq}", duplicates
            last_energy = energy
    if last_energy > meter_stop:
        return f"meterStop {meter_stop} below a meter value {last_energy}", duplicates
    stop_time = parse_time(stop.payload["timestamp"])
    if stop_time is None or stop_time < last_time - TIMESTAMP_TOLERANCE_S:
        return "stop timestamp before a meter value", duplicates
    return "", duplicates


def _missing_values(start: Frame, values: list[Frame], stop: Frame, context: str,
                    interval_s: float) -> int:
    """Values of ``context`` missing between the start and the stop (``GAP_FACTOR``)."""
    times = [parse_time(start.payload["timestamp"])]
    for frame in values:
        for meter_value in frame.payload.get("meterValue", []):
            contexts = {v.get("context") for v in meter_value.get("sampledValue", [])}
            if context in contexts:
                times.append(parse_time(meter_value["timestamp"]))
    times.append(parse_time(stop.payload["timestamp"]))
    times.sort()
    missing = 0
    for earlier, later in zip(times, times[1:]):
        if later - earlier > GAP_FACTOR * interval_s:
            missing += max(1, round((later - earlier) / interval_s) - 1)
    return missing
