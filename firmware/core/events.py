"""Events: everything that happens to the station, in the past tense.

The runtime turns hardware readings, CSMS frames, console commands and timers into
these plain values and feeds them to ``Station.handle(event, now)``. Events carry no
behaviour and no I/O objects; times are UTC epoch seconds (``*_s``) or come as the
``now`` argument of ``handle``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Hashable

from hal.interfaces import MeterReading, PilotState

from .effects import SendMessage
from .timers import TimerKey

if TYPE_CHECKING:
    from .payment_records import PaymentRecord


class Event:
    """Marker base class."""


# ----------------------------------------------------------------- life cycle and link
@dataclass(frozen=True)
class AgentStarted(Event):
    """The process started (once, first event). ``boot_reason``: why, in 2.0.1's words
    (PowerUp, RemoteReset, ScheduledReset, ...), reported as StartupOfTheDevice."""

    boot_reason: str = "PowerUp"


@dataclass(frozen=True)
class ShutdownRequested(Event):
    """The agent is stopping (SIGTERM/SIGINT): end running transactions with ``reason``."""

    reason: str = "Reboot"


@dataclass(frozen=True)
class LinkConnected(Event):
    """The websocket to the CSMS is open."""


@dataclass(frozen=True)
class LinkDisconnected(Event):
    """The websocket closed or was found dead."""


@dataclass(frozen=True)
class RegistrationAnswered(Event):
    status: str  # "Accepted" | "Pending" | "Rejected"
    interval_s: int
    csms_time_s: float | None


@dataclass(frozen=True)
class KeepAliveAnswered(Event):
    csms_time_s: float | None


@dataclass(frozen=True)
class CallFailed(Event):
    """A non-transaction message got no usable answer: ``message`` is the core's effect
    that asked for it (a registration, an authorization request), so the core never
    needs a protocol's name for it.

    ``reason`` is "offline" (not sent: no link or boot not accepted), "timeout" or
    "error" (a CALLERROR with ``error_code``).
    """

    ref: Hashable
    message: SendMessage
    reason: str
    error_code: str = ""


@dataclass(frozen=True)
class TimerFired(Event):
    key: TimerKey


@dataclass(frozen=True)
class ClockStepped(Event):
    """The agent's wall clock stepped by ``step_s`` (s, either sign; a CSMS clock sync
    larger than the slew threshold). Timers that are durations run on the monotonic
    clock and are unaffected; timers derived from the wall clock must be re-armed."""

    step_s: float


# ----------------------------------------------------------------- hardware
@dataclass(frozen=True)
class PilotChanged(Event):
    connector_id: int
    state: PilotState


@dataclass(frozen=True)
class CardPresented(Event):
    """A card was read and canonicalised to ``id_tag``.

    ``list_entry`` / ``cache_entry`` are what the local authorization store knows about
    the tag (looked up by the runtime, since the store is I/O); ``negative_cached`` is
    True when the tag was refused moments ago.
    """

    id_tag: str
    reader: str = ""
    list_entry: Any = None
    cache_entry: Any = None
    negative_cached: bool = False
    connector_id: int = 0  # the connector the reader serves; 0 = the station picks
    # how the token identifies itself (2.0.1 IdTokenEnumType: ISO14443, ISO15693,
    # KeyCode, Local, ...): from the reader's board config
    token_type: str = "ISO14443"


@dataclass(frozen=True)
class ContactorSwitched(Event):
    """The contactor's feedback confirmed the commanded state."""

    connector_id: int
    closed: bool


@dataclass(frozen=True)
class ContactorFailed(Event):
    """Feedback disagrees with the command (no pull-in, or welded)."""

    connector_id: int
    vendor_error_code: str
    info: str = ""


@dataclass(frozen=True)
class ContactorChecked(Event):
    """A requested contactor check (``CheckContactor``) found the feedback open, as
    commanded. A failed check arrives as ``ContactorFailed`` instead."""

    connector_id: int


@dataclass(frozen=True)
class MeterSampled(Event):
    connector_id: int
    reading: MeterReading


@dataclass(frozen=True)
class MeterRead(Event):
    """The answer to ``ReadMeter``: the reading, or None when the meter did not answer."""

    connector_id: int
    reading: MeterReading | None


@dataclass(frozen=True)
class MeterFailed(Event):
    """The meter failed ``failed_reads`` consecutive reads (PowerMeterFailure)."""

    connector_id: int
    info: str = ""


