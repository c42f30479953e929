"""Inbound OCPP 2.0.1 CALLs: check, translate to the core's request events, answer.

``V201InboundDispatcher(runtime, auth, transactions)`` has the call contract of the 1.6
``firmware.ocpp.handlers.InboundDispatcher``: ``await dispatcher(frame)`` with a
``frames.CallFrame`` gives ``(response payload, continuation or None)`` — the session
sends the CALLRESULT, then awaits the continuation, which releases what the core
produced besides the reply (a triggered message, the Ended of a reset) — or raises
``CallError`` (a ``frames.CallErrorReply``), which the session answers as a CALLERROR.

Order of checks for every CALL (rules §0, [J201] §4.3): an action 2.0.1 does not know
is NotImplemented ("Requested Action is not known"); one it knows that we do not answer
is NotSupported ("recognized but not supported"); a station whose boot was Rejected
answers SecurityError (B03.FR.08, [TC201] TC_B_30_CS); the payload must pass
``<Action>Request.json`` (``schemas.payload_problem``: FormatViolation,
TypeConstraintViolation, OccurrenceConstraintViolation, PropertyConstraintViolation).
Only then does anything reach the core, so a refused CALL changes nothing. Every
response is checked against ``<Action>Response.json`` before it is returned: one of ours
that fails is a bug, logged, and answered InternalError. ``codec.V201Codec.read`` makes
the same checks before the dispatcher sees a frame and marks it a ``CheckedCall``; any
other ``CallFrame`` is checked here.

What each action becomes is in ``inbound_actions`` (the core's request events and the
2.0.1 statuses their replies map to).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Protocol

from firmware.auth.validate import SendLocalListFormatError
from firmware.core import events as ev
from firmware.ocpp.frames import CallErrorReply
from firmware.ocpp.handlers import AuthorizationService
from firmware.ocpp.services import CallService, MessageTrigger, by_action, by_message
from firmware.ocpp.v201 import device_facts, device_model, local_list
from firmware.ocpp.v201.codec import CHECKED_OFF_LOOP, CheckedCall
from firmware.ocpp.v201.errors import CallError, InvalidOutgoingMessage, from_v16
from firmware.ocpp.v201.frames import CallFrame
from firmware.ocpp.v201.inbound_actions import (
    ChargingActivity,
    CoreRequests,
    StationActivity,
    TransactionDirectory,
)
from firmware.ocpp.v201.device_facts import CoreStationView, StationView
from firmware.ocpp.v201.report_filter import ReportFilters, ReportRequests
from firmware.ocpp.v201.smart_charging import SmartChargingRequests
from firmware.ocpp.v201.schemas import (known_actions, payload_problem, require_valid,
                                        version_label, with_integers)
from firmware.ocpp.v201.version import V201, Ocpp2Version

log = logging.getLogger(__name__)

Continuation = Callable[[], Awaitable[None]]

__all__ = ["ChargingActivity", "StationActivity", "TransactionDirectory", "TransactionQueue",
           "V201InboundDispatcher", "SUPPORTED"]


class Clock(Protocol):
    def now(self) -> float: ...


class InboundRuntime(Protocol):
    """What the dispatcher needs of ``firmware.runtime.Runtime``: ``request`` dispatches
    a core request event and waits (at most ``timeout_s``, else ``TimeoutError``) for the
    core's ``Reply``: (its fields, the continuation); ``clock.now()`` is the agent's UTC
    epoch seconds; ``station`` is read, never changed, by ``StationActivity``."""

    @property
    def clock(self) -> Clock: ...

    @property
    def station(self) -> Any: ...

    async def request(self, event: ev.Request, timeout_s: float
                      ) -> tuple[dict[str, Any], Any]: ...


Handler = Callable[[CallFrame, dict[str, Any]],
                   Awaitable[tuple[dict[str, Any], Continuation | None]]]


class V201InboundDispatcher:
    """``transactions``: the adapter's transactionId directory; ``activity``: whether a
    transaction runs (Reset OnIdle, UnlockConnector) and whether the boot was Rejected;
    by default read from ``runtime.station``. ``reply_timeout_s``: how long the core may
    take to reply (an unlock waits for the hardware); later, InternalError."""

    def __init__(self, runtime: InboundRuntime, auth: AuthorizationService,
                 transactions: TransactionDirectory, reply_timeout_s: float = 25.0,
                 *, activity: ChargingActivity | None = None,
                 queue: TransactionQueue | None = None,
                 services: tuple[CallService, ...] = (),
                 facts: StationView | None = None,
                 triggers: tuple[MessageTrigger, ...] = (),
                 version: Ocpp2Version = V201,
                 reports: ReportFilters | None = None) -> None:
        self._package = version.schema_package
        self._auth = auth
        self._triggers = by_message(triggers)
        self._queue = queue
        self._transactions = transactions
        self._runtime = runtime
        self._reply_timeout_s = reply_timeout_s
        self._clock = runtime.clock
        self._core_facts: StationView = facts or CoreStationView(
            runtime.station, runtime.clock.now, reply_timeout_s)
        self._core = CoreRequests(runtime, transactions,
                                  activity or StationActivity(runtime.station),
                                  reply_timeout_s, self._lookup, self._core_facts)
        self._activity = self._core.activity
        smart = SmartChargingRequests(self._core.ask, transactions)
        self._handlers: dict[str, Handler] = {
            "RequestStartTransaction": self._core.request_start,
            "RequestStopTransaction": self._core.request_stop,
            "Reset": self._core.reset,
            "ChangeAvailability": self._core.change_availability,
            "UnlockConnector": self._core.unlock,
            "ReserveNow": self._core.reserve_now,
            "CancelReservation": self._core.cancel_reservation,
            "TriggerMessage": self._trigger,
            "GetVariables": self._core.get_variables,
            "GetBaseReport": self._core.get_base_report,
            "SetVariables": self._core.set_variables,
            "ClearCache": self._clear_cache,
            "GetLocalListVersion": self._get_local_list_version,
            "SendLocalList": self._send_local_list,
            "DataTransfer": self._data_transfer,
            "SetChargingProfile": smart.set_charging_profile,
            "ClearChargingProfile": smart.clear_charging_profile,
            "GetCompositeSchedule": smart.get_composite_schedule,
            "GetChargingProfiles": smart.get_charging_profiles,
            "CostUpdated": self._core.cost_updated,
        }
        if queue is not None:
            self._handlers["GetTransactionStatus"] = self._get_transaction_status
        if reports is not None:  # B08: the adapter filters the NotifyReport
            view = self._core_facts

            def catalog() -> list[dict[str, Any]]:
                return device_model.catalog() + device_facts.report_data(view)

            self._handlers["GetReport"] = ReportRequests(self._core.ask, reports,
                                                         catalog).get_report
        # Actions answered outside the core (certificates, logs, firmware).
        for action, service in by_action(services).items():
            if action in self._handlers:
                raise ValueError(f"{action} is answered by the core already")
            self._handlers[action] = _service_handler(service, action)

    async def _trigger(self, frame: CallFrame, payload: dict[str, Any]
                       ) -> tuple[dict[str, Any], Continuation | None]:
        """TriggerMessage: a message a service sends (SignChargingStationCertificate)
        goes to it; the rest to the core (``CoreRequests.trigger``)."""
        trigger = self._triggers.get(payload["requestedMessage"])
        if trigger is not None:
            return {"status": "Accepted"}, trigger.trigger(payload["requestedMessage"])
        return await self._core.trigger(frame, payload)

    def _lookup(self, tag: str) -> tuple[Any, Any]:
        list_entry, cache_entry, _ = self._auth.lookup(tag, self._clock.now())
        return list_entry, cache_entry

    @property
    def supported(self) -> frozenset[str]:
        """The actions answered: give them to ``V201Codec`` (others: NotSupported)."""
        return frozenset(self._handlers)

    async def __call__(self, frame: CallFrame) -> tuple[dict[str, Any], Continuation | None]:
        action = frame.action
        if action not in known_actions(self._package):
            raise CallError("NotImplemented",
                            f"{action[:60]!r} is not an OCPP {version_label(self._package)} action")
        handler = self._handlers.get(action)
        if handler is None:
            raise CallError("NotSupported", f"{action} is not supported")
        if self._activity.registration_rejected():
            raise CallError("SecurityError", "registration was rejected (B03.FR.08)")
        if isinstance(frame, CheckedCall):
            payload = frame.payload  # the codec checked it already
        elif action in CHECKED_OFF_LOOP:
            # A big list: jsonschema in a worker thread, so the loop keeps turning
            # (contactor openings, the pilot, other CALLs) while it is checked.
            payload = await asyncio.to_thread(_checked, action, frame.payload, self._package)
        else:
            payload = _checked(action, frame.payload, self._package)
        response, continuation = await handler(frame, payload)
        try:
            require_valid(action, "Response", response, self._package)
        except InvalidOutgoingMessage as error:
            log.error("our %s response would be invalid (%s): %s", action, error, response)
            raise CallError("InternalError", f"{action} response could not be built") from None
        return response, continuation

    # ------------------------------------------------------------------ direct
    async def _clear_cache(self, frame: CallFrame, payload: dict[str, Any]
                           ) -> tuple[dict[str, Any], None]:
        return {"status": "Accepted" if self._auth.clear_cache() else "Rejected"}, None

    async def _get_local_list_version(self, frame: CallFrame, payload: dict[str, Any]
                                      ) -> tuple[dict[str, Any], None]:
        # The store says -1 for "list management disabled" (1.6's "not supported");
        # 2.0.1 gives -1 no meaning and reports the list's state by
        # LocalAuthListCtrlr.Enabled, so a disabled list reads as empty (unverified).
        return {"versionNumber": max(0, self._auth.local_list_version())}, None

    async def _send_local_list(self, frame: CallFrame, payload: dict[str, Any]
                               ) -> tuple[dict[str, Any], None]:
        try:
            stored = local_list.as_stored_payload(payload)
        except local_list.Unstorable as error:
            log.warning("SendLocalList refused: %s", error.why)
            return {"status": "Failed", "statusInfo": {
                "reasonCode": error.reason_code, "additionalInfo": error.why[:512]}}, None
        try:
            status = await self._auth.send_local_list(stored)
        except SendLocalListFormatError as e:  # the store's own checks (1.6 spelling)
            raise from_v16(CallErrorReply(e.code, e.description)) from None
        if status == "NotSupported":  # list management disabled: 2.0.1 has no such status
            return {"status": "Failed", "statusInfo": {
                "reasonCode": "Disabled",
                "additionalInfo": "LocalAuthListCtrlr.Enabled is false"}}, None
        return {"status": status}, None

    async def _get_transaction_status(self, frame: CallFrame, payload: dict[str, Any]
                                      ) -> tuple[dict[str, Any], None]:
        """E14: whether transaction messages are still queued (all, or the asked
        transaction's), and whether that transaction is still running."""
        assert self._queue is not None
        transaction_id = payload.get("transactionId")
        answer: dict[str, Any] = {
            "messagesInQueue": self._queue.queued_for(transaction_id) > 0}
        if transaction_id is not None:
            answer["ongoingIndicator"] = self._transactions.local_id_of(transaction_id) \
                is not None
        return answer, None

    async def _data_transfer(self, frame: CallFrame, payload: dict[str, Any]
                             ) -> tuple[dict[str, Any], None]:
        # the payment tariff (firmware.ocpp.payment_messages); no other vendor extension
        from firmware.ocpp.payment_messages import answer
        payment = self._runtime.station.payment

        async def request(event: ev.Event) -> dict[str, Any]:
            assert isinstance(event, ev.Request)
            fields, _ = await self._runtime.request(event, self._reply_timeout_s)
            return fields

        return await answer(payload, payment.settings.vendor_id if payment else None,
                            payment.tariff.as_dict() if payment else None, request,
                            ("DataTransfer", frame.message_id), as_text=False), None


def _service_handler(service: CallService, action: str) -> Handler:
    async def handle(frame: CallFrame, payload: dict[str, Any]
                     ) -> tuple[dict[str, Any], Continuation | None]:
        try:
            return await service.answer(action, payload)
        except CallErrorReply as refusal:  # named in 1.6 spelling (services.py)
            raise from_v16(refusal) from None
    return handle


class TransactionQueue(Protocol):
    """What GetTransactionStatus reads of the durable outbox (``Outbox.queued_for``)."""

    def queued_for(self, transaction_id: str | None = None) -> int: ...


def _checked(action: str, payload: dict[str, Any], package: str) -> dict[str, Any]:
    """The payload valid against ``<Action>Request.json`` (of the version's ``package``)
    with integral floats of integer fields as ints; raises the CallError that refuses it."""
    problem = payload_problem(action, "Request", payload, package)
    if problem is not None:
        raise problem
    return with_integers(action, "Request", payload, package)


SUPPORTED: frozenset[str] = frozenset({
    "RequestStartTransaction", "RequestStopTransaction", "Reset", "ChangeAvailability",
    "UnlockConnector", "TriggerMessage", "GetVariables", "SetVariables", "ClearCache",
    "ReserveNow", "CancelReservation", "GetBaseReport", "GetReport", "GetTransactionStatus",
    "GetLocalListVersion", "SendLocalList", "DataTransfer", "SetChargingProfile",
    "ClearChargingProfile", "GetCompositeSchedule", "GetChargingProfiles", "CostUpdated"})
"""What ``V201InboundDispatcher`` answers (``V201Codec(SUPPORTED)``); GetTransactionStatus
only when it was given the outbox (``queue``), GetReport only with the adapter
(``reports``)."""
