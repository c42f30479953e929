"""OCPP 1.6 configuration keys: definitions, validation and the station's current values.

[16] §5.3 ChangeConfiguration: unknown key → NotSupported; read-only key or a value
that is not valid → Rejected; a change that takes effect only after a reboot →
RebootRequired; otherwise Accepted. §3.16.4: a *Data list naming a measurand the
station cannot measure → Rejected and nothing changes.

Values are kept as OCPP strings (the wire form) and parsed on access. Write-only keys
(AuthorizationKey) are never reported by GetConfiguration's values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable

from . import effects as fx

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

FEATURE_PROFILES = "Core,LocalAuthListManagement,RemoteTrigger,SmartCharging,Reservation"


# An OCPP integer value: ASCII digits with an optional sign, nothing else. ``int()``
# alone also takes "1_000", other scripts' digits and 5,000-digit strings; the length
# cap keeps a huge value from costing a quadratic conversion before it is refused.
_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")


@dataclass(frozen=True)
class KeyDefinition:
    """One configuration key. Integer keys always carry their inclusive range
    (``integer()`` requires it): every path that sets a value checks it here."""

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

    def problem(self, value: object) -> str | None:
        """Why ``value`` is not acceptable for this key, or None."""
        if not isinstance(value, str):
            return "value must be a string"
        if self.kind == "int":
            return self._integer_problem(value.strip())
        if not _is_text(value):
            return "not valid text (lone surrogate)"
        if self.kind == "bool":
            return None if value.strip().lower() in BOOL_VALUES else "must be true or false"
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
            if len(value) > limit:
                return f"longer than {limit} characters"
            return self.validate_items(value) if self.validate_items else None
        return "unknown kind"

    def _integer_problem(self, text: str) -> str | None:
        wanted = f"must be an integer from {self.minimum} to {self.maximum}"
        if self.doc:
            wanted += f" ({self.doc})"
        if not _INTEGER.fullmatch(text):
            return wanted
        number = int(text)
        if self.minimum is not None and number < self.minimum:
            return wanted
        if self.maximum is not None and number > self.maximum:
            return wanted
        return None

    def canonical(self, value: str) -> str:
        """The stored form of a value ``problem`` accepted."""
        if self.kind == "bool":
            return value.strip().lower()
        if self.kind == "int":
            return str(int(value.strip()))
        return value


def integer(name: str, default: int, minimum: int, maximum: int, *, readonly: bool = False,
            doc: str = "") -> KeyDefinition:
    """An integer key; its inclusive range is part of its declaration."""
    return KeyDefinition(name, "int", str(default), readonly=readonly, minimum=minimum,
                         maximum=maximum, doc=doc)


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def split_csl(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _measurand(item: str) -> str | None:
    return None if item in SUPPORTED_MEASURANDS else f"unsupported measurand {item!r}"


_PHASE_ROTATION = re.compile(r"[0-9]{1,3}\.([A-Za-z]+)")


def _phase_rotation(item: str) -> str | None:
    match = _PHASE_ROTATION.fullmatch(item)
    if match is None or match.group(1) not in PHASE_ROTATIONS:
        return f"bad phase rotation {item!r} (want N.RST etc.)"
    return None


DISPLAY_TEXT_MAX = 255  # characters of a text shown to the driver (unverified limit)


def _display_text(value: str) -> str | None:
    """A text for the driver's display: printable, one line (a control character could
    drive the display's own protocol)."""
    return None if value.isprintable() else "must be printable text on one line"


MEASURAND_LIST_MAX = 8
PHASE_ROTATION_MAX = 8
DAY_S = 86_400

