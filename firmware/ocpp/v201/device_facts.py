"""The 2.0.1 device model's read-only variables that are facts, not configuration keys
(issue 9 item 3: every required component and variable, ocpp201-rules.md §1 [DM201]).

``device_model`` maps the core's configuration keys; this module adds what the station
*is* and *does*: the availability of the station, each EVSE and its connector (from the
core's connector status), their phases and power, the clock, the message limits, the
transaction start and stop points Borne implements, the file transfer protocols. Each is
ReadOnly: a SetVariables of one is Rejected (ReadOnly). EVSE and Connector variables are
scoped by ``component.evse`` (``{"id": n}``; a connector also has ``connectorId`` 1):
an EVSE the station does not have is UnknownComponent.

Values come from a ``StationView`` (read, never changed): ``CoreStationView`` reads
``firmware.core.station.Station``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

from firmware.ocpp.mapping import format_time

from .outbound import connector_status

STATION, EVSE, CONNECTOR = "station", "evse", "connector"

ITEMS_PER_MESSAGE = 100         # Get/SetVariables items per CALL (inbound_actions)
BYTES_PER_MESSAGE = 4 * 1024 * 1024  # the link's max_size (firmware.ocpp.link)


class StationView(Protocol):
    """What the fact variables read. Connector ids are EVSE ids (one connector each)."""

    def now_s(self) -> float: ...

    def evse_ids(self) -> list[int]: ...

    def status(self, evse_id: int) -> str:
        """The core's status of the EVSE's connector (Available, Charging, Faulted...)."""
        ...

    def operative(self, evse_id: int) -> bool: ...

    def phases(self, evse_id: int) -> int: ...

    def rated_power_w(self, evse_id: int) -> float: ...

    def power_w(self, evse_id: int) -> float | None: ...

    def message_timeout_s(self) -> float: ...

    def has_tariff(self) -> bool:
        """The station has its own tariff (a card payment terminal)."""
        ...

    def currency(self) -> str:
        """ISO 4217 code of the tariff and of every cost shown."""
        ...

    def authorization_amount_cents(self) -> int | None:
        """What the payment terminal reserves on a card before a start; None: no
        terminal fitted."""
        ...

    def payment_problem(self) -> str:
        """Why the payment terminal is out of order ("" when it is not)."""
        ...


@dataclass(frozen=True)
class Fact:
    component: str
    variable: str
    scope: str                      # station | evse | connector
    data_type: str                  # the variableCharacteristics dataType
    value: Callable[[StationView, int], str]   # (view, evse id; 0 for the station)
    instance: str | None = None
    unit: str | None = None
    values_list: str | None = None  # OptionList/MemberList: the values it may take


def _availability(view: StationView, evse_id: int) -> str:
    """AvailabilityState: the connector status 2.0.1 names (Available, Occupied, Reserved,
    Unavailable, Faulted); the station's is Unavailable when no EVSE is operative."""
    if evse_id == 0:
        ids = view.evse_ids()
        if ids and not any(view.operative(i) for i in ids):
            return "Unavailable"
        return "Available"
    return connector_status(view.status(evse_id))


def _station_phases(view: StationView, evse_id: int) -> str:
    return str(max((view.phases(i) for i in view.evse_ids()), default=3))


def _power(view: StationView, evse_id: int) -> str:
    power = view.power_w(evse_id)
    return f"{power or 0.0:.0f}"


def _constant(text: str) -> Callable[[StationView, int], str]:
    return lambda view, evse_id: text


_TRUE = _constant("true")


def _bool(value: bool) -> str:
    return "true" if value else "false"

