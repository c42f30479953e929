"""Role interfaces of the hardware abstraction layer.

Each interface is a ``typing.Protocol`` named by its role (``EnergyMeter``); backends
are named by backend and role (``ModbusEnergyMeter``, ``SimEnergyMeter``). The
obligations in the docstrings are part of the contract: the runtime and the safety
rules rely on them, and every backend's tests check them.

Lifecycle: the runtime ``await device.open()`` once at start (failure raises
``DeviceOpenError`` naming the pin/port and the fix; the agent then exits non-zero),
and ``await device.close()`` on shutdown. Nothing here is ever chosen as a fallback:
a board config names the backend of each device explicitly.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import AsyncIterator, Protocol, runtime_checkable


class PilotState(enum.Enum):
    """IEC 61851-1 control pilot states as seen by the EVSE."""

    A = "A"  # no EV connected (+12 V)
    B = "B"  # EV connected, not requesting energy (+9 V)
    C = "C"  # EV requests energy (+6 V)
    D = "D"  # EV requests energy, ventilation required (+3 V)
    E = "E"  # error: CP shorted / no power (0 V)
    F = "F"  # EVSE not available / fault (-12 V)

    @property
    def ev_connected(self) -> bool:
        return self in (PilotState.B, PilotState.C, PilotState.D)

    @property
    def ev_requests_energy(self) -> bool:
        return self in (PilotState.C, PilotState.D)

    @property
    def is_error(self) -> bool:
        return self in (PilotState.E, PilotState.F)


@dataclass(frozen=True)
class MeterReading:
    """One consistent snapshot of an energy meter (all values from one read cycle).

    Per-phase tuples have one entry per phase the meter measures (1 or 3); an entry is
    ``None`` when the meter does not provide it. ``energy_wh`` is the active import
    register (never extrapolated: it is what the meter said).
    """

    energy_wh: float
    power_w: float | None = None
    current_a: tuple[float | None, ...] = ()
    voltage_v: tuple[float | None, ...] = ()
    frequency_hz: float | None = None
    power_factor: float | None = None


@dataclass(frozen=True)
class CardRead:
    """A card presented on a reader, as the reader delivered it.

    ``uid`` holds the UID bytes in the order the reader's protocol delivers them
    (anticollision order for ISO 14443 readers); ``raw`` is the reader's text or hex
    form for diagnostics. Canonicalisation to an OCPP idTag happens above the HAL
    (``firmware.core.idtag``) with the reader's configured options.
    """

    uid: bytes
    raw: str
    reader: str
    technology: str = "ISO14443A"


@dataclass
class DeviceInfo:
    """What the console's ``hw`` command shows for a device.

    ``last_error`` is the backend's own remark about its latest problem (a rejected
    frame, an ignored line), "" when none. The errors a device's owner catches, with
    their times and the recovery, are kept by that owner (``firmware.device_health``),
    not here: ``hw`` shows those as ``last_error`` and this as ``driver_error``.
    """

    role: str          # "contactor", "meter", "rfid", "pilot", "indicator", "lock"
    name: str          # e.g. "connector 1 meter"
    backend: str       # e.g. "sim", "modbus-sdm630", "pn532", "gpiod"
    port: str = ""     # serial path, gpiochip label + line, or "" for sim
    last_error: str = ""
    details: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Device(Protocol):
    async def open(self) -> None:
        """Acquire the port/lines. Raises ``DeviceOpenError`` naming what and the fix."""

    async def close(self) -> None:
        """Release everything; safe to call twice and after a failed open."""

    def info(self) -> DeviceInfo:
        """Current backend, port and last error, for diagnostics (never raises)."""


@runtime_checkable
class Contactor(Device, Protocol):
    """The main contactor of one connector, with a feedback (mirror) contact.

    Obligations:
    - ``close_contactor()`` energises the coil and returns only once the feedback confirms
      "closed" within ``feedback_timeout_s``; otherwise it de-energises the coil and
      raises ``ContactorDidNotClose``.
    - ``open_contactor()`` de-energises the coil and returns once the feedback confirms "open";
      if the feedback still says closed after ``feedback_timeout_s`` it raises
      ``ContactorWelded`` (the coil stays off).
    - ``check()`` compares the feedback with the last command and raises
      ``ContactorWelded`` / ``ContactorDidNotClose`` on a mismatch; the runtime calls
      it periodically so a weld while idle is noticed.
    - ``is_closed`` is the last feedback reading.
    """

    @property
    def is_closed(self) -> bool: ...

    async def close_contactor(self) -> None: ...

    async def open_contactor(self) -> None: ...

    async def check(self) -> None: ...


@runtime_checkable
class EnergyMeter(Device, Protocol):
    """The energy meter of one connector.

    Obligations: ``read()`` returns one consistent ``MeterReading`` from a single read
    cycle, or raises ``MeterUnavailable``. It never invents, caches or extrapolates a
    value: a failed read is an exception, not an old number.
    """

    async def read(self) -> MeterReading: ...


@runtime_checkable
class RfidReader(Device, Protocol):
    """A card reader (RFID, Wiegand, line-printing).

    Obligations: ``cards()`` yields one ``CardRead`` per presentation: a card held on
    the reader is reported once until it has been away for the reader's debounce time;
    noise, truncated frames and bad checksums never yield anything.
    """

    def cards(self) -> AsyncIterator[CardRead]: ...


@runtime_checkable
class ReadinessProbe(Protocol):
    """Optional, for a device whose port can be open while the device itself is silent
    (a PN532 behind a USB adapter that came back without power on the module).

    Obligation: ``probe()``, called after ``open()`` and never while the device's own
    stream (``cards()``) runs, returns once the device answers and raises
    ``DeviceUnavailable`` when it does not. Its owner records the device as recovered
    only when the probe passes.
    """

    async def probe(self) -> None: ...


@runtime_checkable
class ControlPilot(Device, Protocol):
    """The EVSE controller of one connector: control pilot state and the energy offer.

    Obligations:
    - ``states()`` yields the current pilot state first, then every change.
    - ``offer(max_current_a)`` with a value > 0 starts/updates the PWM offer
      (state B2/C2); ``offer(0)`` withdraws it (B1/no PWM). It does not switch the
      contactor: that is the Contactor's job (or the controller's own relay, in which
      case the board's contactor driver is the controller's relay view).
    """

    def states(self) -> AsyncIterator[PilotState]: ...

    async def offer(self, max_current_a: float) -> None: ...


@dataclass(frozen=True)
class ControllerFault:
    """A fault an EVSE controller detects by itself (ground fault, stuck relay, over-
    temperature, ...), as the controller's driver maps it: ``error_code`` is an OCPP
    ChargePointErrorCode, ``vendor_error_code`` the controller's own code."""

    error_code: str
    vendor_error_code: str
    info: str = ""


