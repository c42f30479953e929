"""OCPP 1.6J as a ``ProtocolAdapter``: payloads from ``firmware.ocpp.mapping``, answers
to events. 1.6 keeps no state of its own: the CSMS assigns transactionIds, which the
outbox fills into queued Stop/MeterValues payloads just before sending."""

from __future__ import annotations

import sqlite3
from typing import Any

from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.ocpp import mapping
from firmware.ocpp.adapter import QueuedAnswer

from .codec import V16Codec


class V16Adapter:
    subprotocol = "ocpp1.6"
    csms_assigns_transaction_ids = True

    def __init__(self, info: mapping.StationInfo) -> None:
        self._info = info
        self.codec = V16Codec()

    def message(self, effect: fx.SendMessage) -> tuple[str, dict[str, Any]] | None:
        if isinstance(effect, (fx.SendReservationEnded, fx.SendConfigurationReport,
                               fx.SendChargingProfilesReport)):
            return None  # 1.6 has no such message (GetConfiguration answers directly)
        return mapping.to_call(effect, self._info)

    def queued_message(self, effect: fx.SendMessage,
                       conn: sqlite3.Connection) -> tuple[str, dict[str, Any]] | None:
        if isinstance(effect, fx.SendTransactionStateChanged):
            return None  # 1.6 reports it by the StatusNotification of the same change
        return mapping.to_call(effect, self._info)

    def answered(self, effect: fx.SendMessage, response: dict[str, Any]) -> list[ev.Event]:
        if isinstance(effect, fx.SendRegistration):
            return [ev.RegistrationAnswered(response.get("status", "Rejected"),
                                            int(response.get("interval", 0)),
                                            mapping.parse_time(response.get("currentTime")))]
        if isinstance(effect, fx.SendKeepAlive):
            return [ev.KeepAliveAnswered(mapping.parse_time(response.get("currentTime")))]
        if isinstance(effect, fx.SendAuthorizationRequest):
            return [ev.AuthorizationAnswered(effect.ref, effect.id_tag,
                                             mapping.id_tag_info(response.get("idTagInfo")))]
        return []

    def starts_transaction(self, action: str, payload: dict[str, Any]) -> bool:
        return action == "StartTransaction"

    def ends_transaction(self, action: str, payload: dict[str, Any]) -> bool:
        return action == "StopTransaction"

    def queued_answered(self, message: QueuedAnswer,
                        response: dict[str, Any]) -> list[ev.Event]:
        if message.local_tx_id is None:
            return []
        info = response.get("idTagInfo")
        id_tag = message.payload.get("idTag", "")
        if message.action == "StartTransaction":
            return [ev.TransactionStartAnswered(
                message.local_tx_id, int(response.get("transactionId", 0)),
                mapping.id_tag_info(info), id_tag)]
        if message.action == "StopTransaction":
            return [ev.TransactionEndAnswered(
                message.local_tx_id, mapping.id_tag_info(info) if info else None, id_tag)]
        return []
