"""The OCPP 2.0.1 device model over the core's configuration (issue 9 item 3, block B).

The core keeps one set of configuration keys (``firmware.core.configuration``, named as
in 1.6); 2.0.1 reads and writes the same values as component/variable pairs
(ocpp201-rules.md §1 and the 1.6 → 2.0.1 table in §8). This module is that table plus
GetVariables/SetVariables result building, sans-I/O: it never stores anything itself,
so a site switched between versions keeps its values.

- A variable not in the table is UnknownComponent (component unknown) or
  UnknownVariable (component known) ([S201] GetVariableStatusEnumType).
- Only attributeType Actual exists here; any other is NotSupportedAttributeType
  (``attributeType`` omitted means Actual: [TC201] TC_B_09).
- WriteOnly variables (BasicAuthPassword) are never reported (B07.FR.03 per [E201] 2.9):
  a GetVariables of one is Rejected.
- GetBaseReport (B07): ConfigurationInventory and FullInventory report every variable
  of the table in one NotifyReport (the table is far below a message's size), each
  with its Actual value (none for WriteOnly), mutability, persistent (every key is
  stored) and its dataType from the core key's kind; SummaryInventory is
  NotSupported (no component availability model yet).
- Set: the core's verdict maps Accepted → Accepted, RebootRequired → RebootRequired,
  Rejected → Rejected with reasonCode InvalidValue (TC_B_10); a ReadOnly variable is
  Rejected (TC_B_11: OCPPCommCtrlr.MessageTimeout[Default]).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from firmware.core.effects import ReportedKey

ACTUAL = "Actual"


@dataclass(frozen=True)
class Variable:
    component: str
    variable: str
    key: str                  # the core's configuration key
    instance: str | None = None  # the variable's instance, e.g. "TransactionEvent"
    mutability: str = "ReadWrite"  # ReadOnly | WriteOnly | ReadWrite


VARIABLES: tuple[Variable, ...] = (
    Variable("OCPPCommCtrlr", "HeartbeatInterval", "HeartbeatInterval"),
    Variable("OCPPCommCtrlr", "WebSocketPingInterval", "WebSocketPingInterval"),
    Variable("OCPPCommCtrlr", "MessageAttempts", "TransactionMessageAttempts",
             instance="TransactionEvent"),
    Variable("OCPPCommCtrlr", "MessageAttemptInterval", "TransactionMessageRetryInterval",
             instance="TransactionEvent"),
    Variable("OCPPCommCtrlr", "ResetRetries", "ResetRetries"),
    Variable("OCPPCommCtrlr", "UnlockOnEVSideDisconnect", "UnlockConnectorOnEVSideDisconnect"),
    Variable("TxCtrlr", "EVConnectionTimeOut", "ConnectionTimeOut"),
    Variable("TxCtrlr", "StopTxOnEVSideDisconnect", "StopTransactionOnEVSideDisconnect"),
    Variable("TxCtrlr", "StopTxOnInvalidId", "StopTransactionOnInvalidId"),
    Variable("AuthCtrlr", "AuthorizeRemoteStart", "AuthorizeRemoteTxRequests"),
    Variable("AuthCtrlr", "LocalAuthorizeOffline", "LocalAuthorizeOffline"),
    Variable("AuthCtrlr", "LocalPreAuthorize", "LocalPreAuthorize"),
    Variable("AuthCtrlr", "OfflineTxForUnknownIdEnabled", "AllowOfflineTxForUnknownId"),
    Variable("AuthCacheCtrlr", "Enabled", "AuthorizationCacheEnabled"),
    Variable("LocalAuthListCtrlr", "Enabled", "LocalAuthListEnabled"),
    Variable("LocalAuthListCtrlr", "ItemsPerMessage", "SendLocalListMaxLength",
             mutability="ReadOnly"),
    Variable("SampledDataCtrlr", "TxUpdatedInterval", "MeterValueSampleInterval"),
    Variable("SampledDataCtrlr", "TxUpdatedMeasurands", "MeterValuesSampledData"),
    Variable("SampledDataCtrlr", "TxEndedMeasurands", "StopTxnSampledData"),
    # The Ended's samples are taken at the transaction's sampling interval.
    Variable("SampledDataCtrlr", "TxEndedInterval", "MeterValueSampleInterval",
             mutability="ReadOnly"),
    Variable("AlignedDataCtrlr", "Interval", "ClockAlignedDataInterval"),
    Variable("AlignedDataCtrlr", "Measurands", "MeterValuesAlignedData"),
    Variable("AlignedDataCtrlr", "TxEndedMeasurands", "StopTxnAlignedData"),
    Variable("AlignedDataCtrlr", "TxEndedInterval", "ClockAlignedDataInterval",
             mutability="ReadOnly"),
    Variable("SmartChargingCtrlr", "ProfileStackLevel", "ChargeProfileMaxStackLevel",
             mutability="ReadOnly"),
    Variable("SmartChargingCtrlr", "RateUnit", "ChargingScheduleAllowedChargingRateUnit",
             mutability="ReadOnly"),
    Variable("SmartChargingCtrlr", "PeriodsPerSchedule", "ChargingScheduleMaxPeriods",
             mutability="ReadOnly"),
    Variable("SmartChargingCtrlr", "Entries", "MaxChargingProfilesInstalled",
             instance="ChargingProfiles", mutability="ReadOnly"),
    Variable("SecurityCtrlr", "SecurityProfile", "SecurityProfile"),
    Variable("SecurityCtrlr", "BasicAuthPassword", "AuthorizationKey", mutability="WriteOnly"),
    # security-whitepaper.md §11: the 1.6 whitepaper keys' 2.0.1 names
    Variable("SecurityCtrlr", "OrganizationName", "CpoName"),
    Variable("SecurityCtrlr", "MaxCertificateChainSize", "CertificateSignedMaxChainSize",
             mutability="ReadOnly"),
    Variable("SecurityCtrlr", "AdditionalRootCertificateCheck",
             "AdditionalRootCertificateCheck", mutability="ReadOnly"),
    # Block I (ocpp201-rules.md §7 "I", [DM201]; firmware.core.csms_cost). Our reading of
    # the DM (its CSV was not at hand): Enabled[Tariff|Cost] boolean ReadWrite, the two
    # fallback messages string ReadWrite; 255 characters of printable one-line text is
    # our limit (a longer or multi-line value is Rejected InvalidValue). An empty
    # TariffFallbackMessage means "the station's own tariff text" (console `price`).
    # Available[Tariff|Cost] and Currency are facts (device_facts).
    Variable("TariffCostCtrlr", "Enabled", "TariffEnabled", instance="Tariff"),
    Variable("TariffCostCtrlr", "Enabled", "CostEnabled", instance="Cost"),
    Variable("TariffCostCtrlr", "TariffFallbackMessage", "TariffFallbackMessage"),
    Variable("TariffCostCtrlr", "TotalCostFallbackMessage", "TotalCostFallbackMessage"),
)

_BY_NAME: dict[tuple[str, str, str | None], Variable] = {
    (v.component, v.variable, v.instance): v for v in VARIABLES}
_COMPONENTS = {v.component for v in VARIABLES}


def find(component: dict[str, Any], variable: dict[str, Any]) -> tuple[Variable | None, str]:
    """The table entry of a ComponentType/VariableType pair, else the status saying why
    not (UnknownComponent / UnknownVariable). EVSE-scoped components are not modelled
    yet: an ``evse`` field makes the component unknown."""
    name = component.get("name")
    if name not in _COMPONENTS or component.get("instance") is not None or "evse" in component:
        return None, "UnknownComponent"
    found = _BY_NAME.get((name, variable.get("name", ""), variable.get("instance")))
    if found is None:
        return None, "UnknownVariable"
    return found, "Accepted"


def echo(item: dict[str, Any]) -> dict[str, Any]:
    """Component and variable as asked, with the attribute type when given."""
    out: dict[str, Any] = {"component": item["component"], "variable": item["variable"]}
    if "attributeType" in item:
        out["attributeType"] = item["attributeType"]
    return out


def get_result(item: dict[str, Any],
               value_of: Callable[[str], str | None]) -> dict[str, Any]:
    """One GetVariableResultType for a GetVariableDataType ``item``; ``value_of(key)``
    gives the core's current value (str) or None."""
    out = echo(item)
    if item.get("attributeType", ACTUAL) != ACTUAL:
        return {**out, "attributeStatus": "NotSupportedAttributeType"}
    found, status = find(item["component"], item["variable"])
    if found is None:
        return {**out, "attributeStatus": status}
    if found.mutability == "WriteOnly":
        return {**out, "attributeStatus": "Rejected"}
    value = value_of(found.key)
    if value is None:
        return {**out, "attributeStatus": "UnknownVariable"}
    return {**out, "attributeStatus": "Accepted", "attributeValue": str(value)[:2500]}


