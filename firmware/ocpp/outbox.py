"""The durable queue of transaction-related messages ([16] §3.7, §3.7.1; [JE] §3.2).

- A message is appended inside the same SQLite transaction as the state change that
  produced it (the runtime's unit of work), so it is on disk before anything is sent.
- Delivered strictly in order: only the head is ever in flight; it is removed when its
  CALLRESULT arrives (in the same commit as what the result teaches us, e.g. the
  CSMS transactionId of a StartTransaction).
- Failure = a CALLERROR or no answer in time. Before retransmission n+1 we wait
  TransactionMessageRetryInterval × n; after TransactionMessageAttempts transmissions
  the message is dropped, logged loudly and counted, and the queue moves on. The
  attempt count, the next attempt time and the failure/drop counters live in the
  database, so they survive restarts. A transmission cut short by the connection
  closing is not an attempt (the CSMS may never have seen it): it is sent again, first,
  on the next connection.
- A transaction's later messages refer to it by local id; its CSMS transactionId is
  filled in when the message is sent (a transaction started offline gets its real id
  only when the delayed StartTransaction.conf arrives).
- A StartTransaction dropped after its last attempt leaves the transaction without a
  CSMS transactionId, so none of its later messages (MeterValues, StopTransaction) can
  name it; sending them without an id would attach them to nothing or, worse, to
  another transaction. They are dropped too, each one logged and counted: those still
  queued at once, later ones when they reach the head. The charge point keeps
  charging (the EV is not stranded); the CSMS learns of the loss only from the
  missing transaction, which is what the drop counter and the log tell the operator.
- Removing a delivered message is committed at once, but only every
  ``DURABLE_EVERY``-th removal (or the first after ``DURABLE_AFTER_S``) waits for the
  disk (synchronous=FULL); the others use synchronous=NORMAL, which survives a crash
  of the process but may be undone by a power cut until the next FULL commit (any
  commit of the runtime is one, and when the queue runs dry or waits, ``head``
  makes one at once). A power cut can thus bring back at most that many
  messages the CSMS already confirmed: they are sent again, identical: a duplicate,
  never a loss. A StartTransaction's removal, which records the CSMS transactionId,
  is always FULL: losing it would make the CSMS open the same transaction twice.
  Why: one fsync per delivered message made it the cost of a replay (~60 % of the
  agent's time on loopback, far more on an SD card) and the SD card's wear.
- Disk budget (``budget_bytes``, site key ``[ocpp] outbox_budget_mb``): the queue only
  ever holds transaction messages, which are never dropped for space, so the budget
  is an alarm, not an eviction rule. Crossing it is logged at ERROR (again every
  ``BUDGET_REMINDER_S`` while over) and shown by the console's ``queue``. The
  non-transaction messages are the ones that give way: they are never stored at all
  (while offline they are dropped at once; statuses are re-reported on reconnect).
  The size is an estimate: payload bytes plus a fixed per-row overhead.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from typing import Any, Callable

from firmware.store import repositories as repo
from firmware.store.db import atomic

from .mapping import with_transaction_id

log = logging.getLogger(__name__)

BUDGET_REMINDER_S = 600.0
DURABLE_EVERY = 32
DURABLE_AFTER_S = 0.25
FAILED_COUNTER = "outbox_failed_transmissions_total"
DROPPED_COUNTER = "outbox_dropped_total"


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
    stored_bytes: int = 0


@dataclass(frozen=True)
class OutboxSnapshot:
    """What the console's ``queue`` shows. Times are the agent clock's epoch seconds."""

    depth: int
    stored_bytes: int
    budget_bytes: int | None
    oldest_created_at_s: float | None
    head_action: str | None
    head_attempts: int
    head_next_attempt_at_s: float | None
    failed_transmissions_total: int  # persisted: every failed transmission ever
    dropped_total: int  # persisted: every message dropped ever
    delivered_since_start: int

    @property
    def over_budget(self) -> bool:
        return self.budget_bytes is not None and self.stored_bytes > self.budget_bytes


class Outbox:
    """The queue over the agent's database connection.

    Obligations: used from the event loop thread only (the connection is shared with
    the runtime, whose commits must not interleave with ours). ``account_appended``
    must be called after the runtime appends (the link's ``wake`` does it); ``head``
    does it too before handing out a row it has not seen.
    """

    def __init__(self, conn: sqlite3.Connection, policy: Callable[[], RetryPolicy],
                 budget_bytes: int | None = None,
                 monotonic: Callable[[], float] = time.monotonic):
        self._conn = conn
        self._policy = policy
        self._monotonic = monotonic
        self.budget_bytes = budget_bytes
        self.delivered_total = 0
        self._rows, self._bytes, self._seen_seq = repo.outbox_usage(conn)
        self._over_budget = False
        self._last_alarm_s = 0.0
        self._relaxed_removals = 0
        self._durable_at_s = monotonic()
        # Retry deadlines on the monotonic clock, by queue seq: a CSMS clock sync that
        # moves the agent's wall clock back an hour must not turn a 10 s wait into 3,610 s
        # (issue 8 item 2). The database keeps a wall-clock time for display and restarts.
        self._retry_due_mono_s: dict[int, float] = {}
        self._check_budget()

    # ------------------------------------------------------------------ reading
    def head(self, now: float) -> tuple[ReadyMessage | None, float | None]:
        """(the head if due now, else None; seconds until it is due, or None if empty).

        ``now`` is the agent's wall clock (epoch s). It is only read to resume, after a
        restart, a retry wait recorded before it, and then never beyond the nominal wait
        (interval x transmissions): a clock jump cannot stretch a wait. Waits started
        in this process run on the monotonic clock alone.
        """
        while True:
            message = repo.outbox_head(self._conn)
            if message is None:
                self._settle()
                return None, None
            if message.seq > self._seen_seq:
                self.account_appended()
            wait_s = self._retry_wait_s(message.seq, message.attempts,
                                        message.next_attempt_at_s, now)
            if wait_s > 0:
                self._settle()
                return None, wait_s
            payload = message.payload
            if message.local_tx_id is not None and message.action != "StartTransaction":
                transaction_id = repo.transaction_id_for(self._conn, message.local_tx_id)
                if transaction_id is None:
                    self._drop_transaction(message.local_tx_id,
                                           "its StartTransaction was dropped, so the CSMS "
                                           "has no transactionId to file it under")
                    continue
                payload = with_transaction_id(message.action, payload, transaction_id)
            return ReadyMessage(message.seq, message.action, message.local_tx_id, payload,
                                message.attempts, message.created_at_s,
                                message.stored_bytes), 0.0

    def _retry_wait_s(self, seq: int, attempts: int, next_attempt_at_s: float,
                      now: float) -> float:
        if attempts == 0:
            return 0.0
        due_s = self._retry_due_mono_s.get(seq)
        if due_s is None:
            # First sight since a restart: the wall-clock time on disk may be off by any
            # clock step since; trust it only within [0, nominal wait].
            nominal_s = self._policy().interval_s * attempts
            remaining_s = min(nominal_s, max(0.0, next_attempt_at_s - now))
            due_s = self._monotonic() + remaining_s
            self._retry_due_mono_s[seq] = due_s
        return due_s - self._monotonic()

    def scheduled_wait_s(self) -> float | None:
        """Seconds (monotonic) until the head's next transmission as scheduled by its last
        failure, or as resumed after a restart; 0.0 once due. None when the queue is
        empty, the head has never failed, or ``head`` has not looked at it since a
        restart (its wait is only resumed then). Reads the schedule, changes nothing."""
        message = repo.outbox_head(self._conn)
        if message is None or message.attempts == 0:
            return None
        due_s = self._retry_due_mono_s.get(message.seq)
        if due_s is None:
            return None
        return max(0.0, due_s - self._monotonic())

    def stats(self) -> tuple[int, float | None, int]:
        """(depth, created_at_s of the oldest, attempts of the queued messages)."""
        return repo.outbox_stats(self._conn)

    def snapshot(self) -> OutboxSnapshot:
        depth, oldest, _ = repo.outbox_stats(self._conn)
        head = repo.outbox_head(self._conn)
        return OutboxSnapshot(
            depth=depth, stored_bytes=self._bytes, budget_bytes=self.budget_bytes,
            oldest_created_at_s=oldest,
            head_action=head.action if head else None,
            head_attempts=head.attempts if head else 0,
            head_next_attempt_at_s=head.next_attempt_at_s if head else None,
            failed_transmissions_total=repo.get_counter(self._conn, FAILED_COUNTER),
            dropped_total=repo.get_counter(self._conn, DROPPED_COUNTER),
            delivered_since_start=self.delivered_total)

    @property
    def over_budget(self) -> bool:
        return self._over_budget

    # ------------------------------------------------------------------ outcomes
    def delivered(self, message: ReadyMessage, response: dict[str, Any]) -> None:
        now_s = self._monotonic()
        relaxed = (message.action != "StartTransaction"
                   and self._relaxed_removals + 1 < DURABLE_EVERY
                   and now_s - self._durable_at_s < DURABLE_AFTER_S
                   and not self._conn.in_transaction)
        if relaxed:
            self._conn.execute("PRAGMA synchronous=NORMAL")
        try:
            with atomic(self._conn):
                repo.outbox_remove(self._conn, message.seq)
                self._retry_due_mono_s.pop(message.seq, None)
                if message.action == "StartTransaction" and message.local_tx_id is not None:
                    transaction_id = response.get("transactionId")
                    if isinstance(transaction_id, int):
                        repo.save_transaction_id(self._conn, message.local_tx_id,
                                                 transaction_id)
                elif message.action == "StopTransaction" and message.local_tx_id is not None:
                    if repo.outbox_pending_for(self._conn, message.local_tx_id) == 0:
                        repo.forget_transaction_id(self._conn, message.local_tx_id)
        finally:
            if relaxed:
                self._conn.execute("PRAGMA synchronous=FULL")
        if relaxed:
            self._relaxed_removals += 1
        else:
            self._relaxed_removals = 0
            self._durable_at_s = now_s
        self.delivered_total += 1
        self._removed(message.stored_bytes)

    def _settle(self) -> None:
        """A burst of relaxed removals is over: put them on disk now (one fsync)."""
        if self._relaxed_removals == 0:
            return
        with atomic(self._conn):
            repo.set_meta(self._conn, "outbox_settled_after", str(self.delivered_total))
        self._relaxed_removals = 0
        self._durable_at_s = self._monotonic()

    def failed(self, message: ReadyMessage, now: float, why: str) -> bool:
        """Record a failed transmission; True if the message was dropped for good."""
        policy = self._policy()
        transmissions = message.attempts + 1
        if transmissions >= policy.attempts:
            with atomic(self._conn):
                repo.add_counter(self._conn, FAILED_COUNTER)
                self._drop(message.seq, message.action, message.local_tx_id,
                           message.stored_bytes,
                           f"{transmissions} transmission(s) failed, last: {why}")
                if message.action == "StartTransaction" and message.local_tx_id is not None:
                    self._drop_transaction(message.local_tx_id,
                                           "its StartTransaction was dropped just now")
            return True
        wait_s = policy.interval_s * transmissions
        log.warning("%s (queue seq %d) failed (%s); transmission %d of %d in %.0f s",
                    message.action, message.seq, why, transmissions + 1, policy.attempts, wait_s)
        with atomic(self._conn):
            repo.add_counter(self._conn, FAILED_COUNTER)
            repo.outbox_record_attempt(self._conn, message.seq, now + wait_s)
        self._retry_due_mono_s[message.seq] = self._monotonic() + wait_s
        return False

    def _drop(self, seq: int, action: str, local_tx_id: int | None, stored_bytes: int,
              why: str) -> None:
        self._retry_due_mono_s.pop(seq, None)
        with atomic(self._conn):
            repo.outbox_remove(self._conn, seq)
            repo.add_counter(self._conn, DROPPED_COUNTER)
            if action == "StopTransaction" and local_tx_id is not None \
                    and repo.outbox_pending_for(self._conn, local_tx_id) == 0:
                repo.forget_transaction_id(self._conn, local_tx_id)
        self._removed(stored_bytes)
        log.error("DROPPED transaction message %s (queue seq %d, local tx %s): %s",
                  action, seq, local_tx_id, why)

    def _drop_transaction(self, local_tx_id: int, why: str) -> None:
        """Drop every queued message of a transaction the CSMS will never know."""
        self.account_appended()  # rows not yet counted must not be subtracted
        with atomic(self._conn):
            rows = repo.outbox_remove_for(self._conn, local_tx_id)
            if rows:
                repo.add_counter(self._conn, DROPPED_COUNTER, len(rows))
        for seq, action, stored_bytes in rows:
            self._retry_due_mono_s.pop(seq, None)
            self._removed(stored_bytes)
            log.error("DROPPED transaction message %s (queue seq %d, local tx %s): %s",
                      action, seq, local_tx_id, why)

    # ------------------------------------------------------------------ disk budget
    def set_budget(self, budget_bytes: int | None) -> None:
        """Change the alarm threshold (None = no budget); alarms at once if already over."""
        self.budget_bytes = budget_bytes
        self._check_budget()

    def account_appended(self) -> None:
        """Count rows appended since the last call (a primary-key range read)."""
        for seq, stored_bytes in repo.outbox_rows_after(self._conn, self._seen_seq):
            self._rows += 1
            self._bytes += stored_bytes
            self._seen_seq = seq
        self._check_budget()

    def _removed(self, stored_bytes: int) -> None:
        self._rows = max(0, self._rows - 1)
        self._bytes = max(0, self._bytes - stored_bytes)
        if self._over_budget:
            self._check_budget()

    def _check_budget(self) -> None:
        budget = self.budget_bytes
        over = budget is not None and self._bytes > budget
        now_s = self._monotonic()
        if over and (not self._over_budget or now_s - self._last_alarm_s >= BUDGET_REMINDER_S):
            self._last_alarm_s = now_s
            log.error("OUTBOX OVER BUDGET: %d transaction messages, about %d bytes, budget %d "
                      "bytes. Transaction messages are still stored and are never dropped for "
                      "space; non-transaction messages are not queued while offline.",
                      self._rows, self._bytes, budget)
        elif not over and self._over_budget:
            log.warning("outbox back under its budget: %d messages, about %d bytes",
                        self._rows, self._bytes)
        self._over_budget = over
