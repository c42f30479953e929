"""Inbound OCPP 1.6 CALLs: validate, translate to a core event, answer.

Order of checks for every CALL: the action must be an OCPP 1.6 action
(NotImplemented otherwise), one we support (NotSupported otherwise), and its payload
must validate against the official schema (the 1.6 error code of ``frames``). Only
then does it reach the station; its ``Reply`` becomes the CALLRESULT, validated
before it is sent. Anything the station produces besides the reply (a triggered
message, StopTransactions of a reset) is sent after the reply.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Protocol

from firmware.auth.validate import SendLocalListFormatError
from firmware.core import events as ev

from . import charging_profiles, frames, mapping
from .link_security import is_hex_key
from .services import CallService, MessageTrigger, by_action, by_message

log = logging.getLogger(__name__)

Handler = Callable[[frames.CallFrame], Awaitable[tuple[dict[str, Any], Any]]]

# Recognised 1.6 actions this charge point does not implement (profiles not offered).
UNSUPPORTED = {"GetDiagnostics", "UpdateFirmware"}

# ExtendedTriggerMessage's requestedMessage → the core's trigger name ([SEC3] §6.17);
# SignChargePointCertificate is a service's (``MessageTrigger``): NotImplemented without one.
EXTENDED_TRIGGERS = {"BootNotification": "BootNotification", "Heartbeat": "Heartbeat",
                     "MeterValues": "MeterValues", "StatusNotification": "StatusNotification",
                     "LogStatusNotification": "LogStatusNotification",
                     "FirmwareStatusNotification": "SignedFirmwareStatusNotification"}


class AuthorizationService(Protocol):
    """What the handlers need for the LocalAuthListManagement profile and ClearCache
    (``firmware.auth.ports.StoreAuthorization``)."""

    # True when send_local_list validates the raw payload itself (faster than jsonschema
    # on 10,000 entries, and without holding the loop).
    skip_schema_for_send_local_list: bool

    async def send_local_list(self, payload: dict[str, Any]) -> str:
        """Apply a SendLocalList; its status. Raises SendLocalListFormatError."""

    def local_list_version(self) -> int:
        """GetLocalListVersion: 0 empty, -1 list management disabled."""

    def clear_cache(self) -> bool:
        """False when there is no cache (ClearCache → Rejected)."""

    def lookup(self, id_tag: str, now: float) -> tuple[Any, Any, bool]:
        """(list entry, cache entry, refused moments ago)."""


class InboundDispatcher:
    def __init__(self, runtime: Any, auth: AuthorizationService, reply_timeout_s: float = 25.0,
                 *, services: tuple[CallService, ...] = (),
                 triggers: tuple[MessageTrigger, ...] = ()):
        self._runtime = runtime
        self._triggers = by_message(triggers)
        # Actions answered outside the core (certificates, logs, firmware): ``services``.
        self._services = by_action(services)
        self._auth = auth
        self._reply_timeout_s = reply_timeout_s
        self._handlers: dict[str, Callable[[frames.CallFrame], ev.Request | None]] = {
            "RemoteStartTransaction": self._remote_start,
            "RemoteStopTransaction": lambda f: ev.RemoteStopRequested(
                _ref(f), f.payload["transactionId"]),
            "Reset": lambda f: ev.ResetRequested(_ref(f), f.payload["type"]),
            "ChangeAvailability": lambda f: ev.AvailabilityChangeRequested(
                _ref(f), f.payload["connectorId"], f.payload["type"]),
            "UnlockConnector": lambda f: ev.CableUnlockRequested(
                _ref(f), f.payload["connectorId"]),
            "GetConfiguration": lambda f: ev.ConfigurationReadRequested(
                _ref(f), tuple(f.payload["key"]) if "key" in f.payload else None),
            "ChangeConfiguration": lambda f: ev.ConfigurationChangeRequested(
                _ref(f), f.payload["key"], f.payload["value"]),
            "TriggerMessage": lambda f: ev.MessageTriggerRequested(
                _ref(f), f.payload["requestedMessage"], f.payload.get("connectorId")),
            # Whitepaper §5.5: its FirmwareStatusNotification is the signed one.
            "ExtendedTriggerMessage": lambda f: ev.MessageTriggerRequested(
                _ref(f), EXTENDED_TRIGGERS.get(f.payload["requestedMessage"], ""),
                f.payload.get("connectorId")),
            "ReserveNow": self._reserve_now,
            "CancelReservation": lambda f: ev.ReservationCancelRequested(
                _ref(f), f.payload["reservationId"]),
            "SetChargingProfile": self._set_charging_profile,
            "ClearChargingProfile": lambda f: ev.ChargingProfileClearRequested(
                _ref(f), **charging_profiles.clear_filters(f.payload)),
            "GetCompositeSchedule": lambda f: ev.CompositeScheduleRequested(
                _ref(f), f.payload["connectorId"], f.payload["duration"],
                f.payload.get("chargingRateUnit")),
        }
        self._direct: dict[str, Callable[[frames.CallFrame], Awaitable[dict[str, Any]]]] = {
            "ClearCache": self._clear_cache,
            "DataTransfer": self._data_transfer,
            "SendLocalList": self._send_local_list,
            "GetLocalListVersion": self._get_local_list_version,
        }

    async def __call__(self, frame: frames.CallFrame) -> tuple[dict[str, Any], Any]:
        action = frame.action
        if action not in frames.known_actions():
            raise frames.CallErrorReply("NotImplemented", f"{action!r} is not an OCPP 1.6 action")
        service = self._services.get(action)
        if service is None and (action in UNSUPPORTED or (
                action not in self._handlers and action not in self._direct)):
            raise frames.CallErrorReply("NotSupported", f"{action} is not supported")
        if frame.suspect:
            problem = frames.value_problem(frame.payload)
            if problem is not None:
                raise problem
        skip = action == "SendLocalList" and self._auth.skip_schema_for_send_local_list
        if not skip:
            problem = frames.schema_problem(2, action, frame.payload)
            if problem is not None:
                raise problem
        if action == "ChangeConfiguration" and frame.payload["key"].lower() == \
                "authorizationkey" and not is_hex_key(frame.payload["value"]):
            # 1.6 whitepaper A00.FR.205: 16-20 random bytes as 32-40 hex digits; any
            # other form is refused before the core sees it (security-whitepaper.md §2).
            return {"status": "Rejected"}, None
        continuation = None
        if action == "ExtendedTriggerMessage" and (
                frame.payload["requestedMessage"] in self._triggers):
            # Sent by a service (SignChargePointCertificate); its reply goes first.
            trigger = self._triggers[frame.payload["requestedMessage"]]
            return {"status": "Accepted"}, trigger.trigger(frame.payload["requestedMessage"])
        if service is not None:
            payload, continuation = await service.answer(action, frame.payload)
            problem = frames.schema_problem(3, action, payload)
            if problem is not None:
                log.error("our %s reply would be invalid (%s): %s", action, problem, payload)
                raise frames.CallErrorReply("InternalError", f"{action} reply could not be built")
            return payload, continuation
        if action in self._direct:
            fields = await self._direct[action](frame)
        else:
            event = self._handlers[action](frame)
            try:
                fields, continuation = await self._runtime.request(event, self._reply_timeout_s)
            except TimeoutError:  # slow hardware (an unlock), not an exception in our code
                log.error("no reply to %s within %.0f s", action, self._reply_timeout_s)
                raise frames.CallErrorReply(
                    "InternalError", f"{action} not answered in time") from None
        payload = _result_payload(action, fields)
        problem = frames.schema_problem(3, action, payload)
        if problem is not None:
            log.error("our %s reply would be invalid (%s): %s", action, problem, payload)
            raise frames.CallErrorReply("InternalError", f"{action} reply could not be built")
        return payload, continuation

    # ------------------------------------------------------------------ via the station
    def _remote_start(self, frame: frames.CallFrame) -> ev.RemoteStartRequested:
        id_tag = frame.payload["idTag"]
        list_entry, cache_entry, _ = self._auth.lookup(id_tag, self._runtime.clock.now())
        profile = None
        if "chargingProfile" in frame.payload:
            try:
                profile = charging_profiles.profile_from_json(
                    frame.payload.get("connectorId") or 0, frame.payload["chargingProfile"])
            except charging_profiles.ProfileFormatError as e:
                raise frames.CallErrorReply("PropertyConstraintViolation", str(e)) from None
        return ev.RemoteStartRequested(_ref(frame), id_tag, frame.payload.get("connectorId"),
                                       list_entry, cache_entry, profile)

    def _reserve_now(self, frame: frames.CallFrame) -> ev.ReservationRequested:
        expiry_s = mapping.parse_time(frame.payload["expiryDate"])
        if expiry_s is None:
            raise frames.CallErrorReply("TypeConstraintViolation",
                                        "expiryDate is not an RFC 3339 date-time")
        return ev.ReservationRequested(
            _ref(frame), frame.payload["reservationId"], frame.payload["connectorId"],
            frame.payload["idTag"], expiry_s, frame.payload.get("parentIdTag"))

    def _set_charging_profile(self, frame: frames.CallFrame) -> ev.ChargingProfileInstallRequested:
        try:
            profile = charging_profiles.profile_from_json(
                frame.payload["connectorId"], frame.payload["csChargingProfiles"])
        except charging_profiles.ProfileFormatError as e:
            raise frames.CallErrorReply("PropertyConstraintViolation", str(e)) from None
        return ev.ChargingProfileInstallRequested(_ref(frame), profile=profile)

    # ------------------------------------------------------------------ direct
    async def _clear_cache(self, frame: frames.CallFrame) -> dict[str, Any]:
        return {"status": "Accepted" if self._auth.clear_cache() else "Rejected"}

    async def _data_transfer(self, frame: frames.CallFrame) -> dict[str, Any]:
        """The payment tariff (``firmware.ocpp.payment_messages``); else UnknownVendorId."""
        from .payment_messages import answer
        payment = self._runtime.station.payment

        async def request(event: ev.Event) -> dict[str, Any]:
            assert isinstance(event, ev.Request)
            fields, _ = await self._runtime.request(event, self._reply_timeout_s)
            return dict(fields)

        return await answer(frame.payload, payment.settings.vendor_id if payment else None,
                            payment.tariff.as_dict() if payment else None, request,
                            _ref(frame), as_text=True)

    async def _send_local_list(self, frame: frames.CallFrame) -> dict[str, Any]:
        try:
            return {"status": await self._auth.send_local_list(frame.payload)}
        except SendLocalListFormatError as e:  # the payload breaks the schema
            raise frames.CallErrorReply(e.code, e.description) from None

    async def _get_local_list_version(self, frame: frames.CallFrame) -> dict[str, Any]:
        return {"list_version": self._auth.local_list_version()}


def _ref(frame: frames.CallFrame) -> tuple[str, str]:
    return (frame.action, frame.unique_id)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def _result_payload(action: str, fields: dict[str, Any]) -> dict[str, Any]:
    """snake_case reply fields → the camelCase CALLRESULT payload (None fields left out).

    The payload is then validated against the official schema, which catches a field
    name or value the 1.6 CALLRESULT does not have."""
    if action == "GetCompositeSchedule":
        return charging_profiles.composite_result(fields)
    if action in ("SetChargingProfile", "ClearChargingProfile"):
        if fields.get("why"):
            log.info("%s %s: %s", action, fields["status"], fields["why"])
        return {"status": fields["status"]}  # the reason ("why") is for the log
    return {_camel(key): value for key, value in fields.items() if value is not None}
