"""One connector's facts, and the OCPP status and outputs derived from them.

The connector does not keep a hand-written transition table: it keeps facts (pilot
state, faults, authorization, transaction, availability) and derives its OCPP status
and its desired outputs (energy offer, contactor) from them after every event. That
makes the safety rule one expression (``contactor_should_close``) instead of a property
every transition has to remember.

Energy needs two kinds of facts: the session's right to it (``energy_allowed``: a
running, not withheld transaction, no fault, no contactor awaiting its check) and the
hardware's readiness (``hardware_ready``: the cable lock confirmed locked). Nothing
offers or closes before both hold: lock, confirm, then offer and close.

A contactor fault (weld, no pull-in) sets ``contactor_needs_check``: no close again,
whatever the feedback says meanwhile, until the vehicle is unplugged and a contactor
check has passed with no vehicle connected.

``pilot`` is the last pilot state; ``ev_plugged`` the last *plug* fact, which pilot
E/F (an error, not an unplug) leave unchanged.

IEC 61851 → OCPP 1.6 status (checked in this order):
- an active fault (contactor, meter, pilot E/F)               → Faulted
- a transaction, energy allowed, pilot C/D                    → Charging
- a transaction, energy allowed, pilot B (or A, tx kept)      → SuspendedEV
- a transaction, the EVSE withholds energy (invalid id)       → SuspendedEVSE
- no transaction, Inoperative (or held for a firmware install) → Unavailable
- no transaction, just ended, cable still plugged             → Finishing
- authorized and waiting for the cable, or plugged (B/C/D)    → Preparing
- otherwise                                                   → Available
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from hal.interfaces import MeterReading, PilotState

from .effects import MeterSample

if TYPE_CHECKING:
    from .reservations import Reservation


@dataclass(frozen=True)
class Fault:
    kind: str
    error_code: str  # OCPP ChargePointErrorCode
    vendor_error_code: str = ""
    info: str = ""


@dataclass(frozen=True)
class Authorization:
    """An id tag allowed to start on this connector, waiting for the cable or the start."""

    id_tag: str
    parent_id_tag: str | None
    why: str
    authorized_at_s: float
    charging_profile: Any = None  # a RemoteStart's TxProfile for the transaction to come
    remote: bool = False  # from the CSMS's remote start (its start says so: 2.0.1 trigger)
    token_type: str = "ISO14443"  # how the token was presented (2.0.1 IdTokenEnumType)


@dataclass(frozen=True)
class TransactionRecord:
    """What survives a power cut: enough to send StopTransaction(PowerLoss) on restart."""

    local_tx_id: int
    connector_id: int
    id_tag: str
    parent_id_tag: str | None
    meter_start_wh: int
    started_at_s: float
    transaction_id: int | None = None
    last_meter_wh: int | None = None
    last_meter_at_s: float | None = None
    suspended_by_evse: bool = False


@dataclass
class Transaction:
    record: TransactionRecord
    stop_data: list[MeterSample] = field(default_factory=list)
    last_persisted_s: float = 0.0
    energy_limit_wh: float | None = None  # MaxEnergyOnInvalidId budget once deauthorized
    unknown_to_csms: bool = False  # its StartTransaction was dropped after the last attempt

    @property
    def local_tx_id(self) -> int:
        return self.record.local_tx_id

    @property
    def id_tag(self) -> str:
        return self.record.id_tag

    @property
    def transaction_id(self) -> int | None:
        return self.record.transaction_id

    def update(self, **changes: object) -> TransactionRecord:
        self.record = replace(self.record, **changes)  # type: ignore[arg-type]
        return self.record


@dataclass(frozen=True)
class PendingStop:
    """A transaction that ended while energy flowed: its StopTransaction waits for the
    meter reading taken after the contactor opened (``ReadMeter``)."""

    local_tx_id: int
    reason: str
    id_tag: str | None
    at_s: float
    stop_data: tuple[MeterSample, ...]
    fallback_meter_wh: int  # the last poll, used if the meter does not answer


STOP_DATA_MAX_SAMPLES = 200

# Faults that withhold energy but keep the session: a meter or controller link that
# stops answering may come back, and the driver is still there.
TRANSIENT_FAULTS = frozenset({"meter", "pilot-link", "offer"})


class Connector:
    def __init__(self, connector_id: int, max_current_a: float, *, operative: bool = True,
                 has_lock: bool = False, nominal_voltage_v: float = 230.0, phases: int = 3):
        self.connector_id = connector_id
        self.max_current_a = max_current_a
        self.nominal_voltage_v = nominal_voltage_v
        self.phases = phases
        # The smart-charging limit now, A (None: no profile limits this connector; 0: a
        # pause, below the 6 A IEC 61851 minimum) and the profiles that set it.
        self.limit_a: float | None = None
        self.limit_source = ""
        self.has_lock = has_lock
        self.pilot = PilotState.A
        self.ev_plugged = False  # the last non-error pilot state was B, C or D
        self.operative = operative
        self.scheduled_operative: bool | None = None
        # A firmware update waits to install (L01.FR.07): Unavailable once idle, no new
        # session; not persisted (firmware.core.firmware_update holds it again at start).
        self.held_for_update = False
        self.faults: dict[str, Fault] = {}
        self.authorization: Authorization | None = None
        self.awaiting_authorize = False  # a tap for this connector is with the CSMS
        self.tx: Transaction | None = None
        self.finishing = False
        self.stopping: PendingStop | None = None
        self.contactor_closed = False  # as last commanded
        self.offer_a = 0.0  # as last commanded
        # The pilot refused an offer ("offer" fault): no offer is sent until the retry
        # timer clears the fault and sets ``offer_resend``, which sends the one due then.
        self.offer_resend = False
        self.reading: MeterReading | None = None
        self.reading_at_s: float | None = None
        self.reported_status: str | None = None  # last StatusNotification sent
        # The running transaction's state (the status while it runs) last reported as a
        # transaction fact; None outside a transaction.
        self.tx_state_reported: str | None = None
        self.reported_error: str = "NoError"
        self.shown_status: str | None = None  # last status given to the indicator
        self.cable_locked = False  # as last commanded
        self.lock_confirmed = False  # the lock answered CableLocked to the last LockCable
        self.contactor_needs_check = False  # a contactor fault: see the module doc
        # The transaction ended but the cable stays locked until this idTag returns
        # (DeAuthorized, [16] §3.5.4; or UnlockConnectorOnEVSideDisconnect=false).
        self.cable_held_for: str | None = None
        # Held for a driver (firmware.core.reservations, which sets and clears it).
        self.reservation: Reservation | None = None

    # ------------------------------------------------------------------ derived facts
    @property
    def faulted(self) -> bool:
        return bool(self.faults)

    def energy_allowed(self) -> bool:
        """The session has the right to energy now: tx running, not withheld, no fault,
        no contactor awaiting its check."""
        tx = self.tx
        return (tx is not None and not tx.record.suspended_by_evse and not self.faults
                and not self.contactor_needs_check)

    def hardware_ready(self) -> bool:
        """The socket may be energised: its cable lock (if any) confirmed locked."""
        return not self.has_lock or (self.cable_locked and self.lock_confirmed)

    def desired_offer_a(self) -> float:
        if self.energy_allowed() and self.hardware_ready() and self.pilot.ev_connected:
            offer = self.max_current_a if self.limit_a is None else min(self.max_current_a,
                                                                         self.limit_a)
            return offer if offer >= 6.0 else 0.0  # IEC 61851: no PWM offer below 6 A
        return 0.0

    def contactor_should_close(self) -> bool:
        """The safety rule: authorized (running tx, not withheld), EV asks, no fault,
        the cable locked and confirmed, no contactor awaiting its check."""
        return (self.energy_allowed() and self.hardware_ready()
                and self.pilot.ev_requests_energy and self.desired_offer_a() > 0)

    def session_ending_fault(self) -> Fault | None:
        """The first active fault that ends a running session (everything except a
        meter or controller link that may come back: those only withhold energy)."""
        return next((f for f in self.faults.values() if f.kind not in TRANSIENT_FAULTS),
                    None)

    def cable_should_lock(self) -> bool:
        return self.has_lock and (self.tx is not None or self.cable_held_for is not None)

    def transaction_ended(self) -> bool:
        """No transaction, and the last one's StopTransaction is queued (not waiting
        for the meter reading after the opening)."""
        return self.tx is None and self.stopping is None

    def is_idle(self) -> bool:
        """Free for a new session: no tx, no authorization, operative, no fault."""
        return (self.tx is None and self.authorization is None and not self.awaiting_authorize
                and self.stopping is None and self.operative and not self.faults
                and not self.held_for_update)

    def status(self) -> str:
        if self.faults:
            return "Faulted"
        if self.tx is not None:
            if not self.energy_allowed() or self.limit_a == 0:
                # [E16] 3.64: "not offering energy ... e.g. due to a smart charging restriction"
                return "SuspendedEVSE"
            if self.pilot.ev_requests_energy:
                return "Charging"
            return "SuspendedEV"
        if not self.operative or self.held_for_update:
            return "Unavailable"
        if self.finishing and self.ev_plugged:
            return "Finishing"
        if self.reservation is not None and self.authorization is None \
                and not self.awaiting_authorize:
            return "Reserved"  # a plug without the holder's token changes nothing
        if self.authorization is not None or self.awaiting_authorize or self.pilot.ev_connected:
            return "Preparing"
        return "Available"

    def indicated_status(self) -> str:
        """What the indicator shows: ``status()``, but "Authorizing" while a tap on this
        connector waits for the CSMS's Authorize answer. OCPP 1.6 has no such status (the
        connector is Preparing); the light tells the driver that the card was read."""
        status = self.status()
        if status == "Preparing" and self.awaiting_authorize:
            return "Authorizing"
        return status

    def error(self) -> Fault | None:
        """The fault to report (the first raised), or None."""
        return next(iter(self.faults.values()), None)

    def energy_wh(self) -> int | None:
        return None if self.reading is None else int(round(self.reading.energy_wh))

    def add_stop_sample(self, sample: MeterSample | None) -> bool:
        """Keep ``sample`` for the StopTransaction; True when one was added."""
        if self.tx is None or sample is None:
            return False
        data = self.tx.stop_data
        if len(data) >= STOP_DATA_MAX_SAMPLES:
            # Keep the first (Transaction.Begin) and the newest: a long session must not
            # grow the StopTransaction without bound.
            del data[1]
        data.append(sample)
        return True