FACTS: tuple[Fact, ...] = (
    Fact("ChargingStation", "AvailabilityState", STATION, "OptionList", _availability,
         values_list="Available,Occupied,Reserved,Unavailable,Faulted"),
    Fact("ChargingStation", "Available", STATION, "boolean", _TRUE),
    Fact("ChargingStation", "SupplyPhases", STATION, "integer", _station_phases),
    Fact("EVSE", "AvailabilityState", EVSE, "OptionList", _availability,
         values_list="Available,Occupied,Reserved,Unavailable,Faulted"),
    Fact("EVSE", "Available", EVSE, "boolean", _TRUE),
    Fact("EVSE", "SupplyPhases", EVSE, "integer", lambda v, e: str(v.phases(e))),
    Fact("EVSE", "Power", EVSE, "decimal", _power, unit="W"),
    Fact("Connector", "AvailabilityState", CONNECTOR, "OptionList", _availability,
         values_list="Available,Occupied,Reserved,Unavailable,Faulted"),
    Fact("Connector", "Available", CONNECTOR, "boolean", _TRUE),
    # The board does not say which plug it has: Unknown is the honest ConnectorEnumType.
    Fact("Connector", "ConnectorType", CONNECTOR, "string", _constant("Unknown")),
    Fact("Connector", "SupplyPhases", CONNECTOR, "integer", lambda v, e: str(v.phases(e))),
    Fact("ClockCtrlr", "DateTime", STATION, "dateTime", lambda v, e: format_time(v.now_s())),
    # The agent's clock follows the CSMS's currentTime (Boot and Heartbeat answers).
    Fact("ClockCtrlr", "TimeSource", STATION, "SequenceList", _constant("Heartbeat"),
         values_list="Heartbeat,NTP,GPS,RealTimeClock,MobileNetwork,RadioTimeTransmitter"),
    *(Fact("DeviceDataCtrlr", "ItemsPerMessage", STATION, "integer",
           _constant(str(ITEMS_PER_MESSAGE)), instance=i)
      for i in ("GetVariables", "SetVariables", "GetReport")),
    *(Fact("DeviceDataCtrlr", "BytesPerMessage", STATION, "integer",
           _constant(str(BYTES_PER_MESSAGE)), instance=i)
      for i in ("GetVariables", "SetVariables", "GetReport")),
    Fact("OCPPCommCtrlr", "MessageTimeout", STATION, "integer",
         lambda v, e: f"{v.message_timeout_s():.0f}", instance="Default", unit="s"),
    Fact("OCPPCommCtrlr", "FileTransferProtocols", STATION, "MemberList",
         _constant("HTTP,HTTPS"), values_list="FTP,FTPS,HTTP,HTTPS,SFTP"),
    # One connection profile (the site's csms_url); no SetNetworkProfile.
    Fact("OCPPCommCtrlr", "NetworkConfigurationPriority", STATION, "SequenceList",
         _constant("0"), values_list="0"),
    Fact("OCPPCommCtrlr", "NetworkProfileConnectionAttempts", STATION, "integer",
         _constant("0")),  # 0: the link never gives up on its one profile (B10.FR.09)
    Fact("OCPPCommCtrlr", "OfflineThreshold", STATION, "integer", _constant("0"), unit="s"),
    # A transaction starts once the driver is authorized and the EV connected, and stops
    # when either ends (firmware.core.charging).
    Fact("TxCtrlr", "TxStartPoint", STATION, "MemberList", _constant("PowerPathClosed"),
         values_list="ParkingBayOccupancy,EVConnected,Authorized,DataSigned,"
                     "PowerPathClosed,EnergyTransfer"),
    Fact("TxCtrlr", "TxStopPoint", STATION, "MemberList", _constant("EVConnected,Authorized"),
         values_list="ParkingBayOccupancy,EVConnected,Authorized,DataSigned,"
                     "PowerPathClosed,EnergyTransfer"),
    Fact("SampledDataCtrlr", "TxStartedMeasurands", STATION, "MemberList",
         _constant("Energy.Active.Import.Register")),
    Fact("LocalAuthListCtrlr", "BytesPerMessage", STATION, "integer",
         _constant(str(BYTES_PER_MESSAGE))),
    # Block I: a tariff exists with a payment terminal; costs the CSMS reports are shown
    # on any station (firmware.core.csms_cost). Currency is the tariff's: ReadOnly here,
    # since another currency would not change what the station computes (the tariff is
    # set with it, README "Paying by card").
    Fact("TariffCostCtrlr", "Available", STATION, "boolean",
         lambda v, e: "true" if v.has_tariff() else "false", instance="Tariff"),
    Fact("TariffCostCtrlr", "Available", STATION, "boolean", _TRUE, instance="Cost"),
    Fact("TariffCostCtrlr", "Currency", STATION, "string", lambda v, e: v.currency()),
    # PaymentCtrlr (OCPP 2.1 [DM21], also answered under 2.0.1, where it is one more
    # component): the terminal connected to the station (C18). ReadOnly here: the amount
    # and the terminal are [payment] and board settings; the station settles itself.
    # Data types are our reading (the DM21 table's own are not in our sources).
    Fact("PaymentCtrlr", "Enabled", STATION, "boolean",
         lambda v, e: _bool(v.authorization_amount_cents() is not None)),
    Fact("PaymentCtrlr", "Problem", STATION, "boolean",
         lambda v, e: _bool(bool(v.payment_problem()))),
    Fact("PaymentCtrlr", "Connected", STATION, "boolean",
         lambda v, e: _bool(v.authorization_amount_cents() is not None
                            and not v.payment_problem())),
    Fact("PaymentCtrlr", "AuthorizationAmount", STATION, "decimal",
         lambda v, e: f"{(v.authorization_amount_cents() or 0) / 100:.2f}"),
    Fact("PaymentCtrlr", "SettlementByCSMS", STATION, "boolean", _constant("false")),
)

