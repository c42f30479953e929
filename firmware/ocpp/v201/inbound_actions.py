"""The 2.0.1 CALLs the core answers: each payload (already schema-valid, integers
converted) becomes the core's request event, and the core's ``Reply`` fields become
the 2.0.1 response (``inbound.V201InboundDispatcher`` checks it against the schema).

The core speaks in connectors: an EVSE here has one connector, numbered 1, and its
``evse.id`` is the core's connector id (as ``outbound`` reports them); EVSE id 0 is the
station (rules §8: connectorId 0 = CP ↔ evseId 0 = station). Refusals that need no
core decision are answered here, without asking the core, so they change nothing.

- RequestStartTransaction (rules §4, F01/F02) → ``RemoteStartRequested`` with
  idToken.idToken as the tag; ``remoteStartId`` goes to the transaction directory
  *before* the core is asked (a plugged EV starts its transaction in the same step, and
  its TransactionEvent Started must echo the id). Rejected without asking the core: an
  evseId ≤ 0, an idToken longer than the core's 20-character tag or empty
  (NoAuthorization: the core has no authorization-free remote start), a
  chargingProfile that is not a TxProfile without transactionId
  (``smart_charging.profile_from_json``); an accepted one applies to the transaction
  the request starts.
- RequestStopTransaction (TC_F_08/09) → ``RemoteStopRequested`` with the core's id
  from the directory; an unknown transactionId is Rejected.
- Reset (B11/B12, TC_B_20-22): Immediate → ``ResetRequested("Hard")`` (the core stops
  every transaction, reason ImmediateReset, then restarts). OnIdle →
  ``ResetRequested("Soft", when_idle=True)``: Accepted when nothing runs, else the core
  answers Scheduled, starts no new session and restarts after the last transaction
  ends (the next BootNotification says ScheduledReset, TC_B_21). An evseId: the core
  resets only the whole station: Rejected.
- ChangeAvailability (G03-G05): no ``evse`` or evse.id 0 → connector 0 (the whole
  station), else evse.id; a connectorId other than 1 is Rejected. The core answers
  Accepted / Rejected / Scheduled (a transaction runs) and persists it.
- UnlockConnector (F05, TC_F_05-07/10): a connectorId other than 1, or an unknown EVSE
  → UnknownConnector; a transaction on it → OngoingAuthorizedTransaction without
  touching the lock (F05: do not unlock; the 1.6 core would stop the transaction); else
  ``CableUnlockRequested``, whose reply waits for the hardware: Unlocked / UnlockFailed;
  the core's NotSupported (no lock on that connector) → UnknownConnector.
- TriggerMessage (F06, TC_F_15-27): BootNotification, Heartbeat, MeterValues,
  StatusNotification, LogStatusNotification (N01.FR.12: Idle unless an upload runs),
  FirmwareStatusNotification → ``MessageTriggerRequested`` under the same name (the core
  answers Accepted / Rejected, e.g. Boot after an Accepted boot, TC_F_26); evse.id → the
  connector (0 → every one); an evse.connectorId other than 1 is Rejected. Every other
  MessageTriggerEnumType value — TransactionEvent included, which the core cannot
  trigger yet — is NotImplemented (TC_F_27).
- GetVariables / SetVariables (B05/B06, TC_B_06-11): through ``device_model``; the
  values come from ``ConfigurationReadRequested`` (one request for all items), changes
  from one ``ConfigurationChangeRequested`` per item, so each item gets its own status
  and a Rejected one changes nothing. More than ``ITEMS_PER_MESSAGE`` items (our
  DeviceDataCtrlr.ItemsPerMessage) → OccurrenceConstraintViolation (unverified
  reading of B05/B06).
- ReserveNow / CancelReservation (block H; rules §7): → ``ReservationRequested`` /
  ``ReservationCancelRequested``; no evseId is a station-wide reservation (the core's
  connector 0, ReservationCtrlr.NonEvseSpecific = ReserveConnectorZeroSupported);
  groupIdToken.idToken is the group the core matches like 1.6's parentIdTag. Refused
  without asking the core: an idToken or groupIdToken longer than the core's tag, an
  evseId ≤ 0, a connectorType (every connector here is the board's one type: no
  filter to apply, and accepting it would promise one), an unparseable expiryDateTime.
- CostUpdated (block I) → ``CsmsCostReported`` (``firmware.core.csms_cost``); answered {}.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Protocol, Sequence

from firmware.core import events as ev
from firmware.core.csms_cost import cost_from_json
from firmware.core.idtag import ID_TAG_MAX_CHARS
from firmware.ocpp.mapping import parse_time
from firmware.ocpp.v201 import device_facts, device_model
from firmware.ocpp.v201.errors import CallError
from firmware.ocpp.v201.frames import CallFrame
from firmware.ocpp.v201.smart_charging import ProfileRefused, profile_from_json

log = logging.getLogger(__name__)

Continuation = Callable[[], Awaitable[None]]
Answer = tuple[dict[str, Any], Continuation | None]

ITEMS_PER_MESSAGE = 100  # Get/SetVariables items per CALL (DeviceDataCtrlr.ItemsPerMessage)
CONNECTOR_OF_EVSE = 1    # each EVSE has one connector (outbound reports connectorId 1)

# MessageTriggerEnumType values the core can trigger, under the core's names.
_TRIGGERS = {"BootNotification": "BootNotification", "Heartbeat": "Heartbeat",
             "MeterValues": "MeterValues", "StatusNotification": "StatusNotification",
             # N01.FR.12 / TC_F_15-18: the running upload's status, else Idle.
             "LogStatusNotification": "LogStatusNotification",
             "FirmwareStatusNotification": "FirmwareStatusNotification"}


class TransactionDirectory(Protocol):
    """The 2.0.1 adapter's transaction ids (``V201Adapter``)."""

    def local_id_of(self, transaction_id: str) -> int | None:
        """2.0.1 transactionId → the core's transaction id (None: unknown)."""

    def remember_remote_start(self, evse_id: int | None, remote_start_id: int) -> None:
        """Echo ``remote_start_id`` in the next TransactionEvent Started on ``evse_id``
        (None: whichever EVSE the core picks)."""