@dataclass(frozen=True)
class HardwareFaultChanged(Event):
    """A fault reported by a driver or injected on the simulator.

    ``error_code`` is an OCPP ChargePointErrorCode; ``active`` False clears it.
    """

    connector_id: int
    kind: str
    active: bool
    error_code: str = "OtherError"
    vendor_error_code: str = ""
    info: str = ""


@dataclass(frozen=True)
class CableLocked(Event):
    """The cable lock confirmed "locked" after a ``LockCable``."""

    connector_id: int


@dataclass(frozen=True)
class LockFailed(Event):
    """The cable lock did not confirm "locked" (timeout, no feedback, device error)."""

    connector_id: int
    info: str = ""


@dataclass(frozen=True)
class CableUnlocked(Event):
    connector_id: int
    ok: bool
    request_ref: Hashable = None


# ----------------------------------------------------------------- CSMS answers
@dataclass(frozen=True)
class IdTagInfo:
    status: str  # Accepted | Blocked | Expired | Invalid | ConcurrentTx
    expiry_s: float | None = None
    parent_id_tag: str | None = None


@dataclass(frozen=True)
class AuthorizationAnswered(Event):
    ref: Hashable
    id_tag: str
    info: IdTagInfo


@dataclass(frozen=True)
class TransactionStartAnswered(Event):
    local_tx_id: int
    transaction_id: int
    info: IdTagInfo
    id_tag: str = ""  # the idTag the StartTransaction carried (for the cache)


@dataclass(frozen=True)
class TransactionEndAnswered(Event):
    local_tx_id: int
    info: IdTagInfo | None
    id_tag: str = ""


@dataclass(frozen=True)
class LocalListConflicted(Event):
    """The CSMS's IdTagInfo for a tag contradicts the local list ([16] §3.5.2)."""

    id_tag: str
    list_status: str
    csms_status: str


@dataclass(frozen=True)
class TransactionMessageDropped(Event):
    """The outbox gave up on a transaction message after the last attempt.
    ``was_start``: it was the transaction's start (the version's adapter says which
    message that is); ``action`` names the message for logs only."""

    local_tx_id: int
    action: str
    was_start: bool = False


# ----------------------------------------------------------------- CSMS requests
@dataclass(frozen=True)
class Request(Event):
    """A CSMS-initiated CALL. The core answers with a ``Reply`` effect carrying ``ref``."""

    ref: Hashable


@dataclass(frozen=True)
class RemoteStartRequested(Request):
    id_tag: str = ""
    connector_id: int | None = None
    list_entry: Any = None
    cache_entry: Any = None
    charging_profile: Any = None  # a TxProfile for the transaction it starts
    token_type: str = "Central"  # as the CSMS named it (2.0.1 idToken.type)


@dataclass(frozen=True)
class ReservationRequested(Request):
    """Hold a connector (0: any) for ``id_tag`` or its parent group until ``expiry_s``
    (UTC epoch s). Reply ``status``: Accepted, Faulted, Occupied, Rejected, Unavailable."""

    reservation_id: int = 0
    connector_id: int = 0
    id_tag: str = ""
    expiry_s: float = 0.0
    parent_id_tag: str | None = None


@dataclass(frozen=True)
class ReservationCancelRequested(Request):
    """Reply ``status``: Accepted (it existed and ended) or Rejected."""

    reservation_id: int = 0


@dataclass(frozen=True)
class RemoteStopRequested(Request):
    transaction_id: int = 0


@dataclass(frozen=True)
class ResetRequested(Request):
    kind: str = "Soft"  # "Soft" | "Hard"
    # 2.0.1 OnIdle: with a transaction running, reply Scheduled and restart after the
    # last one ends (B12, TC_B_21); no new session starts meanwhile
    when_idle: bool = False


@dataclass(frozen=True)
class AvailabilityChangeRequested(Request):
    connector_id: int = 0
    kind: str = "Operative"  # "Operative" | "Inoperative"


@dataclass(frozen=True)
class CableUnlockRequested(Request):
    connector_id: int = 0


@dataclass(frozen=True)
class ConfigurationReadRequested(Request):
    keys: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ConfigurationReportRequested(Request):
    """Report every configuration key in messages of their own (2.0.1 GetBaseReport →
    NotifyReport); reply ``status`` Accepted, then ``SendConfigurationReport``."""

    request_id: int = 0


@dataclass(frozen=True)
class ConfigurationChangeRequested(Request):
    key: str = ""
    value: str = ""