def set_target(item: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    """The core key a SetVariableDataType ``item`` changes, or (None, the result that
    refuses it without asking the core)."""
    out = echo(item)
    if item.get("attributeType", ACTUAL) != ACTUAL:
        return None, {**out, "attributeStatus": "NotSupportedAttributeType"}
    found, status = find(item["component"], item["variable"])
    if found is None:
        return None, {**out, "attributeStatus": status}
    if found.mutability == "ReadOnly":
        return None, read_only(item)
    return found.key, None


def read_only(item: dict[str, Any]) -> dict[str, Any]:
    """The SetVariableResultType refusing a ReadOnly variable (TC_B_11)."""
    return {**echo(item), "attributeStatus": "Rejected",
            "attributeStatusInfo": {"reasonCode": "ReadOnly"}}


def set_result(item: dict[str, Any], core_status: str) -> dict[str, Any]:
    """One SetVariableResultType from the core's ChangeConfiguration verdict."""
    out = echo(item)
    if core_status in ("Accepted", "RebootRequired"):
        return {**out, "attributeStatus": core_status}
    if core_status == "NotSupported":
        return {**out, "attributeStatus": "UnknownVariable"}
    return {**out, "attributeStatus": "Rejected",
            "attributeStatusInfo": {"reasonCode": "InvalidValue"}}


_DATA_TYPES = {"bool": "boolean", "int": "integer", "csl": "MemberList", "str": "string"}


def catalog() -> list[dict[str, Any]]:
    """Every table variable as a component/variable pair (no value): what a GetReport's
    filter may select (``report_filter``)."""
    return [{"component": {"name": v.component},
             "variable": {"name": v.variable} if v.instance is None
             else {"name": v.variable, "instance": v.instance}} for v in VARIABLES]


def report_data(keys: Iterable[ReportedKey]) -> list[dict[str, Any]]:
    """NotifyReport's reportData for the core's reported keys: one ReportDataType per
    table variable whose key the core reported."""
    by_key = {k.key: k for k in keys}
    out: list[dict[str, Any]] = []
    for v in VARIABLES:
        reported = by_key.get(v.key)
        if reported is None:
            continue
        variable: dict[str, Any] = {"name": v.variable}
        if v.instance is not None:
            variable["instance"] = v.instance
        attribute: dict[str, Any] = {"type": ACTUAL, "mutability": v.mutability,
                                     "persistent": True, "constant": False}
        if v.mutability != "WriteOnly" and reported.value is not None:
            attribute["value"] = reported.value[:2500]
        out.append({"component": {"name": v.component}, "variable": variable,
                    "variableAttribute": [attribute],
                    "variableCharacteristics": {
                        "dataType": _DATA_TYPES.get(reported.kind, "string"),
                        "supportsMonitoring": False}})
    return out