@runtime_checkable
class ControllerFaults(Protocol):
    """Optional, for a ControlPilot whose controller reports its own faults.

    Obligations: ``faults()`` yields the current fault (None: no fault) first, then every
    change, *when it happens*; it raises ``DeviceUnavailable`` when the controller stops
    answering (the pilot's ``states()`` reports that loss). While a fault is active the
    pilot's ``states()`` keeps reporting the EV's side (B/C/D/A), never a fault as an
    unplug.
    """

    def faults(self) -> AsyncIterator[ControllerFault | None]: ...


@runtime_checkable
class ConnectorLock(Device, Protocol):
    """Optional cable lock of a socket outlet.

    Obligations: ``lock()`` returns True only when the lock's feedback confirms "locked"
    within the lock's timeout; otherwise the actuator is de-energised and it returns
    False (the core then faults the connector with ConnectorLockFailure and offers no
    energy). ``unlock()`` likewise returns True when the lock reports unlocked, False when
    it failed. A device that went away raises ``DeviceUnavailable`` (treated as a failure).
    """

    async def lock(self) -> bool: ...

    async def unlock(self) -> bool: ...


@runtime_checkable
class Indicator(Device, Protocol):
    """Optional status light/display.

    ``show(status)`` takes an OCPP connector status name (``Available`` ... ``Faulted``) or
    ``"Authorizing"`` (a tap on the connector waits for the CSMS; OCPP reports Preparing).
    An unknown name is shown as such (never refused); a device that stopped working
    raises ``DeviceUnavailable``, which the runtime logs: an indicator never stops charging.
    """

    async def show(self, status: str) -> None: ...


