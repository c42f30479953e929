"""The core's timers, one key type each (issue 9 item 1: timers get typed keys).

A ``StartTimer(key, delay_s)`` replaces the running timer with an equal key; the
runtime fires ``TimerFired(key)`` on the monotonic clock. Keys are frozen dataclasses,
so a misspelt or mis-shaped key is a type error (mypy) instead of a timer that never
fires, and the station dispatches on the key's type.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TimerKey:
    """Base of every timer key."""


@dataclass(frozen=True)
class RegistrationRetry(TimerKey):
    """The next registration after Pending/Rejected or a failed one (boot)."""


@dataclass(frozen=True)
class KeepAlive(TimerKey):
    """The next keep-alive (HeartbeatInterval)."""


@dataclass(frozen=True)
class AlignedSample(TimerKey):
    """The next clock-aligned meter slot (ClockAlignedDataInterval, from midnight)."""


@dataclass(frozen=True)
class ProfileBoundary(TimerKey):
    """The next charging-profile period boundary (or a daily look ahead)."""


@dataclass(frozen=True)
class ConnectionTimeout(TimerKey):
    """An authorization waiting for its cable (ConnectionTimeOut) on one connector."""

    connector_id: int


@dataclass(frozen=True)
class PeriodicSample(TimerKey):
    """The next MeterValueSampleInterval sample of one connector's transaction."""

    connector_id: int


@dataclass(frozen=True)
class StopMeterRead(TimerKey):
    """How long a stop waits for the meter read behind its opening contactor."""

    connector_id: int


@dataclass(frozen=True)
class OfferRetry(TimerKey):
    """When to offer again after the pilot refused an offer (``OfferFailed``)."""

    connector_id: int


@dataclass(frozen=True)
class ReservationExpiry(TimerKey):
    """A reservation's expiryDate (wall clock: re-armed when the clock steps)."""

    reservation_id: int


@dataclass(frozen=True)
class PaymentRetry(TimerKey):
    """The next attempt to settle (capture or reverse) payment ``payment_id`` after the
    terminal did not answer, or the next status check of a silent terminal (id 0)."""

    payment_id: int


@dataclass(frozen=True)
class PaymentEndOfDay(TimerKey):
    """The payment terminal's daily end-of-day (settlement) at the configured time."""


@dataclass(frozen=True)
class FirmwareUpdateWake(TimerKey):
    """A firmware update's next wall-clock moment: retrieveDateTime, a download retry,
    installDateTime (re-armed when the clock steps)."""