@dataclass(frozen=True)
class MessageTriggerRequested(Request):
    """``message``: the core's name of the triggered message: the 1.6 TriggerMessage
    names, plus LogStatusNotification and SignedFirmwareStatusNotification (the 1.6
    whitepaper's ExtendedTriggerMessage FirmwareStatusNotification)."""

    message: str = ""
    connector_id: int | None = None


@dataclass(frozen=True)
class RecoveredTransaction(Event):
    """A transaction found open in the store at start (the agent died during it)."""

    record: Any = field(default=None)
    stop_data: tuple[Any, ...] = ()  # the StopTxn*Data samples saved before the crash


# ----------------------------------------------------------------- smart charging
@dataclass(frozen=True)
class ChargingProfileInstallRequested(Request):
    """Install a profile (``firmware.core.smart_charging.ChargingProfile``) on a connector
    (0 = the station; TxDefault on 0 applies to every connector)."""

    profile: Any = None


@dataclass(frozen=True)
class ChargingProfileClearRequested(Request):
    """Clear the profiles matching every given field ([E16] 3.25); an id wins over the rest."""

    profile_id: int | None = None
    connector_id: int | None = None
    purpose: str | None = None
    stack_level: int | None = None


@dataclass(frozen=True)
class ChargingProfilesReportRequested(Request):
    """Report the installed profiles matching every given field (2.0.1 K09: a profile
    id in ``profile_ids`` matches any of them) for the CSMS's request ``request_id``.
    Reply ``status``: Accepted (reports follow, one per connector) or NoProfiles."""

    request_id: int = 0
    connector_id: int | None = None
    purpose: str | None = None
    stack_level: int | None = None
    profile_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class CompositeScheduleRequested(Request):
    connector_id: int = 0
    duration_s: int = 0
    unit: str | None = None  # "A" | "W"; None: the connector's own unit (A)


# ----------------------------------------------------------------- security
@dataclass(frozen=True)
class OfferFailed(Event):
    """The pilot/EVSE controller of ``connector_id`` did not take the offer of
    ``max_current_a`` (A; 0 = a withdrawal): the current the EV may draw is unknown."""

    connector_id: int
    max_current_a: float
    why: str = ""


@dataclass(frozen=True)
class SecurityEventOccurred(Event):
    """Something the security event list names happened (``firmware.core.security_events``:
    ``kind`` is one of its ``KINDS``); reported by the part that saw it (the link, the
    firmware updater, the console). ``tech_info``: free text for the operator, never a
    secret (cut to 255 characters when sent)."""

    kind: str
    tech_info: str | None = None


# ----------------------------------------------------------------- payment (firmware.core.payment)
@dataclass(frozen=True)
class PaymentRequested(Event):
    """Someone wants to pay by card on ``connector_id`` (0: the plugged or first free
    connector the terminal serves): console ``pay``, a plug-in (``arm_on_plug``), a
    simulated tap (``sim card``)."""

    connector_id: int = 0


@dataclass(frozen=True)
class PaymentCancelRequested(Event):
    """Stop waiting for a card (console ``pay cancel``)."""


@dataclass(frozen=True)
class PaymentReleaseRequested(Event):
    """A technician read the receipt number of a ``lost`` pre-authorisation off the
    terminal (its journal or printout) and asks to reverse it (console ``pay release``).
    ``record`` is the stored record (the core keeps only unfinished ones);
    ``receipt_number`` the terminal's (BMP 87: 1..9999)."""

    record: PaymentRecord
    receipt_number: int


@dataclass(frozen=True)
class PaymentPreAuthorised(Event):
    """The terminal reserved ``amount_cents`` on a card under ``receipt_number``;
    ``card_token`` identifies the card (matching a stop to a start), ``pan_masked`` and
    ``card_name`` are for the receipt (never the full PAN)."""

    payment_id: int
    receipt_number: int
    amount_cents: int
    card_token: str
    pan_masked: str = ""
    card_name: str = ""


@dataclass(frozen=True)
class PaymentRefused(Event):
    """The terminal refused ``operation`` ("pre_authorise", "settle") of payment
    ``payment_id``: declined card, abort, no card in time; ``result_code`` the ZVT code."""

    payment_id: int
    operation: str
    reason: str
    result_code: int = 0


@dataclass(frozen=True)
class PaymentSettled(Event):
    """The terminal booked ``amount_cents`` of payment ``payment_id`` (0: the whole
    reservation was reversed)."""

    payment_id: int
    amount_cents: int
    trace_number: int | None = None