class ChargingActivity(Protocol):
    """What the 2.0.1 rules need to know before asking the core."""

    def transaction_on(self, connector_id: int) -> bool:
        """A transaction runs on the connector."""

    def any_transaction(self) -> bool:
        """A transaction runs anywhere."""

    def has_connector(self, connector_id: int) -> bool: ...

    def registration_rejected(self) -> bool:
        """The CSMS answered the last BootNotification Rejected."""


class StationActivity:
    """``ChargingActivity`` read from a ``firmware.core.station.Station`` (its public
    ``connector(id)`` and ``boot_state``); never changes it."""

    def __init__(self, station: Any) -> None:
        self._station = station

    def transaction_on(self, connector_id: int) -> bool:
        c = self._station.connector(connector_id)
        return c is not None and c.tx is not None

    def any_transaction(self) -> bool:
        return any(c.tx is not None for c in self._station.connectors.values())

    def has_connector(self, connector_id: int) -> bool:
        return self._station.connector(connector_id) is not None

    def registration_rejected(self) -> bool:
        return bool(self._station.boot_state == "Rejected")


class _Runtime(Protocol):
    async def request(self, event: ev.Request, timeout_s: float
                      ) -> tuple[dict[str, Any], Any]: ...


def _ref(frame: CallFrame, *extra: int) -> tuple[Any, ...]:
    return (frame.action, frame.message_id, *extra)


def _status(status: str, reason_code: str | None = None,
            why: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"status": status}
    if reason_code is not None:
        info: dict[str, Any] = {"reasonCode": reason_code[:20]}
        if why:
            info["additionalInfo"] = why[:512]
        out["statusInfo"] = info
    return out


