"""Ordering rules a charge point must follow, checked over the recorded frames of each station.

`rules_for` gives the rules of one OCPP version; the 2.0.1 ones are in `conformance201`. For 1.6, only rules the specification states without room for interpretation are checked here (OCPP 1.6 §4.2):

- after sending BootNotification and until it is answered Accepted or Pending, a charge point sends no
  other request (this includes queued transaction messages);
- while Pending, it sends no request other than BootNotification unless the CSMS asked for that message
  with a TriggerMessage it Accepted;
- while Rejected, it sends nothing but a new BootNotification (it does not even answer CSMS calls).

A station first seen without a BootNotification (for example after the CSMS restarted while the charge
point kept running) is not judged: the charge point only has to boot after a (re)boot of its own.
Pure and synchronous; `observe` is called for every recorded frame in both directions, in order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from devcsms.conformance201 import BootSequenceRule201, TransactionSequenceRule
from devcsms.v21 import OCPP2_SUBPROTOCOLS
from devcsms.validation import CALL, CALLRESULT

if TYPE_CHECKING:
    from devcsms.recording import Frame


class FrameRule(Protocol):
    """An ordering rule: sees every frame of the stations of one version, returns the violations."""

    def observe(self, frame: Frame) -> list[str]: ...


def rules_for(subprotocol: str, *, check_boot_sequence: bool) -> list[FrameRule]:
    """Fresh rule objects for the stations speaking `subprotocol` (1.6 unless "ocpp2.0.1" or "ocpp2.1",
    which share the 2.0.1 rules: 2.1 keeps B01-B03 and the TransactionEvent seqNo)."""
    if subprotocol in OCPP2_SUBPROTOCOLS:
        boot201: list[FrameRule] = [BootSequenceRule201()] if check_boot_sequence else []
        return [*boot201, TransactionSequenceRule()]
    return [BootSequenceRule()] if check_boot_sequence else []

# Registration states besides the three BootNotification.conf statuses.
_BOOTING = "Booting"  # BootNotification sent, not (yet) answered Accepted/Pending/Rejected


class BootSequenceRule:
    """Tracks each station's registration state and reports requests sent when they are not allowed."""

    def __init__(self) -> None:
        self._registration_by_station: dict[str, str] = {}
        self._trigger_request_by_call: dict[tuple[str, str], str] = {}
        self._triggered_by_station: dict[str, set[str]] = {}

    def observe(self, frame: Frame) -> list[str]:
        """Update the state with `frame`; return the rule violations it commits (only for from_cp frames)."""
        if frame.direction == "to_cp":
            self._observe_csms_frame(frame)
            return []
        return self._observe_charge_point_frame(frame)

    def _observe_csms_frame(self, frame: Frame) -> None:
        station = frame.station
        if frame.message_type == CALLRESULT and frame.action == "BootNotification":
            status = frame.payload.get("status") if isinstance(frame.payload, dict) else None
            self._registration_by_station[station] = (
                status if status in ("Accepted", "Pending", "Rejected") else _BOOTING
            )
            self._triggered_by_station.pop(station, None)
        elif frame.message_type == CALL and frame.action == "TriggerMessage" and frame.unique_id:
            requested = frame.payload.get("requestedMessage") if isinstance(frame.payload, dict) else None
            if isinstance(requested, str):
                self._trigger_request_by_call[(station, frame.unique_id)] = requested

    def _observe_charge_point_frame(self, frame: Frame) -> list[str]:
        station = frame.station
        registration = self._registration_by_station.get(station)
        if frame.message_type == CALL and frame.action == "BootNotification":
            self._registration_by_station[station] = _BOOTING
            return []
        if frame.message_type == CALLRESULT and frame.action == "TriggerMessage" and frame.unique_id:
            requested = self._trigger_request_by_call.pop((station, frame.unique_id), None)
            status = frame.payload.get("status") if isinstance(frame.payload, dict) else None
            if requested is not None and status == "Accepted":
                self._triggered_by_station.setdefault(station, set()).add(requested)
        if registration == "Rejected":
            return ["sent while its BootNotification is Rejected (OCPP 1.6 §4.2: nothing until a new boot)"]
        if frame.message_type != CALL:
            return []
        if registration == _BOOTING:
            return [
                f"{frame.action} sent before its BootNotification was answered Accepted or Pending (OCPP 1.6 §4.2)"
            ]
        if registration == "Pending" and frame.action not in self._triggered_by_station.get(station, ()):
            return [f"{frame.action} sent while Pending without a TriggerMessage for it (OCPP 1.6 §4.2)"]
        return []
