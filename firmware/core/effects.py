"""Effects: what the core asks the runtime to do, in the imperative.

``Station.handle`` returns a list of these; the runtime executes them in order
(persist before send). None of them holds an I/O object. Messages to the CSMS are
typed (``SendTransactionStarted``), not JSON: ``firmware.ocpp.mapping`` turns them into
OCPP 1.6 payloads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Hashable

from .smart_charging import ChargingProfile
from .timers import TimerKey


class Effect:
    """Marker base class."""


# ----------------------------------------------------------------- timers and clock
@dataclass(frozen=True)
class StartTimer(Effect):
    """Fire ``TimerFired(key)`` after ``delay_s`` (replaces a timer with the same key)."""

    key: TimerKey
    delay_s: float


@dataclass(frozen=True)
class CancelTimer(Effect):
    key: TimerKey


# ----------------------------------------------------------------- hardware
@dataclass(frozen=True)
class CloseContactor(Effect):
    connector_id: int


@dataclass(frozen=True)
class OpenContactor(Effect):
    connector_id: int


@dataclass(frozen=True)
class OfferEnergy(Effect):
    """Set the pilot's current offer; 0 withdraws it (EV cannot draw)."""

    connector_id: int
    max_current_a: float


@dataclass(frozen=True)
class LockCable(Effect):
    """Lock the cable in the socket outlet (a transaction runs on it). The answer is
    ``CableLocked`` or ``LockFailed``; no energy is offered before ``CableLocked``."""

    connector_id: int


@dataclass(frozen=True)
class CheckContactor(Effect):
    """Compare the contactor's feedback with "open" now; the answer is
    ``ContactorChecked`` or ``ContactorFailed``. Asked after a contactor fault once the
    vehicle is unplugged: only a check passed with no vehicle restores energy."""

    connector_id: int


@dataclass(frozen=True)
class UnlockCable(Effect):
    """Release the cable; ``request_ref`` set: an UnlockConnector waits for the result."""

    connector_id: int
    request_ref: Hashable = None


@dataclass(frozen=True)
class ShowStatus(Effect):
    """Tell the indicator (if any) the connector's new OCPP status, or "Authorizing"
    while a tap on it waits for the CSMS (OCPP reports Preparing then)."""

    connector_id: int
    status: str


# ----------------------------------------------------------------- persistence
@dataclass(frozen=True)
class PersistConfiguration(Effect):
    key: str
    value: str


@dataclass(frozen=True)
class PersistAvailability(Effect):
    connector_id: int
    operative: bool


@dataclass(frozen=True)
class PersistTransaction(Effect):
    """Write the transaction's current state (``record`` is a ``TransactionRecord``)."""

    record: Any


@dataclass(frozen=True)
class PersistStopData(Effect):
    """Write a running transaction's StopTxn*Data samples (sent with a PowerLoss stop
    after a crash)."""

    local_tx_id: int
    samples: tuple[MeterSample, ...]


@dataclass(frozen=True)
class PersistReservations(Effect):
    """Write every reservation (``firmware.core.reservations.Reservation``): they
    survive restarts."""

    reservations: tuple[Any, ...]


@dataclass(frozen=True)
class PersistChargingProfiles(Effect):
    """Write every installed charging profile (they survive restarts, [E16] 3.37)."""

    profiles: tuple[Any, ...]


@dataclass(frozen=True)
class ReadMeter(Effect):
    """Read the connector's meter once every command queued before it has run (the
    contactor opening): the answer is ``MeterRead``. A stop's meterStop is taken after
    the energy stopped, not from a poll up to one interval old."""

    connector_id: int


@dataclass(frozen=True)
class UpdateAuthorizationCache(Effect):
    """Record an IdTagInfo the CSMS sent (the store skips list identifiers)."""

    id_tag: str
    status: str
    expiry_s: float | None
    parent_id_tag: str | None


@dataclass(frozen=True)
class RememberRejectedTag(Effect):
    """Put a refused tag in the short negative cache."""

    id_tag: str


@dataclass(frozen=True)
class RecordDecision(Effect):
    """Accountability: why a tag was accepted or refused (logged and counted)."""

    id_tag: str
    accepted: bool
    why: str
    connector_id: int = 0


# ----------------------------------------------------------------- process
@dataclass(frozen=True)
class RestartAgent(Effect):
    """Restart the process once queued transaction messages are safe ("Soft"/"Hard");
    ``scheduled``: a reset that waited for the transactions to end (the next boot says
    ScheduledReset in 2.0.1, RemoteReset otherwise)."""

    kind: str
    scheduled: bool = False
    firmware_update: bool = False  # a firmware install: the next boot says FirmwareUpdate


@dataclass(frozen=True)
class Reply(Effect):
    """The answer to the CSMS request ``ref``: fields of the 1.6 call_result, snake_case."""

    ref: Hashable
    fields: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------- messages to the CSMS
@dataclass(frozen=True)
class SampledValue:
    value: str
    measurand: str
    context: str
    unit: str | None = None
    phase: str | None = None
    location: str = "Outlet"


