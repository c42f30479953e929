"""One connector's facts, and the OCPP status and outputs derived from them.

The connector does not keep a hand-written transition table: it keeps facts (pilot
state, faults, authorization, transaction, availability) and derives its OCPP status
and its desired outputs (energy offer, contactor) from them after every event. That
makes the safety rule one expression (``contactor_should_close``) instead of a property
every transition has to remember.

IEC 61851 → OCPP 1.6 status (checked in this order):
- an active fault (contactor, meter, pilot E/F)               → Faulted
- a transaction, energy allowed, pilot C/D                    → Charging
- a transaction, energy allowed, pilot B (or A, tx kept)      → SuspendedEV
- a transaction, the EVSE withholds energy (invalid id)       → SuspendedEVSE
- no transaction, Inoperative                                 → Unavailable
- no transaction, just ended, cable still plugged             → Finishing
- authorized and waiting for the cable, or plugged (B/C/D)    → Preparing
- otherwise                                                   → Available
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from hal.interfaces import MeterReading, PilotState

from .effects import MeterSample


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

    def update(self, **changes) -> TransactionRecord:
        self.record = replace(self.record, **changes)
        return self.record


STOP_DATA_MAX_SAMPLES = 200


class Connector:
    def __init__(self, connector_id: int, max_current_a: float, *, operative: bool = True,
                 has_lock: bool = False):
        self.connector_id = connector_id
        self.max_current_a = max_current_a
        self.has_lock = has_lock
        self.pilot = PilotState.A
        self.operative = operative
        self.scheduled_operative: bool | None = None
        self.faults: dict[str, Fault] = {}
        self.authorization: Authorization | None = None
        self.awaiting_authorize = False  # a tap for this connector is with the CSMS
        self.tx: Transaction | None = None
        self.finishing = False
        self.contactor_closed = False  # as last commanded
        self.offer_a = 0.0  # as last commanded
        self.reading: MeterReading | None = None
        self.reading_at_s: float | None = None
        self.reported_status: str | None = None  # last StatusNotification sent
        self.reported_error: str = "NoError"
        self.shown_status: str | None = None  # last status given to the indicator
        self.cable_locked = False  # as last commanded
        # The transaction ended but the cable stays locked until this idTag returns
        # (DeAuthorized, [16] §3.5.4; or UnlockConnectorOnEVSideDisconnect=false).
        self.cable_held_for: str | None = None

    # ------------------------------------------------------------------ derived facts
    @property
    def faulted(self) -> bool:
        return bool(self.faults)

    def energy_allowed(self) -> bool:
        """The EVSE is willing to deliver energy now (tx running, not withheld, no fault)."""
        tx = self.tx
        return tx is not None and not tx.record.suspended_by_evse and not self.faults

    def desired_offer_a(self) -> float:
        if self.energy_allowed() and self.pilot.ev_connected:
            return self.max_current_a
        return 0.0

    def contactor_should_close(self) -> bool:
        """The safety rule: authorized (running tx, not withheld), EV asks, no fault."""
        return self.energy_allowed() and self.pilot.ev_requests_energy

    def cable_should_lock(self) -> bool:
        return self.has_lock and (self.tx is not None or self.cable_held_for is not None)

    def is_idle(self) -> bool:
        """Free for a new session: no tx, no authorization, operative, no fault."""
        return (self.tx is None and self.authorization is None and not self.awaiting_authorize
                and self.operative and not self.faults)

    def status(self) -> str:
        if self.faults:
            return "Faulted"
        if self.tx is not None:
            if not self.energy_allowed():
                return "SuspendedEVSE"
            if self.pilot.ev_requests_energy:
                return "Charging"
            return "SuspendedEV"
        if not self.operative:
            return "Unavailable"
        if self.finishing and self.pilot.ev_connected:
            return "Finishing"
        if self.authorization is not None or self.awaiting_authorize or self.pilot.ev_connected:
            return "Preparing"
        return "Available"

    def error(self) -> Fault | None:
        """The fault to report (the first raised), or None."""
        return next(iter(self.faults.values()), None)

    def energy_wh(self) -> int | None:
        return None if self.reading is None else int(round(self.reading.energy_wh))

    def add_stop_sample(self, sample: MeterSample | None) -> None:
        if self.tx is None or sample is None:
            return
        data = self.tx.stop_data
        if len(data) >= STOP_DATA_MAX_SAMPLES:
            # Keep the first (Transaction.Begin) and the newest: a long session must not
            # grow the StopTransaction without bound.
            del data[1]
        data.append(sample)
