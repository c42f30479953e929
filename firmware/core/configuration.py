"""OCPP 1.6 configuration keys: definitions, validation and the station's current values.

[16] §5.3 ChangeConfiguration: unknown key → NotSupported; read-only key or a value
that is not valid → Rejected; a change that takes effect only after a reboot →
RebootRequired; otherwise Accepted. §3.16.4: a *Data list naming a measurand the
station cannot measure → Rejected and nothing changes.

Values are kept as OCPP strings (the wire form) and parsed on access. Write-only keys
(AuthorizationKey) are never reported by GetConfiguration's values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

BOOL_VALUES = {"true": True, "false": False}

PHASE_ROTATIONS = {"NotApplicable", "Unknown", "RST", "RTS", "SRT", "STR", "TRS", "TSR"}

# What the meter layer can report (firmware.core.metering builds these).
SUPPORTED_MEASURANDS = (
    "Energy.Active.Import.Register",
    "Power.Active.Import",
    "Current.Import",
    "Current.Offered",
    "Voltage",
    "Frequency",
    "Power.Factor",
)

FEATURE_PROFILES = "Core,LocalAuthListManagement,RemoteTrigger"


@dataclass(frozen=True)
class KeyDefinition:
    name: str
    kind: str  # "bool" | "int" | "csl" | "str"
    default: str
    readonly: bool = False
    reboot_required: bool = False
    write_only: bool = False
    minimum: int | None = None
    maximum: int | None = None
    max_items: int | None = None
    validate_items: Callable[[str], str | None] | None = None
    doc: str = ""

    def problem(self, value: str) -> str | None:
        """Why ``value`` is not acceptable for this key, or None."""
        if not isinstance(value, str):
            return "value must be a string"
        if self.kind == "bool":
            return None if value.lower() in BOOL_VALUES else "must be true or false"
        if self.kind == "int":
            try:
                number = int(value.strip())
            except ValueError:
                return "must be an integer"
            if self.minimum is not None and number < self.minimum:
                return f"must be >= {self.minimum}"
            if self.maximum is not None and number > self.maximum:
                return f"must be <= {self.maximum}"
            return None
        if self.kind == "csl":
            items = split_csl(value)
            if self.max_items is not None and len(items) > self.max_items:
                return f"at most {self.max_items} items"
            if self.validate_items:
                for item in items:
                    message = self.validate_items(item)
                    if message:
                        return message
            return None
        if self.kind == "str":
            limit = self.max_items or 500
            return None if len(value) <= limit else f"longer than {limit} characters"
        return "unknown kind"


def split_csl(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _measurand(item: str) -> str | None:
    return None if item in SUPPORTED_MEASURANDS else f"unsupported measurand {item!r}"


def _phase_rotation(item: str) -> str | None:
    connector, _, rotation = item.partition(".")
    if not connector.isdigit() or rotation not in PHASE_ROTATIONS:
        return f"bad phase rotation {item!r} (want N.RST etc.)"
    return None


MEASURAND_LIST_MAX = 8

DEFINITIONS: tuple[KeyDefinition, ...] = (
    # 9.1 Core profile
    KeyDefinition("AllowOfflineTxForUnknownId", "bool", "false"),
    KeyDefinition("AuthorizationCacheEnabled", "bool", "true"),
    KeyDefinition("AuthorizeRemoteTxRequests", "bool", "false"),
    KeyDefinition("BlinkRepeat", "int", "3", minimum=0),
    KeyDefinition("ClockAlignedDataInterval", "int", "0", minimum=0, doc="seconds, 0 = off"),
    KeyDefinition("ConnectionTimeOut", "int", "60", minimum=1, doc="seconds"),
    KeyDefinition("ConnectorPhaseRotation", "csl", "0.Unknown", validate_items=_phase_rotation),
    KeyDefinition("ConnectorPhaseRotationMaxLength", "int", "8", readonly=True),
    KeyDefinition("GetConfigurationMaxKeys", "int", "64", readonly=True),
    KeyDefinition("HeartbeatInterval", "int", "300", minimum=0, doc="seconds"),
    KeyDefinition("LightIntensity", "int", "100", minimum=0, maximum=100, doc="percent"),
    KeyDefinition("LocalAuthorizeOffline", "bool", "true"),
    KeyDefinition("LocalPreAuthorize", "bool", "false"),
    KeyDefinition("MaxEnergyOnInvalidId", "int", "0", minimum=0, doc="Wh"),
    KeyDefinition("MeterValuesAlignedData", "csl", "Energy.Active.Import.Register",
                  max_items=MEASURAND_LIST_MAX, validate_items=_measurand),
    KeyDefinition("MeterValuesAlignedDataMaxLength", "int", str(MEASURAND_LIST_MAX), readonly=True),
    KeyDefinition("MeterValuesSampledData", "csl",
                  "Energy.Active.Import.Register,Power.Active.Import",
                  max_items=MEASURAND_LIST_MAX, validate_items=_measurand),
    KeyDefinition("MeterValuesSampledDataMaxLength", "int", str(MEASURAND_LIST_MAX), readonly=True),
    KeyDefinition("MeterValueSampleInterval", "int", "60", minimum=0, doc="seconds, 0 = off"),
    KeyDefinition("MinimumStatusDuration", "int", "0", minimum=0, doc="seconds"),
    KeyDefinition("NumberOfConnectors", "int", "1", readonly=True),
    KeyDefinition("ResetRetries", "int", "1", minimum=0),
    KeyDefinition("StopTransactionOnEVSideDisconnect", "bool", "true"),
    KeyDefinition("StopTransactionOnInvalidId", "bool", "true"),
    KeyDefinition("StopTxnAlignedData", "csl", "", max_items=MEASURAND_LIST_MAX,
                  validate_items=_measurand),
    KeyDefinition("StopTxnAlignedDataMaxLength", "int", str(MEASURAND_LIST_MAX), readonly=True),
    KeyDefinition("StopTxnSampledData", "csl", "Energy.Active.Import.Register",
                  max_items=MEASURAND_LIST_MAX, validate_items=_measurand),
    KeyDefinition("StopTxnSampledDataMaxLength", "int", str(MEASURAND_LIST_MAX), readonly=True),
    KeyDefinition("SupportedFeatureProfiles", "csl", FEATURE_PROFILES, readonly=True),
    KeyDefinition("SupportedFeatureProfilesMaxLength", "int", "8", readonly=True),
    KeyDefinition("TransactionMessageAttempts", "int", "3", minimum=1, maximum=100),
    KeyDefinition("TransactionMessageRetryInterval", "int", "60", minimum=0, doc="seconds"),
    KeyDefinition("UnlockConnectorOnEVSideDisconnect", "bool", "true"),
    KeyDefinition("WebSocketPingInterval", "int", "30", minimum=0, doc="seconds, 0 = off"),
    # 9.2 Local Auth List Management profile
    KeyDefinition("LocalAuthListEnabled", "bool", "true"),
    KeyDefinition("LocalAuthListMaxLength", "int", "1000000", readonly=True),
    KeyDefinition("SendLocalListMaxLength", "int", "10000", readonly=True),
    # Security whitepaper: profile 1 Basic auth password; never readable.
    KeyDefinition("AuthorizationKey", "str", "", write_only=True, max_items=40),
    KeyDefinition("SecurityProfile", "int", "0", minimum=0, maximum=3),
)

BY_NAME: dict[str, KeyDefinition] = {d.name: d for d in DEFINITIONS}
_BY_LOWER: dict[str, KeyDefinition] = {d.name.lower(): d for d in DEFINITIONS}


def definition(name: str) -> KeyDefinition | None:
    """The key's definition; OCPP key names are case-insensitive (CiString50)."""
    return _BY_LOWER.get(name.lower())


