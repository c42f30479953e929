"""The durable queue of transaction-related messages ([16] §3.7, §3.7.1; [JE] §3.2).

- A message is appended inside the same SQLite transaction as the state change that
  produced it (the runtime's unit of work), so it is on disk before anything is sent.
- Delivered strictly in order: only the head is ever in flight; it is removed when its
  CALLRESULT arrives (in the same commit as what the result teaches us, e.g. the
  CSMS transactionId of a StartTransaction).
- Failure = a CALLERROR or no answer in time. Before retransmission n+1 we wait
  TransactionMessageRetryInterval × n; after TransactionMessageAttempts transmissions
  the message is dropped, logged loudly and counted, and the queue moves on. The
  attempt count and the next attempt time live in the row, so they survive restarts.
- A transaction's later messages refer to it by local id; its CSMS transactionId is
  filled in when the message is sent (a transaction started offline gets its real id
  only when the delayed StartTransaction.conf arrives).
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from typing import Any, Callable

from firmware.store import repositories as repo
from firmware.store.db import atomic

from .mapping import with_transaction_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int
    interval_s: float


@dataclass(frozen=True)
class ReadyMessage:
    seq: int
    action: str
    local_tx_id: int | None
    payload: dict[str, Any]
    attempts: int
    created_at_s: float


class Outbox:
    def __init__(self, conn: sqlite3.Connection, policy: Callable[[], RetryPolicy]):
        self._conn = conn
        self._policy = policy
        self.dropped_total = 0
        self.delivered_total = 0
        self.failed_attempts_total = 0

    # ------------------------------------------------------------------ reading
    def head(self, now: float) -> tuple[ReadyMessage | None, float | None]:
        """(the head if due now, else None; seconds until it is due, or None if empty)."""
        message = repo.outbox_head(self._conn)
        if message is None:
            return None, None
        wait_s = message.next_attempt_at_s - now
        if wait_s > 0:
            return None, wait_s
        payload = message.payload
        if message.local_tx_id is not None and message.action != "StartTransaction":
            transaction_id = repo.transaction_id_for(self._conn, message.local_tx_id)
            if transaction_id is None:
                # The StartTransaction never got a transactionId (dropped after its last
                # attempt): the CSMS could not place this message. Keep the order rule,
                # report it, and move on rather than block every later transaction.
                self._drop(message.seq, message.action, message.local_tx_id,
                           "its transaction has no CSMS transactionId")
                return self.head(now)
            payload = with_transaction_id(message.action, payload, transaction_id)
        return ReadyMessage(message.seq, message.action, message.local_tx_id, payload,
                            message.attempts, message.created_at_s), 0.0

    def stats(self) -> tuple[int, float | None, int]:
        return repo.outbox_stats(self._conn)

    # ------------------------------------------------------------------ outcomes
    def delivered(self, message: ReadyMessage, response: dict[str, Any]) -> None:
        with atomic(self._conn):
            repo.outbox_remove(self._conn, message.seq)
            if message.action == "StartTransaction" and message.local_tx_id is not None:
                transaction_id = response.get("transactionId")
                if isinstance(transaction_id, int):
                    repo.save_transaction_id(self._conn, message.local_tx_id, transaction_id)
            elif message.action == "StopTransaction" and message.local_tx_id is not None:
                if repo.outbox_pending_for(self._conn, message.local_tx_id) == 0:
                    repo.forget_transaction_id(self._conn, message.local_tx_id)
        self.delivered_total += 1

    def failed(self, message: ReadyMessage, now: float, why: str) -> bool:
        """Record a failed transmission; True if the message was dropped for good."""
        policy = self._policy()
        transmissions = message.attempts + 1
        self.failed_attempts_total += 1
        if transmissions >= policy.attempts:
            self._drop(message.seq, message.action, message.local_tx_id,
                       f"{transmissions} transmissions failed, last: {why}")
            return True
        wait_s = policy.interval_s * transmissions
        log.warning("%s (queue seq %d) failed (%s); transmission %d of %d in %.0f s",
                    message.action, message.seq, why, transmissions + 1, policy.attempts, wait_s)
        with atomic(self._conn):
            repo.outbox_record_attempt(self._conn, message.seq, now + wait_s)
        return False

    def _drop(self, seq: int, action: str, local_tx_id: int | None, why: str) -> None:
        with atomic(self._conn):
            repo.outbox_remove(self._conn, seq)
        self.dropped_total += 1
        log.error("DROPPED transaction message %s (queue seq %d, local tx %s): %s",
                  action, seq, local_tx_id, why)