@dataclass(frozen=True)
class PaymentReceiptOffered(Event):
    """The CSMS made the receipt of the settled payment whose payment idTag is
    ``id_tag`` and offers it at ``receipt_url`` (OCPP 2.1 NotifySettlementResponse):
    the station shows that link to the driver instead of its own."""

    id_tag: str
    receipt_url: str


@dataclass(frozen=True)
class PaymentTerminalFailed(Event):
    """The terminal did not answer ``operation`` ("pre_authorise", "settle", "status",
    "end_of_day") within its timeouts: the outcome is unknown (a fault)."""

    payment_id: int
    operation: str
    reason: str


@dataclass(frozen=True)
class PaymentTerminalChecked(Event):
    """The terminal answered a status enquiry: ``ready`` or not (``text`` says why)."""

    ready: bool
    text: str = ""


@dataclass(frozen=True)
class PaymentEndOfDayFinished(Event):
    """The end-of-day run finished: ``ok``, ``total_cents`` booked since the last one."""

    ok: bool
    total_cents: int | None = None
    text: str = ""


@dataclass(frozen=True)
class TariffChangeRequested(Request):
    """The CSMS sent a new ad-hoc tariff (``firmware.core.tariff.Tariff`` JSON form);
    answered with ``Reply(ref, {"status": "Accepted"|"Rejected", "info": ...})``."""

    tariff: Any = None


@dataclass(frozen=True)
class CsmsCostReported(Request):
    """The CSMS said what a transaction costs (``firmware.core.csms_cost``): the running
    cost so far (``final`` False) or the total after the stop (``final`` True;
    ``total_cost`` None: the CSMS sent none, 0: free). ``total_cost`` in the currency's
    main unit (TariffCostCtrlr.Currency). Answered ``Reply(ref, {"status":
    "Accepted"|"Ignored", "why": ...})``; an ignored report changes nothing."""

    local_tx_id: int = 0
    total_cost: Decimal | None = None
    final: bool = False


@dataclass(frozen=True)
class SecurityProfileConnectFailed(Event):
    """The link tried ``profile`` after an accepted upgrade and could not connect
    (``why``: the last dial error, no secret); the core goes back to
    ``fallback_profile`` (``firmware.core.security_profile``, A05.FR.08)."""

    profile: int
    fallback_profile: int
    why: str = ""


# ----------------------------------------------------------------- firmware updates
@dataclass(frozen=True)
class FirmwareUpdateRequested(Request):
    """The CSMS asked for a firmware update (``firmware.core.firmware_update``):
    ``update`` is a ``FirmwareRequest`` whose signing certificate, if any, the service
    already checked against the manufacturer roots (L01.FR.23). Reply ``status``:
    Accepted, AcceptedCanceled (a running update was cancelled, L01.FR.26) or Rejected
    (the running one is installing and cannot be cancelled, L01.FR.27); a plain 1.6
    request gets an empty reply."""

    update: Any = None


@dataclass(frozen=True)
class FirmwareDownloaded(Event):
    """The image of update ``request_id`` is complete at ``path`` (in the state dir)."""

    request_id: int
    path: str


@dataclass(frozen=True)
class FirmwareDownloadFailed(Event):
    """One download attempt of update ``request_id`` failed (``reason`` for the log)."""

    request_id: int
    reason: str = ""


@dataclass(frozen=True)
class FirmwareVerified(Event):
    """The signature check of update ``request_id``: ``ok`` False = the image or its
    signature does not verify with the signing certificate (L01.FR.03)."""

    request_id: int
    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class FirmwareInstalled(Event):
    """The installer of update ``request_id`` finished: ``ok`` False = it failed (a
    non-zero exit, a timeout); the old firmware still runs."""

    request_id: int
    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class LogUploadProgressed(Event):
    """A log upload the CSMS asked for changed status (reported by the log service,
    ``firmware.diagnostics``): ``status`` in the status notification's words
    (Uploading, Uploaded, UploadFailure, BadMessage, PermissionDenied,
    NotSupportedOperation; for ``diagnostics`` uploads of 1.6 GetDiagnostics:
    Uploading, Uploaded, UploadFailed). ``request_id``: the GetLog's requestId (None for
    GetDiagnostics). A final status ends the upload; the core reports each change."""

    status: str
    request_id: int | None = None
    diagnostics: bool = False
