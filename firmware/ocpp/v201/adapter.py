"""OCPP 2.0.1 as a ``ProtocolAdapter`` (issue 9 item 2): the core's facts through
``outbound.to_call``, the CSMS's answers back to core events, and the station-side
transaction state 2.0.1 needs and the core does not keep.

Rules (ocpp201-rules.md §3; [S201] = the 2.0.1 JSON schemas):
- The station chooses the transactionId (``outbound.transaction_id``), so the core's
  transaction id *is* its local id: the Started event's answer reports
  ``TransactionStartAnswered(local_tx_id, local_tx_id, ...)``, and the inbound side
  maps a transactionId back with ``local_id_of`` (``TransactionDirectory``).
- seqNo increases by one per TransactionEvent of a transaction, Started is 0, gap-free
  across restarts: ``queued_message`` reads and advances the counter in the runtime's
  persistence transaction (``ocpp201_transactions``), so the message and the counter
  commit together or not at all. A message of a transaction this adapter never saw
  start (started under 1.6 before a forced switch) has no transactionId to carry: it
  is not queued, and says so in the log.
- The first event after a RequestStartTransaction uses triggerReason RemoteStart and
  carries its remoteStartId ([TC201 GR]); ``remember_remote_start`` keeps it (in memory:
  a remote start not yet begun does not survive a restart in the core either).
- ``offline: true`` on transaction events that happen while the link is down
  ([S201]; TC_E_40): ``online`` says whether it is up.
- The CSMS's IdTokenInfo becomes the core's IdTagInfo: 2.0.1's extra statuses
  (NoCredit, NotAllowedTypeEVSE, NotAtThisLocation, NotAtThisTime, Unknown) refuse like
  Invalid; cacheExpiryDateTime is the expiry, groupIdToken the parent. A
  TransactionEventResponse without idTokenInfo says nothing about the token: the core
  hears Accepted and learns nothing for its cache.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any, Callable

from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.core.csms_cost import cost_from_json
from firmware.core.events import IdTagInfo
from firmware.ocpp.adapter import FrameCodec, QueuedAnswer
from firmware.ocpp.mapping import StationInfo, parse_time
from firmware.store import repositories as repo

from . import device_facts, outbound, settlement, smart_charging
from .outbound import TransactionContext
from .report_filter import ReportFilter
from .version import V201, Ocpp2Version

log = logging.getLogger(__name__)

SUBPROTOCOL = V201.subprotocol

# 1.6's AuthorizationStatus values keep their meaning; 2.0.1's others all refuse.
_AS_IN_16 = frozenset({"Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"})


def id_token_info(payload: Any) -> IdTagInfo:
    """The core's IdTagInfo of a 2.0.1 IdTokenInfoType (a missing one is Invalid)."""
    if not isinstance(payload, dict):
        return IdTagInfo("Invalid")
    status = str(payload.get("status", "Invalid"))
    group = payload.get("groupIdToken")
    parent = group.get("idToken") if isinstance(group, dict) else None
    return IdTagInfo(status if status in _AS_IN_16 else "Invalid",
                     parse_time(payload.get("cacheExpiryDateTime")),
                     parent if isinstance(parent, str) and parent else None)


def _token_type(id_tag: str, presented_as: str = "ISO14443",
                version: Ocpp2Version = V201) -> str:
    """The idToken.type: how the core says the token was presented (the reader's
    board-config type, Central for a remote start, DirectPayment for a card payment:
    Local in 2.0.1, which lacks it); NoAuthorization when empty."""
    return version.token_type(presented_as) if id_tag else "NoAuthorization"


