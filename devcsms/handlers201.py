"""The default answers of the development CSMS to an OCPP 2.0.1 (and 2.1) charging station: an @on
handler per request the brief of issue #9 names (and the other notifications a station may send, answered
empty), on the `ocpp` library's v201 ChargePoint. `Ocpp2Answers` holds them for both versions: 2.1 has the
same requests and response fields for these (`handlers21` adds its own), and each answer is built from
`self._call_result`, the call_result module the library's versioned ChargePoint declares.

Answers: BootNotification from the BootPolicy (status, interval, currentTime); Authorize and
TransactionEvent with an idToken get idTokenInfo from the AuthorizationPolicy (the idToken string is
looked up, its type not compared); DataTransfer UnknownVendorId; SignCertificate Rejected (no
certificate authority). Frames that must be refused never reach these handlers (`devcsms.v201.refusal`).
"""

from __future__ import annotations

import itertools
import logging
from types import ModuleType
from typing import Any

import ocpp.charge_point
import ocpp.v201
from ocpp.routing import on
from ocpp.v201.enums import Action

from devcsms.policy import data_transfer_status, rfc3339_utc
from devcsms.routing import FrameSender, Policies


class Ocpp2Answers(ocpp.charge_point.ChargePoint):
    """The answers 2.0.1 and 2.1 share; a concrete class also derives from the library's ChargePoint of
    its version (ocpp.v201 / ocpp.v21), which sets `_call_result` and `_ocpp_version`.
    `route_message(raw)` answers one CALL through `sender`.

    `transaction_ids` is accepted for symmetry with 1.6 and unused: 2.x stations choose their ids."""

    _call_result: ModuleType  # the version's call_result module, set by ocpp.v201/v21.ChargePoint

    def __init__(
        self,
        station_id: str,
        sender: FrameSender,
        *,
        policies: Policies,
        transaction_ids: itertools.count,
        logger: logging.Logger,
    ) -> None:
        super().__init__(station_id, sender, logger=logger)
        self._policies = policies

    def _id_token_info(self, id_token: Any) -> dict:
        token = id_token.get("id_token") if isinstance(id_token, dict) else None
        return self._policies.authorization.id_token_info(token if isinstance(token, str) else "")

    @on(Action.boot_notification)
    def _on_boot_notification(self, charging_station: dict, reason: str, **_: Any):
        return self._call_result.BootNotification(
            current_time=rfc3339_utc(), interval=self._policies.boot.interval_s, status=self._policies.boot.status
        )

    @on(Action.heartbeat)
    def _on_heartbeat(self, **_: Any):
        return self._call_result.Heartbeat(current_time=rfc3339_utc())

    @on(Action.status_notification)
    def _on_status_notification(self, **_: Any):
        return self._call_result.StatusNotification()

    @on(Action.authorize)
    def _on_authorize(self, id_token: dict, **_: Any):
        return self._call_result.Authorize(id_token_info=self._id_token_info(id_token))

    @on(Action.transaction_event)
    def _on_transaction_event(self, id_token: dict | None = None, **_: Any):
        info = self._id_token_info(id_token) if id_token is not None else None
        return self._call_result.TransactionEvent(id_token_info=info)

    @on(Action.meter_values)
    def _on_meter_values(self, **_: Any):
        return self._call_result.MeterValues()

    @on(Action.notify_report)
    def _on_notify_report(self, **_: Any):
        return self._call_result.NotifyReport()

    @on(Action.notify_event)
    def _on_notify_event(self, **_: Any):
        return self._call_result.NotifyEvent()

    @on(Action.notify_monitoring_report)
    def _on_notify_monitoring_report(self, **_: Any):
        return self._call_result.NotifyMonitoringReport()

    @on(Action.security_event_notification)
    def _on_security_event_notification(self, **_: Any):
        return self._call_result.SecurityEventNotification()

    @on(Action.firmware_status_notification)
    def _on_firmware_status_notification(self, **_: Any):
        return self._call_result.FirmwareStatusNotification()

    @on(Action.log_status_notification)
    def _on_log_status_notification(self, **_: Any):
        return self._call_result.LogStatusNotification()

    @on(Action.reservation_status_update)
    def _on_reservation_status_update(self, **_: Any):
        return self._call_result.ReservationStatusUpdate()

    @on(Action.data_transfer)
    def _on_data_transfer(self, vendor_id: str, message_id: str | None = None, **_: Any):
        return self._call_result.DataTransfer(status=data_transfer_status(vendor_id, message_id))

    @on(Action.sign_certificate)
    def _on_sign_certificate(self, **_: Any):
        return self._call_result.SignCertificate(status="Rejected")  # the dev CSMS has no certificate authority


class Ocpp201Handlers(Ocpp2Answers, ocpp.v201.ChargePoint):
    """The 2.0.1 answers of one connection."""
