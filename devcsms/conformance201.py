"""OCPP 2.0.1 ordering rules a charging station must follow, checked over the recorded frames.

`BootSequenceRule201` (B01-B03, /work/shared/reference/ocpp201-rules.md §1):
- after sending BootNotification and until it is answered, the station sends no other request;
- while Pending, it sends nothing but BootNotification, a message a TriggerMessage it Accepted asked
  for, and NotifyReport after it accepted a GetBaseReport/GetReport (B02.FR.01-08);
- while Rejected, it sends nothing but a new BootNotification (B03.FR.02); answering a CSMS request with
  CALLERROR SecurityError is what it must do (B03.FR.08), anything else is a violation.
A station first seen without a BootNotification (the CSMS restarted while it kept running) is not judged.

`TransactionSequenceRule` (E, §3): per station and transactionId the seqNo of TransactionEvents counts up
by one, without gaps, repeats or steps back; nothing follows Ended. A re-send of the very same event
(same payload, e.g. after a lost CALLRESULT) is a retry, not a repeat. The first event seen of a
transaction sets the start (it may have begun before this CSMS watched).

Pure and synchronous; `observe` is called for every recorded frame of a 2.0.1 station, in order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from devcsms.validation import CALL, CALLERROR, CALLRESULT

if TYPE_CHECKING:
    from devcsms.recording import Frame

_BOOTING = "Booting"
_REPORT_REQUESTS = ("GetBaseReport", "GetReport")


def _payload(frame: Frame) -> dict:
    return frame.payload if isinstance(frame.payload, dict) else {}


class BootSequenceRule201:
    """Tracks each station's registration state and reports what it sends when that is not allowed."""

    def __init__(self) -> None:
        self._registration_by_station: dict[str, str] = {}
        self._requested_by_call: dict[tuple[str, str], str] = {}
        self._allowed_by_station: dict[str, set[str]] = {}

    def observe(self, frame: Frame) -> list[str]:
        """Update the state with `frame`; return the violations it commits (only for from_cp frames)."""
        if frame.direction == "to_cp":
            self._observe_csms_frame(frame)
            return []
        return self._observe_station_frame(frame)

    def _observe_csms_frame(self, frame: Frame) -> None:
        station = frame.station
        if frame.message_type == CALLRESULT and frame.action == "BootNotification":
            status = _payload(frame).get("status")
            self._registration_by_station[station] = (
                status if status in ("Accepted", "Pending", "Rejected") else _BOOTING
            )
            self._allowed_by_station.pop(station, None)
        elif frame.message_type == CALL and frame.unique_id:
            if frame.action == "TriggerMessage":
                requested = _payload(frame).get("requestedMessage")
                if isinstance(requested, str):
                    self._requested_by_call[(station, frame.unique_id)] = requested
            elif frame.action in _REPORT_REQUESTS:
                self._requested_by_call[(station, frame.unique_id)] = "NotifyReport"

    def _observe_station_frame(self, frame: Frame) -> list[str]:
        station = frame.station
        registration = self._registration_by_station.get(station)
        if frame.message_type == CALL and frame.action == "BootNotification":
            self._registration_by_station[station] = _BOOTING
            return []
        if frame.message_type == CALLRESULT and frame.unique_id:
            requested = self._requested_by_call.pop((station, frame.unique_id), None)
            if requested is not None and _payload(frame).get("status") == "Accepted":
                self._allowed_by_station.setdefault(station, set()).add(requested)
        if registration == "Rejected":
            if frame.message_type == CALLERROR and frame.error_code == "SecurityError":
                return []
            return [
                "sent while its BootNotification is Rejected (OCPP 2.0.1 B03.FR.02/08: nothing but a new "
                "BootNotification; CSMS requests get CALLERROR SecurityError)"
            ]
        if frame.message_type != CALL:
            return []
        if registration == _BOOTING:
            return [f"{frame.action} sent before its BootNotification was answered (OCPP 2.0.1 B01/B02)"]
        if registration == "Pending" and frame.action not in self._allowed_by_station.get(station, ()):
            return [
                f"{frame.action} sent while Pending without a TriggerMessage or report request for it "
                "(OCPP 2.0.1 B02)"
            ]
        return []


class _TransactionTrack:
    def __init__(self, seq_no: int, payload: dict, ended: bool) -> None:
        self.last_seq_no = seq_no
        self.last_payload = payload
        self.ended = ended


class TransactionSequenceRule:
    """seqNo gap-free and increasing per (station, transactionId); no event after Ended."""

    def __init__(self) -> None:
        self._tracks: dict[tuple[str, str], _TransactionTrack] = {}

    def observe(self, frame: Frame) -> list[str]:
        if frame.direction != "from_cp" or frame.message_type != CALL or frame.action != "TransactionEvent":
            return []
        payload = _payload(frame)
        info: Any = payload.get("transactionInfo")
        transaction_id = info.get("transactionId") if isinstance(info, dict) else None
        seq_no = payload.get("seqNo")
        if not isinstance(transaction_id, str) or type(seq_no) is not int:
            return []  # the schema check reports it
        ended = payload.get("eventType") == "Ended"
        key = (frame.station, transaction_id)
        track = self._tracks.get(key)
        if track is None:
            self._tracks[key] = _TransactionTrack(seq_no, payload, ended)
            return []
        if seq_no == track.last_seq_no and payload == track.last_payload:
            return []  # a retry of the same event
        problems = []
        if track.ended:
            problems.append(f"TransactionEvent {payload.get('eventType')} after transaction {transaction_id} Ended")
        if seq_no == track.last_seq_no:
            problems.append(f"seqNo {seq_no} of transaction {transaction_id} repeated with a different event")
        elif seq_no < track.last_seq_no:
            problems.append(f"seqNo of transaction {transaction_id} went back from {track.last_seq_no} to {seq_no}")
        elif seq_no > track.last_seq_no + 1:
            missing = f"{track.last_seq_no + 1}" if seq_no == track.last_seq_no + 2 else (
                f"{track.last_seq_no + 1}..{seq_no - 1}"
            )
            problems.append(
                f"seqNo gap in transaction {transaction_id}: {track.last_seq_no} then {seq_no} (missing {missing})"
            )
        track.last_seq_no = max(track.last_seq_no, seq_no)
        track.last_payload = payload
        track.ended = track.ended or ended
        return problems