@dataclass(frozen=True)
class MeterSample:
    timestamp_s: float
    values: tuple[SampledValue, ...]


class SendMessage(Effect):
    """Marker: a CALL to the CSMS."""

    transaction_related = False


@dataclass(frozen=True)
class SendRegistration(SendMessage):
    pass


@dataclass(frozen=True)
class SendKeepAlive(SendMessage):
    pass


@dataclass(frozen=True)
class SendConnectorStatus(SendMessage):
    connector_id: int
    status: str
    error_code: str = "NoError"
    timestamp_s: float | None = None
    info: str | None = None
    vendor_error_code: str | None = None


@dataclass(frozen=True)
class SendAuthorizationRequest(SendMessage):
    ref: Hashable
    id_tag: str
    token_type: str = "ISO14443"  # how it was presented (2.0.1 idToken.type)


@dataclass(frozen=True)
class SendTransactionStarted(SendMessage):
    local_tx_id: int
    connector_id: int
    id_tag: str
    meter_start_wh: int
    timestamp_s: float
    reservation_id: int | None = None
    remote: bool = False  # started by the CSMS's remote start (not a tap or a plug)
    token_type: str = "ISO14443"  # how the token was presented (2.0.1 idToken.type)
    transaction_related = True


@dataclass(frozen=True)
class ReportedKey:
    """One configuration key as reported: ``value`` None for a write-only one (a
    secret); ``kind`` as ``KeyDefinition.kind`` (bool, int, csl, str)."""

    key: str
    value: str | None
    readonly: bool
    kind: str


@dataclass(frozen=True)
class SendConfigurationReport(SendMessage):
    """The whole configuration for the CSMS's report request ``request_id``, as of
    ``generated_at_s``. 2.0.1 sends it as NotifyReport; 1.6 answers GetConfiguration
    directly and has no such message."""

    request_id: int
    generated_at_s: float
    keys: tuple[ReportedKey, ...]


@dataclass(frozen=True)
class SendChargingProfilesReport(SendMessage):
    """The installed profiles of ``connector_id`` (0: the station's) for the CSMS's
    report request ``request_id``; ``more_follow``: another report of the same request
    comes next. 2.0.1 sends it as ReportChargingProfiles; 1.6 has no such message."""

    request_id: int
    connector_id: int
    profiles: tuple[ChargingProfile, ...]
    more_follow: bool = False


@dataclass(frozen=True)
class SendReservationEnded(SendMessage):
    """A reservation ended other than by its holder's start: ``why`` "Expired" or
    "Removed" (cancelled, or its connector became Faulted/Unavailable). 2.0.1 reports it
    (ReservationStatusUpdate); 1.6 has no message for it."""

    reservation_id: int
    why: str


@dataclass(frozen=True)
class SendTransactionEnded(SendMessage):
    local_tx_id: int
    meter_stop_wh: int
    timestamp_s: float
    reason: str
    id_tag: str | None = None
    transaction_data: tuple[MeterSample, ...] = ()
    transaction_related = True


@dataclass(frozen=True)
class SendTransactionStateChanged(SendMessage):
    """The connector of running transaction ``local_tx_id`` changed state at
    ``timestamp_s``: ``status`` is its connector status (Charging, SuspendedEV,
    SuspendedEVSE, ...). 2.0.1 reports it in the transaction (TransactionEvent Updated,
    ChargingStateChanged); 1.6 only has the status change it reports anyway."""

    local_tx_id: int
    connector_id: int
    status: str
    timestamp_s: float
    transaction_related = True


@dataclass(frozen=True)
class SendMeterSamples(SendMessage):
    """``local_tx_id`` set: a transaction's values (queued durably, in order)."""

    connector_id: int
    samples: tuple[MeterSample, ...]
    local_tx_id: int | None = None
    transaction_id: int | None = None  # triggered values of a running tx (not queued)

    @property
    def transaction_related(self) -> bool:  # type: ignore[override]
        return self.local_tx_id is not None


@dataclass(frozen=True)
class SendFirmwareStatus(SendMessage):
    """A firmware update's status. ``request_id``: the update's (2.0.1 and the signed
    1.6 message carry it, L01.FR.10); ``signed``: a signed update (1.6 sends
    SignedFirmwareStatusNotification, whitepaper §9); ``queued``: part of an update's
    sequence, queued durably with the transaction messages so that its order survives
    an outage or a power cut (a triggered one is not)."""

    status: str = "Idle"
    request_id: int | None = None
    signed: bool = False
    queued: bool = False

    @property
    def transaction_related(self) -> bool:  # type: ignore[override]
        return self.queued


@dataclass(frozen=True)
class SendDiagnosticsStatus(SendMessage):
    status: str = "Idle"


@dataclass(frozen=True)
class SendSecurityEvent(SendMessage):
    """Report a security event (``firmware.core.security_events``). A critical one is
    queued durably with the transaction messages and delivered after any outage
    (whitepaper A04.FR.02); the others go out when the link is up."""

    kind: str
    timestamp_s: float
    tech_info: str | None = None
    critical: bool = False

    @property
    def transaction_related(self) -> bool:  # type: ignore[override]
        return self.critical


