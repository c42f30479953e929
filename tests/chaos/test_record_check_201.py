"""The 2.0.1 judge of the chaos run on hand-made records: each rule it enforces fails
on the record that breaks it (a judge that passes everything proves nothing).

Rules: ocpp201-rules.md §3 (seqNo gap-free per transaction, Started 0, nothing after
Ended), [S201] TransactionEventRequest ``offline`` (TC_E_40).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from devcsms.handshake import ConnectionRecord
from devcsms.recording import FROM_CP, TO_CP, Frame
from devcsms.validation import CALL, CALLERROR, CALLRESULT

from .record_check_201 import Session, check_record_201

STATION = "CP-T"
T0 = 1_800_000_000.0  # wall clock (UNIX s) of monotonic 0 in these records


def stamp(at_s: float) -> str:
    return datetime.fromtimestamp(T0 + at_s, timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def event(kind: str, seq_no: int, at_s: float, *, tx: str = "1-A", energy: float | None = None,
          offline: bool = False, tag: str = "TAG1", evse: int = 1,
          context: str = "Sample.Periodic") -> dict[str, Any]:
    payload: dict[str, Any] = {"eventType": kind, "timestamp": stamp(at_s),
                               "triggerReason": "Authorized", "seqNo": seq_no,
                               "transactionInfo": {"transactionId": tx}}
    if kind == "Started":
        payload["idToken"] = {"idToken": tag, "type": "ISO14443"}
        payload["evse"] = {"id": evse, "connectorId": 1}
        context = "Transaction.Begin"
    if kind == "Ended":
        payload["transactionInfo"]["stoppedReason"] = "Local"
        context = "Transaction.End"
    if energy is not None:
        payload["meterValue"] = [{"timestamp": stamp(at_s), "sampledValue": [
            {"value": energy, "context": context}]}]
    if offline:
        payload["offline"] = True
    return payload


class Record:
    """A record of accepted (or refused) TransactionEvents, received at ``at_s``."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []

    def _frame(self, direction: str, kind: int, at_s: float, payload: Any,
               request_seq: int | None = None) -> Frame:
        frame = Frame(seq=len(self.frames), monotonic_s=at_s,
                      wall_time=datetime.fromtimestamp(T0 + at_s, timezone.utc),
                      direction=direction, station=STATION, raw="", message_type=kind,
                      unique_id=str(len(self.frames)), action="TransactionEvent",
                      payload=payload, request_seq=request_seq, protocol="ocpp2.0.1")
        self.frames.append(frame)
        return frame

    def send(self, payload: dict[str, Any], received_s: float, accepted: bool = True) -> None:
        call = self._frame(FROM_CP, CALL, received_s, payload)
        self._frame(TO_CP, CALLRESULT if accepted else CALLERROR, received_s, {}, call.seq)


def connection(opened_s: float, closed_s: float | None = None) -> ConnectionRecord:
    return ConnectionRecord(STATION, opened_s, "127.0.0.1", "ocpp2.0.1", closed_s)


ALWAYS_ON = [connection(0.0)]
SESSION = Session("TAG1", 1, tapped_at_s=T0 + 0.9, answered_at_s=T0 + 1.0)


def clean_record() -> Record:
    record = Record()
    record.send(event("Started", 0, 1.0, energy=0), 1.1)
    record.send(event("Updated", 1, 2.0, energy=5), 2.1)
    record.send(event("Ended", 2, 3.0, energy=9), 3.1)
    return record


def judge(record: Record, sessions=(SESSION,), connections=ALWAYS_ON, started: int = 1,
          sample_interval_s: float | None = 1.0):
    return check_record_201(record.frames, STATION, started, list(sessions), connections,
                            sample_interval_s=sample_interval_s)


def test_a_clean_transaction_passes():
    report = judge(clean_record())
    assert (report.transactions, report.lost, report.reordered, report.invented,
            report.duplicates, report.problems) == (1, 0, 0, 0, 0, [])
    assert report.stop_reasons == {"Local": 1}


def test_an_identical_resend_is_a_duplicate_not_an_error():
    record = clean_record()
    record.send(event("Ended", 2, 3.0, energy=9), 3.5)
    report = judge(record)
    assert report.duplicates == 1 and report.problems == []


def test_a_refused_call_does_not_count_and_its_resend_is_no_duplicate():
    record = Record()
    record.send(event("Started", 0, 1.0, energy=0), 1.1, accepted=False)
    record.send(event("Started", 0, 1.0, energy=0), 1.5)
    record.send(event("Ended", 1, 1.9, energy=4), 2.0)
    report = judge(record)
    assert report.duplicates == 0 and report.problems == []


def test_a_seq_no_gap_is_lost():
    record = Record()
    record.send(event("Started", 0, 1.0, energy=0), 1.1)
    record.send(event("Ended", 2, 1.9, energy=4), 2.0)
    report = judge(record)
    assert report.lost == 1 and "seqNo gap" in report.problems[0]