DEFINITIONS: tuple[KeyDefinition, ...] = (
    # 9.1 Core profile
    KeyDefinition("AllowOfflineTxForUnknownId", "bool", "false"),
    KeyDefinition("AuthorizationCacheEnabled", "bool", "true"),
    KeyDefinition("AuthorizeRemoteTxRequests", "bool", "false"),
    integer("BlinkRepeat", 3, 0, 100),
    integer("ClockAlignedDataInterval", 0, 0, DAY_S, doc="seconds, 0 = off"),
    integer("ConnectionTimeOut", 60, 1, 3600, doc="seconds"),
    KeyDefinition("ConnectorPhaseRotation", "csl", "0.Unknown", max_items=PHASE_ROTATION_MAX,
                  validate_items=_phase_rotation),
    integer("ConnectorPhaseRotationMaxLength", PHASE_ROTATION_MAX, PHASE_ROTATION_MAX,
            PHASE_ROTATION_MAX, readonly=True),
    integer("GetConfigurationMaxKeys", 64, 1, 1000, readonly=True),
    integer("HeartbeatInterval", 300, 0, DAY_S, doc="seconds"),
    integer("LightIntensity", 100, 0, 100, doc="percent"),
    KeyDefinition("LocalAuthorizeOffline", "bool", "true"),
    KeyDefinition("LocalPreAuthorize", "bool", "false"),
    integer("MaxEnergyOnInvalidId", 0, 0, 1_000_000, doc="Wh"),
    KeyDefinition("MeterValuesAlignedData", "csl", "Energy.Active.Import.Register",
                  max_items=MEASURAND_LIST_MAX, validate_items=_measurand),
    integer("MeterValuesAlignedDataMaxLength", MEASURAND_LIST_MAX, 1, MEASURAND_LIST_MAX,
            readonly=True),
    KeyDefinition("MeterValuesSampledData", "csl",
                  "Energy.Active.Import.Register,Power.Active.Import",
                  max_items=MEASURAND_LIST_MAX, validate_items=_measurand),
    integer("MeterValuesSampledDataMaxLength", MEASURAND_LIST_MAX, 1, MEASURAND_LIST_MAX,
            readonly=True),
    integer("MeterValueSampleInterval", 60, 0, DAY_S, doc="seconds, 0 = off"),
    integer("MinimumStatusDuration", 0, 0, 3600, doc="seconds"),
    integer("NumberOfConnectors", 1, 1, 128, readonly=True),
    integer("ResetRetries", 1, 0, 10),
    KeyDefinition("StopTransactionOnEVSideDisconnect", "bool", "true"),
    KeyDefinition("StopTransactionOnInvalidId", "bool", "true"),
    KeyDefinition("StopTxnAlignedData", "csl", "", max_items=MEASURAND_LIST_MAX,
                  validate_items=_measurand),
    integer("StopTxnAlignedDataMaxLength", MEASURAND_LIST_MAX, 1, MEASURAND_LIST_MAX,
            readonly=True),
    KeyDefinition("StopTxnSampledData", "csl", "Energy.Active.Import.Register",
                  max_items=MEASURAND_LIST_MAX, validate_items=_measurand),
    integer("StopTxnSampledDataMaxLength", MEASURAND_LIST_MAX, 1, MEASURAND_LIST_MAX,
            readonly=True),
    KeyDefinition("SupportedFeatureProfiles", "csl", FEATURE_PROFILES, readonly=True),
    integer("SupportedFeatureProfilesMaxLength", 8, 1, 8, readonly=True),
    integer("TransactionMessageAttempts", 3, 1, 100),
    integer("TransactionMessageRetryInterval", 60, 0, DAY_S, doc="seconds"),
    KeyDefinition("UnlockConnectorOnEVSideDisconnect", "bool", "true"),
    integer("WebSocketPingInterval", 30, 0, 3600, doc="seconds, 0 = off"),
    # 9.2 Local Auth List Management profile
    KeyDefinition("LocalAuthListEnabled", "bool", "true"),
    integer("LocalAuthListMaxLength", 1_000_000, 1, 1_000_000, readonly=True),
    integer("SendLocalListMaxLength", 10_000, 1, 1_000_000, readonly=True),
    # 9.3 Reservation profile ([16] §9.3: read-only): a connector-0 reservation holds
    # any connector
    KeyDefinition("ReserveConnectorZeroSupported", "bool", "true", readonly=True),
    # 9.4 Smart Charging profile ([16] §3.13.5; all read-only)
    integer("ChargeProfileMaxStackLevel", 8, 0, 100, readonly=True),
    KeyDefinition("ChargingScheduleAllowedChargingRateUnit", "csl", "Current,Power",
                  readonly=True),
    integer("ChargingScheduleMaxPeriods", 24, 1, 1000, readonly=True),
    integer("MaxChargingProfilesInstalled", 16, 1, 1000, readonly=True),
    # Security whitepaper ([SEC3] §7; security-whitepaper.md §11). AuthorizationKey: the
    # Basic auth password, never readable; up to 64 characters for 2.0.1's
    # BasicAuthPassword (1.6 asks for 32-40 hex digits: its adapter checks that).
    KeyDefinition("AuthorizationKey", "str", "", write_only=True, max_items=64),
    integer("SecurityProfile", 0, 0, 3),
    KeyDefinition("CpoName", "str", "", max_items=64,
                  doc="O of the station's certificate and of every CSR (A02.FR.13)"),
    integer("CertificateSignedMaxChainSize", 10_000, 1, 10_000, readonly=True,
            doc="characters of a CertificateSigned chain"),
    integer("CertificateStoreMaxLength", 20, 1, 1000, readonly=True,
            doc="installed root certificates"),
    # One CSMS root with a fallback, each new root signed by the old (M05.FR.08-13): not
    # implemented, so reported false.
    KeyDefinition("AdditionalRootCertificateCheck", "bool", "false", readonly=True),
    # Tariff and cost texts for the driver (firmware.core.csms_cost; OCPP 2.0.1 block I's
    # TariffCostCtrlr, ocpp201-rules.md [DM201]). No 1.6 standard key says this: the
    # names are 2.0.1's. Empty TariffFallbackMessage: the station's own price text.
    KeyDefinition("TariffEnabled", "bool", "true",
                  doc="show the CSMS's price text (TariffFallbackMessage)"),
    KeyDefinition("CostEnabled", "bool", "true", doc="show the costs the CSMS reports"),
    KeyDefinition("TariffFallbackMessage", "str", "", max_items=DISPLAY_TEXT_MAX,
                  validate_items=_display_text,
                  doc="price shown before a start; empty = the station's tariff"),
    KeyDefinition("TotalCostFallbackMessage", "str",
                  "Total cost not known yet: see your receipt or app",
                  max_items=DISPLAY_TEXT_MAX, validate_items=_display_text,
                  doc="shown after a stop when the CSMS sends no total cost"),
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


@dataclass(frozen=True)
class RejectedValue:
    """A stored or site value ``Configuration.initial`` could not use (and replaced)."""

    key: str
    source: str  # "persisted" | "site"
    problem: str


class Configuration:
    """The station's configuration values (strings, as on the wire).

    Build with ``Configuration.initial(site_defaults, persisted)``: read-only keys take
    the site's value (the charger maker's), read-write keys the persisted value when
    there is one, else the site default, else the built-in default. A value that is not
    valid for its key (stored by an older release, say) is skipped for the next one in
    that order and listed in ``rejected``: a bad value never reaches a timer or the link.
    """

    def __init__(self, values: dict[str, str], rejected: tuple[RejectedValue, ...] = ()):
        self._values = dict(values)
        self.rejected = rejected

    @classmethod
    def initial(cls, site_defaults: dict[str, str], persisted: dict[str, str],
                fixed: dict[str, str] | None = None) -> "Configuration":
        values: dict[str, str] = {}
        rejected: list[RejectedValue] = []
        for d in DEFINITIONS:
            value = d.default
            candidates = [("site", site_defaults)]
            if not d.readonly:
                candidates.append(("persisted", persisted))
            for source, table in candidates:
                if d.name not in table:
                    continue
                problem = d.problem(table[d.name])
                if problem:
                    rejected.append(RejectedValue(d.name, source, problem))
                else:
                    value = d.canonical(table[d.name])
            values[d.name] = value
        values.update(fixed or {})
        return cls(values, tuple(rejected))

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
        self._values[d.name] = d.canonical(value)
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

    def reported(self) -> tuple[fx.ReportedKey, ...]:
        """Every key for a configuration report (write-only values left out)."""
        return tuple(fx.ReportedKey(d.name, None if d.write_only else self._values[d.name],
                                    d.readonly, d.kind) for d in DEFINITIONS)

    def as_dict(self) -> dict[str, str]:
        return {d.name: self._values[d.name] for d in DEFINITIONS if not d.write_only}