# ----------------------------------------------------------------- payment (firmware.core.payment)
@dataclass(frozen=True)
class PersistPayment(Effect):
    """Write one payment's record (``firmware.core.payment.PaymentRecord``) in the same
    transaction as the event's other effects, before any terminal call it asks for."""

    record: Any


@dataclass(frozen=True)
class PersistTariff(Effect):
    """Keep the ad-hoc tariff the CSMS set (its JSON form) across restarts."""

    tariff: Any


@dataclass(frozen=True)
class ShowPaymentMessage(Effect):
    """Tell the driver (the indicator/display hook and the console's event line):
    the price before the start, a declined card and why, the final cost, the receipt."""

    connector_id: int
    text: str


@dataclass(frozen=True)
class PreAuthorisePayment(Effect):
    """Ask the terminal to reserve ``amount_cents`` on the next card; the answer is
    ``PaymentPreAuthorised``, ``PaymentRefused`` or ``PaymentTerminalFailed``."""

    payment_id: int
    amount_cents: int


@dataclass(frozen=True)
class SettlePayment(Effect):
    """Book ``capture_cents`` of the reservation ``receipt_number`` (0: reverse it all);
    answered by ``PaymentSettled``, ``PaymentRefused`` or ``PaymentTerminalFailed``."""

    payment_id: int
    receipt_number: int
    capture_cents: int
    pre_authorised_cents: int


@dataclass(frozen=True)
class AbortPayment(Effect):
    """End the terminal's wait for a card (the waiting call answers PaymentRefused)."""

    payment_id: int


@dataclass(frozen=True)
class CheckPaymentTerminal(Effect):
    """Status enquiry; answered by ``PaymentTerminalChecked`` or ``PaymentTerminalFailed``."""


@dataclass(frozen=True)
class RunEndOfDay(Effect):
    """The terminal's end-of-day; answered by ``PaymentEndOfDayFinished``."""


@dataclass(frozen=True)
class SendPaymentReport(SendMessage):
    """A payment fact for the CSMS, queued durably with the transaction messages:
    ``message_id`` "PaymentCost" (queued just before its transaction's end, with
    ``local_tx_id``) or "PaymentSettled"; ``data`` is the documented JSON object
    (README "Paying by card"). 1.6 and 2.0.1 send it as DataTransfer(``vendor_id``)."""

    vendor_id: str
    message_id: str
    data: Any
    local_tx_id: int | None = None
    # "PaymentSettled" of a payment whose transaction ran: (its local id, its start
    # time in s), from which an adapter that names transactions itself (2.x) knows the
    # transactionId after the transaction ended.
    paid_transaction: tuple[int, float] | None = None
    transaction_related = True


@dataclass(frozen=True)
class ReconnectLink(Effect):
    """Close the connection and dial again with the current settings (a new
    SecurityProfile or AuthorizationKey), after the reply of the request that caused it
    went out. ``fallback_profile``: the profile to go back to when the new one cannot
    connect (the link reports ``SecurityProfileConnectFailed``)."""

    fallback_profile: int | None = None


@dataclass(frozen=True)
class SendCertificateSigningRequest(SendMessage):
    """SignCertificate: a PEM CSR (≤ 5500 chars) for a new key made on the station
    (whitepaper A02/A03); answered Accepted or Rejected, then CertificateSigned."""

    csr: str


# ----------------------------------------------------------------- firmware updates
class FirmwareWork(Effect):
    """Marker: work for the firmware updater (``firmware.update``); its outcome comes
    back as an event carrying the same ``request_id``."""

    request_id: int


@dataclass(frozen=True)
class DownloadFirmware(FirmwareWork):
    """One download attempt of ``location`` → ``FirmwareDownloaded`` or
    ``FirmwareDownloadFailed``."""

    request_id: int
    location: str


@dataclass(frozen=True)
class VerifyFirmware(FirmwareWork):
    """Check ``signature`` (base64) over the whole file at ``path`` with the signing
    certificate (PEM) → ``FirmwareVerified``."""

    request_id: int
    path: str
    signature: str
    signing_certificate: str


@dataclass(frozen=True)
class InstallFirmware(FirmwareWork):
    """Run the site's installer on ``path`` → ``FirmwareInstalled``."""

    request_id: int
    path: str


@dataclass(frozen=True)
class AbandonFirmware(FirmwareWork):
    """Update ``request_id`` is over: stop its work and delete its files."""

    request_id: int


@dataclass(frozen=True)
class PersistFirmwareUpdate(Effect):
    """Store the update's state (a ``FirmwareUpdateRecord``) with this event's commit."""

    record: Any


@dataclass(frozen=True)
class SendLogStatus(SendMessage):
    """LogStatusNotification (whitepaper / 2.0.1 N01): the status of the GetLog upload
    ``request_id`` (None only for Idle, N01.FR.12). Not queued: a status that cannot go
    now is stale by the next connect."""

    status: str = "Idle"
    request_id: int | None = None
