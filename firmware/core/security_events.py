"""Security events: the kinds the core reports and which of them are critical.

Names follow the 2.0.1 list ([DM201] security_events.csv; security-whitepaper.md §7),
which is the 1.6 whitepaper's list ([SEC3] §8) with Csms/ChargingStation for
CentralSystem/ChargePoint plus the maintenance logins and
DiscardedRenewedClientCertificate; the 1.6 adapter renames the four that differ. An event
critical in either version is critical here, so it is queued with guaranteed delivery
(A04.FR.02) whichever version the site speaks.
"""

from __future__ import annotations

from . import effects as fx
from . import events as ev

CRITICAL: frozenset[str] = frozenset({
    "FirmwareUpdated", "SettingSystemTime", "StartupOfTheDevice", "ResetOrReboot",
    "SecurityLogWasCleared", "MemoryExhaustion", "TamperDetectionActivated",
    "InvalidFirmwareSignature", "InvalidFirmwareSigningCertificate", "InvalidCsmsCertificate",
    "InvalidChargingStationCertificate", "InvalidTLSVersion", "InvalidTLSCipherSuite",
    "MaintenanceLoginAccepted", "MaintenanceLoginFailed",
})

KINDS: frozenset[str] = CRITICAL | {
    "FailedToAuthenticateAtCsms", "CsmsFailedToAuthenticate",
    "ReconfigurationOfSecurityParameters", "InvalidMessages", "AttemptedReplayAttacks",
    "DiscardedRenewedClientCertificate",
}

TECH_INFO_MAX_CHARS = 255  # techInfo ≤ 255 (A04.FR.01)


def report(event: ev.SecurityEventOccurred, now: float) -> list[fx.Effect]:
    """The effects of one security event at ``now`` (UTC epoch s). An unknown ``kind`` is
    a bug of the reporting part (ValueError), not an input from outside."""
    if event.kind not in KINDS:
        raise ValueError(f"unknown security event kind {event.kind!r}")
    tech_info = event.tech_info[:TECH_INFO_MAX_CHARS] if event.tech_info else None
    return [fx.SendSecurityEvent(event.kind, now, tech_info, event.kind in CRITICAL)]


def occurred(kind: str, tech_info: str | None, now: float) -> list[fx.Effect]:
    """The effects of an event the core itself sees (start-up, reset, clock step)."""
    return report(ev.SecurityEventOccurred(kind, tech_info), now)


# SettingSystemTime is reported only for a step beyond this (2.0.1
# ClockCtrlr.TimeAdjustmentReportingThreshold, [DM201]); smaller corrections are the
# routine Heartbeat clock sync.
TIME_ADJUSTMENT_REPORTING_THRESHOLD_S = 20.0
