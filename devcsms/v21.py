"""OCPP-J 2.1 for the development CSMS: the version's checks and the CALLERROR an invalid request earns.

2.1 keeps 2.0.1's framing and CALLERROR rules, so `refusal` is `devcsms.v201.refusal` run with this
version's schemas and actions (see that module for the rules). What differs, from the `ocpp` library
2.1.0 (`ocpp/v21`, /work/shared/reference/ocpp201-rules.md §9-§10):

- schemas: `ocpp/v21/schemas`, 181 files declaring draft-06 like 2.0.1's, but without a byte order mark
  (read as utf-8-sig anyway, which accepts both);
- error codes: the 2.0.1 set; the library's exceptions add none for 2.1;
- actions: the library's `ocpp.v21.enums.Action` (2.0.1's plus 26). Which of the new ones a charging
  station sends was decided from the schema descriptions (`CHARGING_STATION_ACTIONS`, below); the
  library gives an unhandled 2.1 action no reply at all, so the refusal must be ours.

SEND (NotifyPeriodicEventStream, whose schema has no Request/Response pair) and CALLRESULTERROR are new
in OCPP-J 2.1 and not handled by the library 2.1.0. Their MessageTypeIds, 6 and 5, are our reading of
OCPP-J 2.1 (not in the facts files, which name SEND only; the station's firmware reads them alike).
Being in `OCPP21.message_types`, they are never answered (answering a SEND would break 2.1) and the
record checks them: a SEND against `<Action>.json`, a CALLRESULTERROR's framing and code. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Container
from pathlib import Path

import jsonschema
import ocpp.v21
from ocpp.v21.enums import Action

from devcsms import v201
from devcsms.v201 import Refusal
from devcsms.validation import BASE_MESSAGE_TYPES, CALLRESULTERROR, SEND, OcppVersion

SUBPROTOCOL = "ocpp2.1"

# Versions whose messages have the 2.0.1 shapes (TransactionEvent, IdToken objects, evseId): recording,
# printing, transactions and conformance treat their frames alike.
OCPP2_SUBPROTOCOLS = frozenset({v201.SUBPROTOCOL, SUBPROTOCOL})

KNOWN_ACTIONS = frozenset(action.value for action in Action)

# The 2.1 requests whose sender is the station, by what their schemas say (ocpp/v21/schemas):
#   BatterySwap             requestId "to correlate BatteryIn/Out events and optional RequestBatterySwapRequest"
#   ClosePeriodicEventStream, OpenPeriodicEventStream   the station's stream of a monitor's events
#   GetCertificateChainStatus  the station asks the revocation status of a chain (as GetCertificateStatus)
#   NotifyDERAlarm          "Optional info provided by EV"; NotifyDERStartStop: a SetDERControl's control started
#   NotifyPriorityCharging  "True if priority charging was activated"
#   NotifySettlement        pspRef "received from the payment terminal" (ocpp201-rules.md §9)
#   PullDynamicScheduleUpdate  the response carries the scheduleUpdate: the station pulls it
#   ReportDERControl        the answer to GetDERControl, like ReportChargingProfiles
#   VatNumberValidation     "EVSE id for which check is done"; the response carries the company address
# and not, being sent by the CSMS: AFRRSignal, AdjustPeriodicEventStream, ChangeTransactionTariff,
# ClearDERControl, ClearTariffs, GetDERControl, GetPeriodicEventStream, GetTariffs,
# NotifyAllowedEnergyTransfer ("modes of energy transfer that are accepted by CSMS"),
# NotifyWebPaymentStarted (the timeout "after which no result of web payment process is to be expected":
# the station waits), RequestBatterySwap, SetDERControl, SetDefaultTariff, UpdateDynamicSchedule,
# UsePriorityCharging. NotifyPeriodicEventStream is a SEND, never a CALL.
NEW_CHARGING_STATION_ACTIONS = frozenset(
    {
        "BatterySwap",
        "ClosePeriodicEventStream",
        "GetCertificateChainStatus",
        "NotifyDERAlarm",
        "NotifyDERStartStop",
        "NotifyPriorityCharging",
        "NotifySettlement",
        "OpenPeriodicEventStream",
        "PullDynamicScheduleUpdate",
        "ReportDERControl",
        "VatNumberValidation",
    }
)
CHARGING_STATION_ACTIONS = v201.CHARGING_STATION_ACTIONS | NEW_CHARGING_STATION_ACTIONS

UNANSWERED_MESSAGE_TYPES = frozenset({CALLRESULTERROR, SEND})
SEND_ACTIONS = frozenset({"NotifyPeriodicEventStream"})  # the one schema file without Request/Response

OCPP21 = OcppVersion(
    subprotocol=SUBPROTOCOL,
    label="2.1",
    schema_dir=Path(ocpp.v21.__file__).parent / "schemas",
    request_suffix="Request",
    validator_class=jsonschema.Draft6Validator,  # the files declare draft-06
    error_codes=v201.ERROR_CODES,
    error_codes_section="§4.3",
    charge_point_actions=CHARGING_STATION_ACTIONS,
    error_description_max_chars=v201.ERROR_DESCRIPTION_MAX_CHARS,
    forbids_empty_fields=True,
    message_types=BASE_MESSAGE_TYPES | UNANSWERED_MESSAGE_TYPES,
    send_actions=SEND_ACTIONS,
)


def refusal(text: str, handled_actions: Container[str]) -> Refusal | None:
    """The CALLERROR that `text`, sent by a 2.1 charging station, must get (the 2.0.1 rules with the 2.1
    schemas and actions); None when it must be served or must not be answered (a CALLRESULT, CALLERROR,
    CALLRESULTERROR or SEND)."""
    return v201.refusal(text, handled_actions, version=OCPP21, known_actions=KNOWN_ACTIONS)