@dataclass(frozen=True)
class PaymentResult:
    """What a payment terminal reported for one completed payment operation.

    ``amount_cents`` is the amount the operation concerned, in the smallest unit of
    ``currency_code`` (ISO 4217 numeric, 978 = EUR): the pre-authorised amount, the
    captured amount, or the amount released. ``receipt_number`` identifies the
    pre-authorisation at the terminal (needed to capture or reverse it; keep it in the
    store before charging); ``trace_number`` is the terminal's running number.
    ``card_type`` is the terminal's card type code (ZVT BMP 8A; None when not sent) and
    ``card_name`` its text ("MasterCard", "girocard"). ``pan_masked`` is the card number as
    the terminal masks it ("559884******8074", never the full PAN); ``card_token`` is the
    stable identifier of the card the terminal provides for matching a stop to a start
    (the masked PAN when the terminal sends nothing better). ``result_code`` is 0 on
    success (ZVT BMP 27).
    """

    amount_cents: int
    receipt_number: int | None = None
    trace_number: int | None = None
    card_type: int | None = None
    card_name: str = ""
    pan_masked: str = ""
    card_token: str = ""
    result_code: int = 0
    currency_code: int | None = None
    terminal_id: str = ""


@dataclass(frozen=True)
class PaymentTerminalStatus:
    """The terminal's answer to a status enquiry: ``status_code`` 0 means ready (ZVT
    terminal status code), ``software_version`` is the terminal's own text."""

    status_code: int
    software_version: str = ""

    @property
    def ready(self) -> bool:
        return self.status_code == 0


@dataclass(frozen=True)
class EndOfDayResult:
    """Result of an end-of-day (settlement) run: the total booked since the previous
    one in cents (None when the terminal did not report it) and the result code."""

    total_cents: int | None
    result_code: int = 0


@runtime_checkable
class PaymentTerminal(Device, Protocol):
    """A bank-card payment terminal that may serve several connectors (AFIR ad-hoc
    payment). One operation runs at a time; a second call waits for the first.

    Obligations:
    - ``pre_authorise(amount_cents)`` reserves ``amount_cents`` (> 0) on the card the
      driver presents and returns the ``PaymentResult`` with the ``receipt_number`` that
      identifies the reservation.
    - ``capture(receipt_number, amount_cents, pre_authorised_cents)`` books
      ``amount_cents`` (0 < amount <= pre_authorised_cents) of that reservation and
      releases the rest (ZVT: book total, or partial reversal of the unused part).
      A zero amount is not a capture: call ``reverse``.
    - ``reverse(receipt_number)`` releases the whole reservation (nothing is booked).
    - ``abort()`` ends the operation in progress at the terminal (the waiting call then
      raises ``PaymentDeclined``); without one it only returns.
    - ``status()`` asks the terminal whether it is ready (also after a restart, before
      recovering an interrupted payment).
    - ``end_of_day()`` runs the settlement; never call it during a payment.
    - Every call is bounded in time by the backend's timeouts (the customer's time at
      the card reader included): a terminal that stops answering raises
      ``PaymentTerminalUnavailable`` (outcome unknown), never hangs. A refusal by the
      terminal raises ``PaymentDeclined`` with its result code. Amounts outside the
      rules above raise ``ValueError`` before anything is sent.
    """

    async def pre_authorise(self, amount_cents: int) -> PaymentResult: ...

    async def capture(self, receipt_number: int, amount_cents: int,
                      pre_authorised_cents: int) -> PaymentResult: ...

    async def reverse(self, receipt_number: int) -> PaymentResult: ...

    async def abort(self) -> None: ...

    async def status(self) -> PaymentTerminalStatus: ...

    async def end_of_day(self) -> EndOfDayResult: ...
