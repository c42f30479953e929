"""The OCPP 2.0.1 actions Borne supports, by direction and functional block, as data.

From issue #9 ("Core and Advanced Security-free functional blocks") and
ocpp201-rules.md §1-§6: B provisioning, C authorization, D local list, E transactions,
F remote control, G availability, H reservation, I tariff and cost, J meter values, K smart charging, P data
transfer, A security events. CALLs answered outside the core (``firmware.ocpp.services``)
are added by the dispatcher (``V201InboundDispatcher.supported``). Any other known 2.0.1
action (``schemas.known_actions``) is answered NotSupported ([J201] §4.3: "recognized but
not supported").

An action name is the message name without "Request" ([J201] §4.1.6).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["CS->CSMS", "CSMS->CS"]


@dataclass(frozen=True)
class Action:
    name: str
    direction: Direction  # who sends the CALL; the other side sends the CALLRESULT
    block: str            # functional block of OCPP 2.0.1 Part 2
    why: str              # the use case(s) / rule it serves


ACTIONS: tuple[Action, ...] = (
    # B — Provisioning (rules §1)
    Action("BootNotification", "CS->CSMS", "B", "B01-B03 cold boot, Pending/Rejected"),
    Action("Heartbeat", "CS->CSMS", "B", "G02/B01 interval; clock sync at least daily ([J201] §5.2)"),
    Action("NotifyReport", "CS->CSMS", "B", "B07/B08 report parts after GetBaseReport"),
    Action("GetVariables", "CSMS->CS", "B", "B06 device model, also while Pending"),
    Action("SetVariables", "CSMS->CS", "B", "B05 device model, RebootRequired"),
    Action("GetBaseReport", "CSMS->CS", "B", "B07 Configuration/Full/SummaryInventory"),
    Action("GetReport", "CSMS->CS", "B", "B08 componentVariable / componentCriteria"),
    Action("Reset", "CSMS->CS", "B", "B11/B12 OnIdle / Immediate"),
    # C — Authorization (rules §2)
    Action("Authorize", "CS->CSMS", "C", "C01 idToken with its type"),
    Action("ClearCache", "CSMS->CS", "C", "C11 AuthCacheCtrlr"),
    # D — Local authorization list (issue #9 item 3)
    Action("SendLocalList", "CSMS->CS", "D", "D01 full / differential update"),
    Action("GetLocalListVersion", "CSMS->CS", "D", "D02"),
    # E — Transactions (rules §3)
    Action("TransactionEvent", "CS->CSMS", "E", "E01-E13 Started/Updated/Ended, seqNo, offline"),
    Action("GetTransactionStatus", "CSMS->CS", "E", "E14 messagesInQueue / ongoingIndicator"),
    # F — Remote control (rules §4)
    Action("RequestStartTransaction", "CSMS->CS", "F", "F01/F02 remoteStartId"),
    Action("RequestStopTransaction", "CSMS->CS", "F", "F03"),
    Action("UnlockConnector", "CSMS->CS", "F", "F05"),
    Action("TriggerMessage", "CSMS->CS", "F", "F06"),
    # G — Availability (rules §5)
    Action("StatusNotification", "CS->CSMS", "G", "G01 per EVSE/connector"),
    Action("ChangeAvailability", "CSMS->CS", "G", "G03-G05 station / EVSE / connector"),
    # H — Reservation (rules §7; issue #10 item 3)
    Action("ReserveNow", "CSMS->CS", "H", "H01-H03 an EVSE or any EVSE, groupIdToken"),
    Action("CancelReservation", "CSMS->CS", "H", "H02"),
    Action("ReservationStatusUpdate", "CS->CSMS", "H", "H04 Expired / Removed"),
    # J — Meter values (rules §6): EVSE 0 and idle EVSEs; in a tx, TransactionEvent
    Action("MeterValues", "CS->CSMS", "J", "J01 main meter and idle EVSEs"),
    # I — Tariff and cost (rules §7 "I"; firmware.core.csms_cost)
    Action("CostUpdated", "CSMS->CS", "I", "I02 running cost shown to the driver"),
    # K — Smart charging (smart-charging.md; firmware.ocpp.v201.smart_charging)
    Action("SetChargingProfile", "CSMS->CS", "K", "K01 install, K01.FR.xx refusals"),
    Action("ClearChargingProfile", "CSMS->CS", "K", "K10 by id or criteria"),
    Action("GetCompositeSchedule", "CSMS->CS", "K", "K08 composite of all purposes"),
    Action("GetChargingProfiles", "CSMS->CS", "K", "K09 report installed profiles"),
    Action("ReportChargingProfiles", "CS->CSMS", "K", "K09 one report per EVSE"),
    # A — Security events (security-whitepaper.md §7)
    Action("SecurityEventNotification", "CS->CSMS", "A", "A04 critical ones queued durably"),
    # A, M — Certificate management (firmware.security.v201_service)
    Action("SignCertificate", "CS->CSMS", "A", "A02/A03 CSR for a new key, O = OrganizationName"),
    Action("CertificateSigned", "CSMS->CS", "A", "A02 chain to an installed CSMS root"),
    Action("InstallCertificate", "CSMS->CS", "M", "M05 CSMS/Manufacturer roots"),
    Action("DeleteCertificate", "CSMS->CS", "M", "M04 not the station's own, not the one in use"),
    Action("GetInstalledCertificateIds", "CSMS->CS", "M", "M03 certificateHashDataChain"),
    # L — Firmware management (security-whitepaper.md §9; issue 11 item 4)
    Action("UpdateFirmware", "CSMS->CS", "L", "L01 signed update, answered by firmware.update"),
    Action("FirmwareStatusNotification", "CS->CSMS", "L", "L01 every step, with the requestId"),
    # N — Logs (security-whitepaper.md §8; issue #11 item 3)
    Action("GetLog", "CSMS->CS", "N", "N01 DiagnosticsLog / SecurityLog upload"),
    Action("LogStatusNotification", "CS->CSMS", "N", "N01 Uploading → Uploaded / failure"),
    # P — Data transfer: either side may send it
    Action("DataTransfer", "CS->CSMS", "P", "P02"),
    Action("DataTransfer", "CSMS->CS", "P", "P01"),
)

CS_TO_CSMS: frozenset[str] = frozenset(a.name for a in ACTIONS if a.direction == "CS->CSMS")
"""CALLs the station sends (their Request schema checks ours, the Response theirs)."""

CSMS_TO_CS: frozenset[str] = frozenset(a.name for a in ACTIONS if a.direction == "CSMS->CS")
"""CALLs the station answers; any other known 2.0.1 action gets NotSupported."""

TRIGGERABLE: frozenset[str] = frozenset({
    "BootNotification", "Heartbeat", "MeterValues", "StatusNotification", "TransactionEvent"})
"""``TriggerMessage.requestedMessage`` values we can act on (rules §4: the others of the
MessageTriggerEnumType are answered NotImplemented, TC_F_27)."""
