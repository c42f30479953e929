"""What one OCPP version contributes to the agent: the seam between the core's facts and
a protocol's messages (issue 9 item 2).

The link, the runtime and the session are the same for every version; an adapter
(``firmware.ocpp.v16.V16Adapter``; 2.0.1 next to it) says how a fact becomes a CALL and
how the answer becomes events again. Obligations:

- ``message`` builds a non-queued message (boot, heartbeat, status, authorization);
  None when this version has no such message (the CSMS is then not asked at all).
- ``queued_message`` builds a transaction message for the durable outbox. It runs inside
  the runtime's persistence transaction and may write its own state there (2.0.1's
  seqNo), so the message and that state commit together or not at all.
- ``answered`` / ``queued_answered`` turn a CALLRESULT into core events; they never
  raise on a response that passed the version's schema.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any, Protocol

from firmware.core import effects as fx
from firmware.core import events as ev


@dataclass(frozen=True)
class Received:
    """One websocket message as a version's codec read it.

    ``kind``: "call" (``call`` is the codec's frame, ready for its inbound handler),
    "result" (``payload``), "error" (``code``, ``description``) or "bad" (``reply``: the
    one CALLERROR to send, or None when the message must not be answered; ``why``).
    """

    kind: str
    message_id: str | None
    action: str = ""
    call: Any = None
    payload: dict[str, Any] = field(default_factory=dict)
    code: str = ""
    description: str = ""
    reply: str | None = None
    why: str = ""


class FrameCodec(Protocol):
    """OCPP-J framing and schema checks of one version (the session's only link to it).

    ``encode_*`` raise only ``CallErrorReply`` subclasses or ``OcppError`` for a frame of
    ours that would break the schema (a bug: never sent); ``read`` never raises;
    ``response_problem`` checks the CALLRESULT to our CALL of ``action`` and gives the
    payload to use (cleaned) or the error that makes it unusable.
    """

    def read(self, text: str | bytes) -> Received: ...

    def encode_call(self, message_id: str, action: str, payload: dict[str, Any]) -> str: ...

    def encode_result(self, message_id: str, action: str, payload: dict[str, Any]) -> str: ...

    def encode_error(self, message_id: str, error: Any) -> str: ...

    def response_problem(self, action: str, payload: dict[str, Any]
                         ) -> tuple[dict[str, Any], tuple[str, str] | None]: ...


class QueuedAnswer(Protocol):
    """The parts of a delivered outbox row an adapter reads (read-only: the outbox's
    rows are frozen)."""

    @property
    def action(self) -> str: ...

    @property
    def local_tx_id(self) -> int | None: ...

    @property
    def payload(self) -> dict[str, Any]: ...


class ProtocolAdapter(Protocol):
    """``subprotocol``: the websocket subprotocol, e.g. "ocpp1.6", also the tag of the
    outbox rows this adapter writes. ``csms_assigns_transaction_ids``: True in 1.6 (a
    transaction's later messages wait for the CSMS's id, ``firmware.ocpp.outbox``);
    False in 2.0.1, where the station chose it and wrote it in every payload."""

    subprotocol: str
    csms_assigns_transaction_ids: bool

    @property
    def codec(self) -> FrameCodec: ...

    def message(self, effect: fx.SendMessage) -> tuple[str, dict[str, Any]] | None: ...

    def queued_message(self, effect: fx.SendMessage,
                       conn: sqlite3.Connection) -> tuple[str, dict[str, Any]] | None: ...

    def answered(self, effect: fx.SendMessage, response: dict[str, Any]) -> list[ev.Event]: ...

    def starts_transaction(self, action: str, payload: dict[str, Any]) -> bool:
        """Whether a queued message is its transaction's start (1.6 StartTransaction,
        2.0.1 TransactionEvent Started)."""
        ...

    def ends_transaction(self, action: str, payload: dict[str, Any]) -> bool:
        """Whether a queued message is its transaction's end (1.6 StopTransaction,
        2.0.1 TransactionEvent Ended)."""
        ...

    def queued_answered(self, message: QueuedAnswer,
                        response: dict[str, Any]) -> list[ev.Event]: ...