class V201Adapter:
    """The 2.0.1 adapter over the agent's database ``conn`` (the runtime's connection:
    used from the event loop thread only). ``online()``: the link is up now.
    ``boot_reason``: BootNotification's reason ([S201] BootReasonEnumType).
    ``version``: 2.0.1 (default) or 2.1 (``version.V21``: the 2.1 schemas, its token
    types, and payments reported with NotifySettlement and costDetails, ``settlement``)."""

    csms_assigns_transaction_ids = False

    def __init__(self, info: StationInfo, conn: sqlite3.Connection, *,
                 online: Callable[[], bool] = lambda: True,
                 boot_reason: str = "PowerUp",
                 facts: device_facts.StationView | None = None,
                 version: Ocpp2Version = V201) -> None:
        self.version = version
        self.subprotocol = version.subprotocol
        # 2.1: the cost a PaymentCost report carried, for its transaction's Ended (the
        # core queues both in one batch, so memory is enough).
        self._costs: dict[int, dict[str, Any]] = {}
        # GetReport filters by requestId, for the NotifyReport the core's report becomes
        # (report_filter; a GetBaseReport has none: everything).
        self._report_filters: dict[int, ReportFilter] = {}
        self._info = info
        # What the device model's fact variables read (NotifyReport reports them too).
        self.facts = facts
        self._conn = conn
        self._online = online
        self.boot_reason = boot_reason
        self._codec: FrameCodec | None = None
        self._answered_actions: frozenset[str] | None = None
        self._remote_starts: dict[int | None, int] = {}
        self._statuses: dict[int, str] = {}  # the last status reported per EVSE
        # The chargingState each running transaction last reported (by local id): a
        # restart forgets it, and the next change is reported even if it repeats one.
        self._charging_states: dict[int, str] = {}

    @property
    def codec(self) -> FrameCodec:
        if self._codec is None:
            # Imported on first use: the 2.0.1 frame codec is its own module.
            from .codec import V201Codec

            if self._answered_actions is None:
                self._codec = V201Codec(version=self.version)
            else:
                self._codec = V201Codec(self._answered_actions, self.version)
        return self._codec

    def answer_actions(self, actions: frozenset[str]) -> None:
        """The CSMS→station actions the inbound dispatcher answers (its ``supported``,
        services included); the codec answers any other with NotSupported."""
        self._answered_actions = actions
        self._codec = None

    # ------------------------------------------------------------------ TransactionDirectory
    def local_id_of(self, transaction_id: str) -> int | None:
        """The core's id of the running 2.0.1 transaction ``transaction_id`` (its local
        id); None when no running transaction has it."""
        return repo.ocpp201_local_tx_id(self._conn, transaction_id)

    def expect_report(self, request_id: int, report_filter: ReportFilter) -> None:
        """Filter the NotifyReport of ``request_id`` (a GetReport, B08); kept for the
        last 16 requests only (one the core never answers must not pile up)."""
        self._report_filters[request_id] = report_filter
        while len(self._report_filters) > 16:
            self._report_filters.pop(next(iter(self._report_filters)))

    def remember_remote_start(self, evse_id: int | None, remote_start_id: int) -> None:
        """Echo ``remote_start_id`` in the next Started on ``evse_id`` (None: on
        whichever EVSE starts next)."""
        self._remote_starts[evse_id] = remote_start_id

    def _transaction_id_of(self, local_tx_id: int) -> str | None:
        known = repo.ocpp201_transaction(self._conn, local_tx_id)
        return known.transaction_id if known is not None else None

    def starts_transaction(self, action: str, payload: dict[str, Any]) -> bool:
        return action == "TransactionEvent" and payload.get("eventType") == "Started"

    def ends_transaction(self, action: str, payload: dict[str, Any]) -> bool:
        return action == "TransactionEvent" and payload.get("eventType") == "Ended"

    # ------------------------------------------------------------------ messages out
    def message(self, effect: fx.SendMessage) -> tuple[str, dict[str, Any]] | None:
        if isinstance(effect, fx.SendConnectorStatus):
            before = self._statuses.get(effect.connector_id)
            self._statuses[effect.connector_id] = effect.status
            if (before is not None and before != effect.status
                    and outbound.connector_status(before) == outbound.connector_status(
                        effect.status)):
                # Preparing → Charging is Occupied → Occupied in 2.0.1: the change is
                # the transaction's (chargingState), not the connector's. A re-report
                # of the same status (a trigger, a reconnect) still goes out.
                return None
        if isinstance(effect, fx.SendChargingProfilesReport):
            return "ReportChargingProfiles", smart_charging.report(effect,
                                                                   self._transaction_id_of)
        if isinstance(effect, fx.SendConfigurationReport):
            message = outbound.to_call(effect, self._info)
            assert message is not None
            action, payload = message
            if self.facts is not None:
                payload["reportData"] = (payload["reportData"]
                                         + device_facts.report_data(self.facts))
            wanted = self._report_filters.pop(effect.request_id, None)
            if wanted is not None:
                payload["reportData"] = wanted.apply(payload["reportData"])
                if not payload["reportData"]:  # minItems 1: none is no reportData
                    del payload["reportData"]
            return action, payload
        context = None
        if isinstance(effect, fx.SendAuthorizationRequest):
            context = TransactionContext(id_token_type=_token_type(
                effect.id_tag, effect.token_type, self.version))
        return outbound.to_call(effect, self._info, context, boot_reason=self.boot_reason)

    def queued_message(self, effect: fx.SendMessage,
                       conn: sqlite3.Connection) -> tuple[str, dict[str, Any]] | None:
        """A TransactionEvent, its seqNo taken and advanced in ``conn``'s open
        transaction; a MeterValues for samples outside a transaction."""
        local_tx_id = getattr(effect, "local_tx_id", None)
        if isinstance(effect, fx.SendPaymentReport) and self.version.settles_payments:
            return self._settlement_message(effect)
        if isinstance(effect, fx.SendPaymentReport):
            # DataTransfer (firmware.ocpp.payment_messages); queued before the Ended, so
            # the transaction's station-chosen id is still known here
            from firmware.ocpp.payment_messages import encode
            known = repo.ocpp201_transaction(conn, local_tx_id) if local_tx_id else None
            return encode(effect, as_text=False,
                          transaction_id=known.transaction_id if known else None)
        if local_tx_id is None:
            return outbound.to_call(effect, self._info)
        offline = not self._online()
        if isinstance(effect, fx.SendTransactionStarted):
            # Only a start the core says came from a remote start echoes an id; a tap on
            # an EVSE drops the id a refused or timed-out remote start left there.
            remote_start_id = self._remote_starts.pop(effect.connector_id, None)
            if remote_start_id is None and effect.remote:
                remote_start_id = self._remote_starts.pop(None, None)
            if not effect.remote:
                remote_start_id = None
            state = repo.Ocpp201Transaction(
                local_tx_id, outbound.transaction_id(local_tx_id, effect.timestamp_s),
                effect.connector_id, 0, remote_start_id)
            context = TransactionContext(
                seq_no=0, transaction_id=state.transaction_id, offline=offline,
                trigger="RemoteStart" if remote_start_id is not None else "Authorized",
                remote_start_id=remote_start_id,
                status=self._statuses.get(effect.connector_id, "Charging"),
                id_token_type=_token_type(effect.id_tag, effect.token_type, self.version))
        else:
            known = repo.ocpp201_transaction(conn, local_tx_id)
            if known is None:
                log.error("%s of local transaction %d not queued: it did not start under "
                          "OCPP 2.0.1, so it has no 2.0.1 transactionId",
                          type(effect).__name__, local_tx_id)
                return None
            state = known
            if isinstance(effect, fx.SendTransactionStateChanged):
                self._statuses[state.evse_id] = effect.status
                charging = outbound.charging_state(effect.status)
                if self._charging_states.get(local_tx_id) == charging:
                    return None  # a change 2.0.1 cannot see (Preparing → Finishing)
                self._charging_states[local_tx_id] = charging
            id_tag = (effect.id_tag or "") if isinstance(effect, fx.SendTransactionEnded) else ""
            context = TransactionContext(
                seq_no=state.next_seq_no, transaction_id=state.transaction_id,
                offline=offline, status=self._statuses.get(state.evse_id, "Charging"),
                id_token_type=_token_type(id_tag, version=self.version))
        if isinstance(effect, fx.SendTransactionStarted):
            self._charging_states[local_tx_id] = outbound.charging_state(context.status)
        if isinstance(effect, fx.SendTransactionEnded):
            self._charging_states.pop(local_tx_id, None)
            repo.forget_ocpp201_transaction(conn, local_tx_id)  # nothing follows Ended
        else:
            repo.save_ocpp201_transaction(conn, repo.Ocpp201Transaction(
                state.local_tx_id, state.transaction_id, state.evse_id,
                context.seq_no + 1, state.remote_start_id))
        message = outbound.to_call(effect, self._info, context)
        cost = self._costs.pop(local_tx_id, None)
        if message is not None and cost is not None and isinstance(effect,
                                                                   fx.SendTransactionEnded):
            message[1]["costDetails"] = settlement.cost_details(cost)
        return message

    def _settlement_message(self, effect: fx.SendPaymentReport
                            ) -> tuple[str, dict[str, Any]] | None:
        """2.1: a PaymentCost is kept for its transaction's Ended (``costDetails``),
        a PaymentSettled is a NotifySettlement (``settlement``)."""
        data = effect.data if isinstance(effect.data, dict) else {}
        if effect.message_id == "PaymentCost":
            if effect.local_tx_id is not None:
                self._costs[effect.local_tx_id] = data
            return None
        paid = effect.paid_transaction
        transaction_id = outbound.transaction_id(*paid) if paid is not None else None
        return "NotifySettlement", settlement.notify_settlement(data, transaction_id)

    # ------------------------------------------------------------------ answers in
    def answered(self, effect: fx.SendMessage, response: dict[str, Any]) -> list[ev.Event]:
        if isinstance(effect, fx.SendRegistration):
            return [ev.RegistrationAnswered(str(response.get("status", "Rejected")),
                                            int(response.get("interval", 0)),
                                            parse_time(response.get("currentTime")))]
        if isinstance(effect, fx.SendKeepAlive):
            return [ev.KeepAliveAnswered(parse_time(response.get("currentTime")))]
        if isinstance(effect, fx.SendAuthorizationRequest):
            return [ev.AuthorizationAnswered(effect.ref, effect.id_tag,
                                             id_token_info(response.get("idTokenInfo")))]
        return []

    def queued_answered(self, message: QueuedAnswer,
                        response: dict[str, Any]) -> list[ev.Event]:
        if message.action == "NotifySettlement":
            url = response.get("receiptUrl")
            psp_ref = message.payload.get("pspRef")
            if isinstance(url, str) and url and isinstance(psp_ref, str):
                return [ev.PaymentReceiptOffered(psp_ref, url)]
            return []
        if message.local_tx_id is None or message.action != "TransactionEvent":
            return []
        event_type = message.payload.get("eventType")
        token = message.payload.get("idToken")
        id_tag = token.get("idToken", "") if isinstance(token, dict) else ""
        info = response.get("idTokenInfo")
        if event_type == "Started":
            if info is None:  # the CSMS said nothing about the token: nothing to learn
                return [ev.TransactionStartAnswered(message.local_tx_id, message.local_tx_id,
                                                    IdTagInfo("Accepted"), "")]
            return [ev.TransactionStartAnswered(message.local_tx_id, message.local_tx_id,
                                                id_token_info(info), id_tag)]
        if event_type == "Ended":
            # totalCost only here ("SHALL only be sent when charging has ended", [S201]);
            # absent: the core shows TotalCostFallbackMessage (firmware.core.csms_cost)
            return [ev.TransactionEndAnswered(
                message.local_tx_id, id_token_info(info) if info is not None else None,
                id_tag if info is not None else ""),
                ev.CsmsCostReported(("TransactionEvent", message.local_tx_id),
                                    message.local_tx_id,
                                    cost_from_json(response.get("totalCost")), final=True)]
        return []