def test_a_seq_no_stepping_back_in_arrival_order_is_reordered():
    record = Record()
    record.send(event("Started", 0, 1.0, energy=0), 1.1)
    record.send(event("Updated", 2, 1.8, energy=4), 1.9)
    record.send(event("Updated", 1, 1.5, energy=2), 2.0)
    record.send(event("Ended", 3, 2.2, energy=5), 2.3)
    assert judge(record).reordered == 1


def test_a_seq_no_reused_with_another_payload_is_a_problem():
    record = clean_record()
    record.send(event("Updated", 1, 2.0, energy=6), 3.5)
    report = judge(record)
    assert report.reordered == 1 and "differs" in report.problems[0]


def test_an_event_after_ended_is_reordered():
    record = clean_record()
    record.send(event("Updated", 3, 3.5, energy=9), 3.6)
    report = judge(record)
    assert report.reordered == 1 and "after Ended" in report.problems[0]


def test_a_transaction_without_ended_is_lost():
    record = Record()
    record.send(event("Started", 0, 1.0, energy=0), 1.1)
    report = judge(record)
    assert report.lost == 1 and "never ended" in report.problems[0]


def test_fewer_transactions_than_the_charger_started_are_lost():
    assert judge(clean_record(), started=2).lost == 1


def test_a_started_no_session_began_is_invented():
    record = Record()
    record.send(event("Started", 0, 1.0, energy=0, tag="STRANGER"), 1.1)
    record.send(event("Ended", 1, 1.9, energy=4), 2.0)
    report = judge(record)
    assert report.invented == 1 and "matches no session" in report.problems[0]


def test_two_transactions_for_one_session_are_invented():
    record = clean_record()
    record.send(event("Started", 0, 4.0, tx="2-B", energy=9), 4.1)
    record.send(event("Ended", 1, 4.9, tx="2-B", energy=9), 5.0)
    assert judge(record, started=2).invented == 1


def test_energy_going_back_is_reordered():
    record = Record()
    record.send(event("Started", 0, 1.0, energy=5), 1.1)
    record.send(event("Ended", 1, 1.9, energy=4), 2.0)
    assert judge(record).reordered == 1


def test_missing_periodic_values_are_lost():
    record = Record()
    record.send(event("Started", 0, 1.0, energy=0), 1.1)
    record.send(event("Ended", 1, 5.0, energy=4), 5.1)
    assert judge(record).lost == 3


def test_an_event_during_a_disconnection_must_say_offline():
    record = Record()
    record.send(event("Started", 0, 1.0, energy=0), 1.1)
    record.send(event("Updated", 1, 10.0, energy=5), 20.1)  # happened with no connection
    record.send(event("Ended", 2, 20.5, energy=9), 20.6)
    connections = [connection(0.0, 5.0), connection(20.0)]
    report = judge(record, connections=connections, sample_interval_s=None)
    assert report.offline_problems == 1 and "does not say offline" in report.problems[0]
    record.frames[2] = replace(record.frames[2],
                               payload=event("Updated", 1, 10.0, energy=5, offline=True))
    assert judge(record, connections=connections, sample_interval_s=None).problems == []


def test_an_offline_event_stamped_with_its_send_time_is_a_problem():
    record = Record()
    record.send(event("Started", 0, 1.0, energy=0), 1.1)
    record.send(event("Updated", 1, 24.0, energy=5, offline=True), 24.1)
    record.send(event("Ended", 2, 24.5, energy=9), 24.6)
    report = judge(record, connections=[connection(0.0, 5.0), connection(20.0)],
                   sample_interval_s=None)
    assert report.offline_problems == 1 and "send time" in report.problems[0]


def test_a_session_begun_with_the_network_cut_starts_offline_at_the_tap():
    cut = Session("TAG1", 1, tapped_at_s=T0 + 10.0, answered_at_s=T0 + 10.1, cut_for_s=5.0)
    record = Record()
    record.send(event("Started", 0, 10.05, energy=0, offline=True), 21.0)
    record.send(event("Ended", 1, 21.5, energy=0), 21.6)
    connections = [connection(0.0, 5.0), connection(20.0)]
    assert judge(record, sessions=[cut], connections=connections,
                 sample_interval_s=None).problems == []
    late = Record()
    late.send(event("Started", 0, 20.5, energy=0, offline=True), 21.0)  # stamped when sent
    late.send(event("Ended", 1, 21.5, energy=0), 21.6)
    report = judge(late, sessions=[cut], connections=connections, sample_interval_s=None)
    assert report.offline_problems == 1 and "network cut" in report.problems[0]


def test_a_replay_of_earlier_events_after_ended_is_flagged():
    record = clean_record()
    record.send(event("Started", 0, 1.0, energy=0), 4.0)  # identical, but after Ended
    report = judge(record)
    assert report.duplicates == 1 and report.replayed_after_ended == 1
    assert "re-sent after Ended" in report.problems[0]