@dataclass(frozen=True)
class ChangeResult:
    status: str  # Accepted | Rejected | NotSupported | RebootRequired
    key: str = ""
    reason: str = ""


class Configuration:
    """The station's configuration values (strings, as on the wire).

    Build with ``Configuration.initial(site_defaults, persisted)``: read-only keys take
    the site's value (the charger maker's), read-write keys the persisted value when
    there is one, else the site default, else the built-in default.
    """

    def __init__(self, values: dict[str, str]):
        self._values = dict(values)

    @classmethod
    def initial(cls, site_defaults: dict[str, str], persisted: dict[str, str],
                fixed: dict[str, str] | None = None) -> "Configuration":
        values: dict[str, str] = {}
        for d in DEFINITIONS:
            value = d.default
            if d.name in site_defaults:
                value = site_defaults[d.name]
            if not d.readonly and d.name in persisted:
                value = persisted[d.name]
            values[d.name] = value
        values.update(fixed or {})
        return cls(values)

    def get(self, name: str) -> str:
        d = definition(name)
        if d is None:
            raise KeyError(name)
        return self._values[d.name]

    def get_int(self, name: str) -> int:
        return int(self.get(name).strip())

    def get_bool(self, name: str) -> bool:
        return self.get(name).strip().lower() == "true"

    def get_list(self, name: str) -> list[str]:
        return split_csl(self.get(name))

    def change(self, name: str, value: str, *, allow_readonly: bool = False) -> ChangeResult:
        """Apply a ChangeConfiguration; the caller persists Accepted/RebootRequired ones."""
        d = definition(name)
        if d is None:
            return ChangeResult("NotSupported", name, "unknown key")
        if d.readonly and not allow_readonly:
            return ChangeResult("Rejected", d.name, "read-only key")
        problem = d.problem(value)
        if problem:
            return ChangeResult("Rejected", d.name, problem)
        if d.kind == "bool":
            value = value.strip().lower()
        elif d.kind == "int":
            value = str(int(value.strip()))
        self._values[d.name] = value
        return ChangeResult("RebootRequired" if d.reboot_required else "Accepted", d.name)

    def report(self, names: Iterable[str] | None) -> tuple[list[dict[str, object]], list[str]]:
        """GetConfiguration: (configurationKey entries, unknownKey names)."""
        known: list[dict[str, object]] = []
        unknown: list[str] = []
        wanted = [d.name for d in DEFINITIONS] if names is None else list(names)
        for name in wanted:
            d = definition(name)
            if d is None:
                unknown.append(name)
                continue
            entry: dict[str, object] = {"key": d.name, "readonly": d.readonly}
            if not d.write_only:
                entry["value"] = self._values[d.name]
            known.append(entry)
        return known, unknown

    def as_dict(self) -> dict[str, str]:
        return {d.name: self._values[d.name] for d in DEFINITIONS if not d.write_only}
