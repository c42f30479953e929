"""The supported 2.0.1 actions (issue #9 item 3, ocpp201-rules.md §1-§6) are real 2.0.1
actions with both schemas, in the direction the specification sends them."""

import json
from importlib import resources

from firmware.ocpp.v201 import actions, schemas

SCHEMAS = resources.files("ocpp").joinpath("v201", "schemas")


def test_every_supported_action_is_a_2_0_1_action_with_request_and_response_schemas():
    for action in actions.ACTIONS:
        assert action.name in schemas.known_actions(), action
        for kind in ("Request", "Response"):
            assert SCHEMAS.joinpath(f"{action.name}{kind}.json").is_file()


def test_directions():
    assert {"BootNotification", "Heartbeat", "Authorize", "TransactionEvent",
            "StatusNotification", "MeterValues", "NotifyReport"} <= actions.CS_TO_CSMS
    assert {"GetVariables", "SetVariables", "GetBaseReport", "Reset", "ClearCache",
            "SendLocalList", "GetLocalListVersion", "RequestStartTransaction",
            "RequestStopTransaction", "UnlockConnector", "TriggerMessage",
            "ChangeAvailability"} <= actions.CSMS_TO_CS
    # Only DataTransfer travels both ways (P01/P02).
    assert actions.CS_TO_CSMS & actions.CSMS_TO_CS == {"DataTransfer"}


def test_blocks_listed_by_the_issue_are_covered():
    # A, L, M, N: issue 11 (security, firmware, certificates, logs); I: issue 12 (cost)
    assert {a.block for a in actions.ACTIONS} == {"A", "B", "C", "D", "E", "F", "G", "H", "I",
                                                  "J", "K", "L", "M", "N", "P"}


def test_each_action_is_listed_once_per_direction():
    pairs = [(a.name, a.direction) for a in actions.ACTIONS]
    assert len(pairs) == len(set(pairs))


def test_triggerable_messages_are_values_of_the_trigger_enum_we_also_send():
    schema = json.loads(SCHEMAS.joinpath("TriggerMessageRequest.json").read_text("utf-8-sig"))
    enum = set(schema["definitions"]["MessageTriggerEnumType"]["enum"])
    assert actions.TRIGGERABLE <= enum
    assert actions.TRIGGERABLE <= actions.CS_TO_CSMS
