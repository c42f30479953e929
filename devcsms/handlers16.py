"""The default answers of the development CSMS to an OCPP 1.6 charge point: the `ocpp` library's v16
ChargePoint with one @on handler per request a charge point sends.

The library routes, validates and answers; everything it sends goes through `sender` (the session, which
records each frame before it leaves). Policies and the transaction id counter are read when each request
arrives, so tests may change them between steps.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action

from devcsms.policy import data_transfer_status, rfc3339_utc
from devcsms.routing import FrameSender, Policies


class Ocpp16Handlers(ChargePoint):
    """The 1.6 answers of one connection. `route_message(raw)` answers one CALL through `sender`."""

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
        self._transaction_ids = transaction_ids

    @on(Action.boot_notification)
    def _on_boot_notification(self, charge_point_vendor: str, charge_point_model: str, **_: Any):
        return call_result.BootNotification(
            current_time=rfc3339_utc(), interval=self._policies.boot.interval_s, status=self._policies.boot.status
        )

    @on(Action.heartbeat)
    def _on_heartbeat(self, **_: Any):
        return call_result.Heartbeat(current_time=rfc3339_utc())

    @on(Action.authorize)
    def _on_authorize(self, id_tag: str, **_: Any):
        return call_result.Authorize(id_tag_info=self._policies.authorization.id_tag_info(id_tag))

    @on(Action.start_transaction)
    def _on_start_transaction(self, id_tag: str, **_: Any):
        # A transaction id is assigned whatever the authorization: the charge point decides what to do.
        return call_result.StartTransaction(
            transaction_id=next(self._transaction_ids), id_tag_info=self._policies.authorization.id_tag_info(id_tag)
        )

    @on(Action.stop_transaction)
    def _on_stop_transaction(self, id_tag: str | None = None, **_: Any):
        info = self._policies.authorization.id_tag_info(id_tag) if id_tag is not None else None
        return call_result.StopTransaction(id_tag_info=info)

    @on(Action.status_notification)
    def _on_status_notification(self, **_: Any):
        return call_result.StatusNotification()

    @on(Action.meter_values)
    def _on_meter_values(self, **_: Any):
        return call_result.MeterValues()

    @on(Action.data_transfer)
    def _on_data_transfer(self, vendor_id: str, message_id: str | None = None, **_: Any):
        return call_result.DataTransfer(status=data_transfer_status(vendor_id, message_id))

    @on(Action.diagnostics_status_notification)
    def _on_diagnostics_status_notification(self, **_: Any):
        return call_result.DiagnosticsStatusNotification()

    @on(Action.firmware_status_notification)
    def _on_firmware_status_notification(self, **_: Any):
        return call_result.FirmwareStatusNotification()

    @on(Action.security_event_notification)
    def _on_security_event_notification(self, **_: Any):
        return call_result.SecurityEventNotification()

    @on(Action.signed_firmware_status_notification)
    def _on_signed_firmware_status_notification(self, **_: Any):
        return call_result.SignedFirmwareStatusNotification()

    @on(Action.log_status_notification)
    def _on_log_status_notification(self, **_: Any):
        return call_result.LogStatusNotification()

    @on(Action.sign_certificate)
    def _on_sign_certificate(self, **_: Any):
        return call_result.SignCertificate(status="Rejected")  # the dev CSMS has no certificate authority