_BY_NAME: dict[tuple[str, str, str | None], Fact] = {
    (f.component, f.variable, f.instance): f for f in FACTS}
COMPONENTS = frozenset(f.component for f in FACTS)


def find(component: dict[str, Any], variable: dict[str, Any],
         view: StationView) -> tuple[Fact | None, int, str]:
    """(fact, evse id, "Accepted"), or (None, 0, UnknownComponent/UnknownVariable)."""
    name = component.get("name")
    if name not in COMPONENTS or component.get("instance") is not None:
        return None, 0, "UnknownComponent"
    evse = component.get("evse")
    evse_id = 0
    if isinstance(evse, dict):
        evse_id = int(evse.get("id", 0))
        connector_id = evse.get("connectorId")
        if evse_id not in view.evse_ids() or connector_id not in (None, 1):
            return None, 0, "UnknownComponent"
    fact = _BY_NAME.get((str(name), variable.get("name", ""), variable.get("instance")))
    if fact is None:
        return None, 0, "UnknownVariable"
    if (fact.scope == STATION) != (evse_id == 0):
        return None, 0, "UnknownComponent"  # an EVSE variable asked without its EVSE
    return fact, evse_id, "Accepted"


def component_of(fact: Fact, evse_id: int) -> dict[str, Any]:
    out: dict[str, Any] = {"name": fact.component}
    if fact.scope == EVSE:
        out["evse"] = {"id": evse_id}
    elif fact.scope == CONNECTOR:
        out["evse"] = {"id": evse_id, "connectorId": 1}
    return out


def report_data(view: StationView) -> list[dict[str, Any]]:
    """ReportDataType of every fact: the station's once, each EVSE's per EVSE."""
    out: list[dict[str, Any]] = []
    for fact in FACTS:
        for evse_id in ([0] if fact.scope == STATION else view.evse_ids()):
            variable: dict[str, Any] = {"name": fact.variable}
            if fact.instance is not None:
                variable["instance"] = fact.instance
            characteristics: dict[str, Any] = {"dataType": fact.data_type,
                                               "supportsMonitoring": False}
            if fact.unit is not None:
                characteristics["unit"] = fact.unit
            if fact.values_list is not None:
                characteristics["valuesList"] = fact.values_list
            if fact.variable == "Power":
                characteristics["maxLimit"] = view.rated_power_w(evse_id)
            out.append({"component": component_of(fact, evse_id), "variable": variable,
                        "variableAttribute": [{"type": "Actual", "mutability": "ReadOnly",
                                               "persistent": False, "constant": False,
                                               "value": fact.value(view, evse_id)[:2500]}],
                        "variableCharacteristics": characteristics})
    return out


class CoreStationView:
    """A ``StationView`` over the core's ``Station`` and the agent's clock."""

    def __init__(self, station: Any, now_s: Callable[[], float],
                 message_timeout_s: float) -> None:
        self._station = station
        self._now_s = now_s
        self._timeout_s = message_timeout_s

    def now_s(self) -> float:
        return self._now_s()

    def evse_ids(self) -> list[int]:
        return sorted(self._station.connectors)

    def _connector(self, evse_id: int) -> Any:
        return self._station.connectors[evse_id]

    def status(self, evse_id: int) -> str:
        return str(self._connector(evse_id).status())

    def operative(self, evse_id: int) -> bool:
        return bool(self._connector(evse_id).operative)

    def phases(self, evse_id: int) -> int:
        return int(self._connector(evse_id).phases)

    def rated_power_w(self, evse_id: int) -> float:
        c = self._connector(evse_id)
        return float(c.max_current_a * c.nominal_voltage_v * c.phases)

    def power_w(self, evse_id: int) -> float | None:
        reading = self._connector(evse_id).reading
        return None if reading is None else reading.power_w

    def message_timeout_s(self) -> float:
        return self._timeout_s

    def has_tariff(self) -> bool:
        return self._station.payment is not None

    def currency(self) -> str:
        return str(self._station.currency())

    def authorization_amount_cents(self) -> int | None:
        payment = self._station.payment
        return None if payment is None else int(payment.settings.pre_authorisation_cents)

    def payment_problem(self) -> str:
        payment = self._station.payment
        return "" if payment is None else str(payment.terminal_fault)
