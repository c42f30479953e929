"""Valid OCPP 2.0.1 payloads, as a station and a CSMS send them, for the v201 tests.

Written from the 2.0.1 schemas ([S201]) and ocpp201-rules.md §1-§5: one request and its
response per action, in the direction the action travels.
"""

NOW = "2026-12-03T09:30:00.123Z"
TOKEN = {"idToken": "04A2B3C4D5E6F7", "type": "ISO14443"}
OCPP_COMM_HEARTBEAT = {"component": {"name": "OCPPCommCtrlr"},
                       "variable": {"name": "HeartbeatInterval"}}

# action -> (request payload, response payload)
VALID: dict[str, tuple[dict, dict]] = {
    "BootNotification": (
        {"reason": "PowerUp",
         "chargingStation": {"model": "Borne AC22", "vendorName": "Borne",
                             "serialNumber": "B-0001", "firmwareVersion": "0.1.0"}},
        {"currentTime": NOW, "interval": 300, "status": "Accepted"},
    ),
    "Authorize": (
        {"idToken": TOKEN},
        {"idTokenInfo": {"status": "Accepted", "cacheExpiryDateTime": "2026-12-04T09:30:00Z"}},
    ),
    "TransactionEvent": (
        {"eventType": "Started", "timestamp": NOW, "triggerReason": "Authorized", "seqNo": 0,
         "offline": False,
         "transactionInfo": {"transactionId": "0f7c1a52-3d7e-4b8e-9a51-2f0d1c9e8b77",
                             "chargingState": "EVConnected"},
         "evse": {"id": 1, "connectorId": 1}, "idToken": TOKEN,
         "meterValue": [{"timestamp": NOW, "sampledValue": [
             {"value": 1234.5, "measurand": "Energy.Active.Import.Register",
              "context": "Transaction.Begin", "unitOfMeasure": {"unit": "Wh"}}]}]},
        {"idTokenInfo": {"status": "Accepted"}},
    ),
    "StatusNotification": (
        {"timestamp": NOW, "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1},
        {},
    ),
    "Heartbeat": ({}, {"currentTime": NOW}),
    "GetVariables": (
        {"getVariableData": [dict(OCPP_COMM_HEARTBEAT, attributeType="Actual")]},
        {"getVariableResult": [dict(OCPP_COMM_HEARTBEAT, attributeStatus="Accepted",
                                    attributeValue="300")]},
    ),
    "SetVariables": (
        {"setVariableData": [dict(OCPP_COMM_HEARTBEAT, attributeValue="60")]},
        {"setVariableResult": [dict(OCPP_COMM_HEARTBEAT, attributeStatus="RebootRequired")]},
    ),
    "RequestStartTransaction": (
        {"idToken": {"idToken": "CENTRAL-7", "type": "Central"}, "remoteStartId": 7,
         "evseId": 1},
        {"status": "Accepted"},
    ),
    "Reset": ({"type": "OnIdle"}, {"status": "Scheduled"}),
}

# Who sends the CALL of each sample (the other side answers it).
STATION_SENDS = {"BootNotification", "Authorize", "TransactionEvent", "StatusNotification",
                 "Heartbeat"}
CSMS_SENDS = {"GetVariables", "SetVariables", "RequestStartTransaction", "Reset"}