def _chain(continuations: list[Any]) -> Continuation | None:
    """One continuation running each core request's continuation in order."""
    pending = [c for c in continuations if c is not None]
    if not pending:
        return None

    async def run_all() -> None:
        for continuation in pending:
            await continuation()

    return run_all


class CoreRequests:
    """``lookup(tag)``: the tag's (local list entry, cache entry) for the core's
    authorization rules, as the card reader path gives them."""

    def __init__(self, runtime: _Runtime, transactions: TransactionDirectory,
                 activity: ChargingActivity, reply_timeout_s: float,
                 lookup: Callable[[str], tuple[Any, Any]],
                 facts: device_facts.StationView) -> None:
        self._runtime = runtime
        self._facts = facts
        self._lookup = lookup
        self._transactions = transactions
        self.activity = activity
        self._timeout_s = reply_timeout_s

    async def ask(self, event: ev.Request) -> tuple[dict[str, Any], Continuation | None]:
        """Hand ``event`` to the core and wait for its reply (InternalError when late)."""
        return await self._ask(event)

    async def _ask(self, event: ev.Request) -> tuple[dict[str, Any], Continuation | None]:
        try:
            fields, continuation = await self._runtime.request(event, self._timeout_s)
        except TimeoutError:  # slow hardware (an unlock), not an exception in our code
            log.error("no reply to %s within %.0f s", type(event).__name__, self._timeout_s)
            raise CallError("InternalError", "not answered in time") from None
        return fields, continuation

    # ------------------------------------------------------------------ F
    async def request_start(self, frame: CallFrame, payload: dict[str, Any]) -> Answer:
        evse_id: int | None = payload.get("evseId")
        tag: str = payload["idToken"]["idToken"]
        if evse_id is not None and evse_id <= 0:
            return _status("Rejected", "InvalidValue", "evseId must be > 0"), None
        if not tag:
            # Longer than 1.6's CiString20 is fine here (the schema bounds it: 36 in
            # 2.0.1, 255 in 2.1): a stand-alone terminal's pspRef (2.1 C24) is often a
            # UUID, and the core and the authorization store take any length.
            return _status("Rejected", "InvalidIdToken", "idToken must not be empty"), None
        profile = None
        if "chargingProfile" in payload:  # a TxProfile for the transaction it starts
            try:
                profile = profile_from_json(evse_id or 0, payload["chargingProfile"],
                                            self._transactions, remote_start=True)
            except ProfileRefused as refused:
                return _status("Rejected", refused.reason_code, refused.why), None
        list_entry, cache_entry = self._lookup(tag)
        self._transactions.remember_remote_start(evse_id, payload["remoteStartId"])
        fields, continuation = await self._ask(ev.RemoteStartRequested(
            _ref(frame), tag, evse_id, list_entry, cache_entry, profile,
            token_type=payload["idToken"]["type"]))
        return _status(fields.get("status", "Rejected")), continuation

    async def request_stop(self, frame: CallFrame, payload: dict[str, Any]) -> Answer:
        local = self._transactions.local_id_of(payload["transactionId"])
        if local is None:
            return _status("Rejected", "UnknownTransaction"), None
        fields, continuation = await self._ask(ev.RemoteStopRequested(_ref(frame), local))
        return _status(fields.get("status", "Rejected")), continuation

    # ------------------------------------------------------------------ H
    async def reserve_now(self, frame: CallFrame, payload: dict[str, Any]) -> Answer:
        tag: str = payload["idToken"]["idToken"]
        group = payload.get("groupIdToken", {}).get("idToken")
        evse_id: int | None = payload.get("evseId")
        if not tag or len(tag) > ID_TAG_MAX_CHARS or (
                group is not None and len(group) > ID_TAG_MAX_CHARS):
            return _status("Rejected", "InvalidIdToken",
                           f"idTokens must be 1-{ID_TAG_MAX_CHARS} characters here"), None
        if evse_id is not None and evse_id <= 0:
            return _status("Rejected", "UnknownEvse", "evseId must be > 0"), None
        if "connectorType" in payload:
            return _status("Rejected", "UnknownConnectorType"), None
        expiry_s = parse_time(payload["expiryDateTime"])
        if expiry_s is None:
            return _status("Rejected", "InvalidValue", "expiryDateTime unreadable"), None
        fields, continuation = await self._ask(ev.ReservationRequested(
            _ref(frame), payload["id"], evse_id or 0, tag, expiry_s, group))
        return _status(fields.get("status", "Rejected")), continuation

    async def cancel_reservation(self, frame: CallFrame, payload: dict[str, Any]) -> Answer:
        fields, continuation = await self._ask(ev.ReservationCancelRequested(
            _ref(frame), payload["reservationId"]))
        return _status(fields.get("status", "Rejected")), continuation

    async def unlock(self, frame: CallFrame, payload: dict[str, Any]) -> Answer:
        evse_id, connector_id = payload["evseId"], payload["connectorId"]
        if connector_id != CONNECTOR_OF_EVSE or not self.activity.has_connector(evse_id):
            return _status("UnknownConnector"), None
        if self.activity.transaction_on(evse_id):
            return _status("OngoingAuthorizedTransaction"), None
        fields, continuation = await self._ask(ev.CableUnlockRequested(_ref(frame), evse_id))
        status = fields.get("status")
        if status not in ("Unlocked", "UnlockFailed"):
            return _status("UnknownConnector", "NoLock", "the connector has no lock"), continuation
        return _status(status), continuation

    async def trigger(self, frame: CallFrame, payload: dict[str, Any]) -> Answer:
        message = _TRIGGERS.get(payload["requestedMessage"])
        if message is None:
            return _status("NotImplemented"), None
        evse = payload.get("evse")
        connector_id: int | None = None
        if evse is not None:
            if evse.get("connectorId", CONNECTOR_OF_EVSE) != CONNECTOR_OF_EVSE or evse["id"] < 0:
                return _status("Rejected", "UnknownEvse"), None
            connector_id = evse["id"] or None
        fields, continuation = await self._ask(ev.MessageTriggerRequested(
            _ref(frame), message, connector_id))
        status = fields.get("status", "Rejected")
        return _status(status if status in ("Accepted", "Rejected") else "NotImplemented"), \
            continuation

    # ------------------------------------------------------------------ I
    async def cost_updated(self, frame: CallFrame, payload: dict[str, Any]) -> Answer:
        """I: CostUpdated, the running cost of a transaction (ocpp201-rules.md §7 "I").
        Its response has no status: always {}; an unknown transactionId or a cost the
        core ignores (negative, absurd, CostEnabled false) changes nothing and is logged."""
        transaction_id = payload["transactionId"]
        local = self._transactions.local_id_of(transaction_id)
        if local is None:
            log.warning("CostUpdated for unknown transaction %r ignored", transaction_id)
            return {}, None
        fields, continuation = await self._ask(ev.CsmsCostReported(
            _ref(frame), local, cost_from_json(payload["totalCost"])))
        if fields.get("status") != "Accepted":
            log.warning("CostUpdated for transaction %r ignored: %s", transaction_id,
                        fields.get("why", "-"))
        return {}, continuation

    # ------------------------------------------------------------------ B, G
    async def reset(self, frame: CallFrame, payload: dict[str, Any]) -> Answer:
        if "evseId" in payload:
            return _status("Rejected", "NotSupported",
                           "only the whole station can be reset"), None
        on_idle = payload["type"] == "OnIdle"
        fields, continuation = await self._ask(ev.ResetRequested(
            _ref(frame), "Soft" if on_idle else "Hard", when_idle=on_idle))
        return _status(fields.get("status", "Rejected")), continuation

    async def change_availability(self, frame: CallFrame, payload: dict[str, Any]) -> Answer:
        evse = payload.get("evse")
        connector_id = 0
        if evse is not None:
            if evse.get("connectorId", CONNECTOR_OF_EVSE) != CONNECTOR_OF_EVSE:
                return _status("Rejected", "UnknownConnector"), None
            if evse["id"] < 0:
                return _status("Rejected", "UnknownEvse"), None
            connector_id = evse["id"]
        fields, continuation = await self._ask(ev.AvailabilityChangeRequested(
            _ref(frame), connector_id, payload["operationalStatus"]))
        return _status(fields.get("status", "Rejected")), continuation

    async def get_base_report(self, frame: CallFrame, payload: dict[str, Any]) -> Answer:
        """B07: Accepted, then the NotifyReport (the core's ``SendConfigurationReport``,
        held until this answer is out)."""
        if payload["reportBase"] == "SummaryInventory":
            return {"status": "NotSupported"}, None
        fields, continuation = await self._ask(ev.ConfigurationReportRequested(
            _ref(frame), payload["requestId"]))
        return {"status": fields.get("status", "Rejected")}, continuation

    async def get_variables(self, frame: CallFrame, payload: dict[str, Any]) -> Answer:
        items = payload["getVariableData"]
        limit_items(items, "getVariableData")
        keys: list[str] = []
        for item in items:
            found, _ = device_model.find(item["component"], item["variable"])
            if found is not None and found.key not in keys:
                keys.append(found.key)
        facts = {index: device_facts.find(item["component"], item["variable"], self._facts)
                 for index, item in enumerate(items)
                 if device_model.find(item["component"], item["variable"])[0] is None}
        values: dict[str, str] = {}
        continuation = None
        if keys:
            fields, continuation = await self._ask(ev.ConfigurationReadRequested(
                _ref(frame), tuple(keys)))
            for entry in fields.get("configuration_key", []):
                if "value" in entry:
                    values[str(entry["key"])] = str(entry["value"])
        results = [device_model.get_result(item, values.get) if index not in facts
                   else _fact_result(item, facts[index], self._facts)
                   for index, item in enumerate(items)]
        return {"getVariableResult": results}, continuation

    async def set_variables(self, frame: CallFrame, payload: dict[str, Any]) -> Answer:
        items = payload["setVariableData"]
        limit_items(items, "setVariableData")
        results: list[dict[str, Any]] = []
        continuations: list[Any] = []
        for index, item in enumerate(items):
            key, refusal = device_model.set_target(item)
            if key is None and device_facts.find(item["component"], item["variable"],
                                                 self._facts)[0] is not None:
                results.append(device_model.read_only(item))  # a fact is what the station is
                continue
            if refusal is not None or key is None:
                results.append(refusal or {})
                continue
            fields, continuation = await self._ask(ev.ConfigurationChangeRequested(
                _ref(frame, index), key, item["attributeValue"]))
            continuations.append(continuation)
            results.append(device_model.set_result(item, str(fields.get("status", "Rejected"))))
        return {"setVariableResult": results}, _chain(continuations)


def _fact_result(item: dict[str, Any], found: tuple[Any, int, str],
                 view: device_facts.StationView) -> dict[str, Any]:
    fact, evse_id, status = found
    out = device_model.echo(item)
    if item.get("attributeType", "Actual") != "Actual":
        return {**out, "attributeStatus": "NotSupportedAttributeType"}
    if fact is None:
        # A component either table knows makes an unknown variable UnknownVariable.
        _, model_status = device_model.find(item["component"], item["variable"])
        if "UnknownVariable" in (status, model_status):
            status = "UnknownVariable"
        return {**out, "attributeStatus": status}
    return {**out, "attributeStatus": "Accepted",
            "attributeValue": fact.value(view, evse_id)[:2500]}


def limit_items(items: Sequence[Any], field: str) -> None:
    """CALLERROR OccurrenceConstraintViolation beyond DeviceDataCtrlr.ItemsPerMessage."""
    if len(items) > ITEMS_PER_MESSAGE:
        raise CallError("OccurrenceConstraintViolation",
                        f"{field}: more than {ITEMS_PER_MESSAGE} items "
                        "(DeviceDataCtrlr.ItemsPerMessage)")
