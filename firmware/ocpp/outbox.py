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
- Removals are batched; delivery is at least once. A delivered message (its
  CALLRESULT arrived) is removed from the disk in one transaction with the others
  delivered since the last one: at the latest when ``DURABLE_EVERY`` are pending, when
  the oldest has waited ``DURABLE_AFTER_S``, when the queue runs dry or waits, and
  before anything else reads or changes the queue (``stats``, ``snapshot``, a failure,
  a drop) or the sender stops. Each such commit waits for the disk
  (synchronous=FULL). A crash (of the process or the power) before it brings back at
  most ``DURABLE_EVERY`` messages the CSMS already confirmed, all of them after every
  message it has not: they are sent again, identical, in order: a duplicate, never a
  loss and never a reordering. A StartTransaction's removal, which records the CSMS
  transactionId, and a StopTransaction's, which ends the transaction, are committed at
  once with the batch before them: losing the first would make the CSMS open the same
  transaction twice. Where the station chose the transactionIds (2.0.1), the adapter
  names a transaction's start and end (``bounds_transaction``) and their removals are
  committed at once too. Why: one transaction (and fsync) per delivered message was the
  cost of a replay (most of the agent's own time on loopback, far more on an SD card)
  and the SD card's wear.
- Queued rows are read ``READ_AHEAD`` at a time. Only this class changes or removes a
  queued row, and the runtime only appends after the last one, so the rows read stay
  true until one of our own changes (a failure, a drop), which reads them again. The
  CSMS transactionIds are kept in memory the same way (only this class writes them).
- One OCPP version per queue (issue 9 item 2): every row names the version it was
  written in, and an outbox only ever reads and sends the rows of its own
  ``protocol``; a site switched between versions is refused at start while the other
  version's rows are queued (``firmware.app``). The CSMS-assigned transactionId rules
  above are 1.6's (``csms_assigns_transaction_ids``); in 2.0.1 the station chose the
  transactionId and wrote it in every payload, so nothing is filled in or dropped for
  want of it.
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
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from firmware.store import repositories as repo
from firmware.store.db import atomic

from .mapping import with_transaction_id

log = logging.getLogger(__name__)

BUDGET_REMINDER_S = 600.0
DURABLE_EVERY = 32
DURABLE_AFTER_S = 0.25
READ_AHEAD = 64
# Removals that record something besides themselves: committed at once.
_RECORDING_ACTIONS = frozenset({"StartTransaction", "StopTransaction"})
FAILED_COUNTER = "outbox_failed_transmissions_total"
DROPPED_COUNTER = "outbox_dropped_total"


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int
    interval_s: float


def _never(action: str, payload: dict[str, Any]) -> bool:
    return False


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
                 monotonic: Callable[[], float] = time.monotonic, *,
                 protocol: str = "ocpp1.6", csms_assigns_transaction_ids: bool = True,
                 bounds_transaction: Callable[[str, dict[str, Any]], bool] = _never):
        """``bounds_transaction(action, payload)``: the adapter says a queued message is
        its transaction's start or end (``ProtocolAdapter.starts_transaction`` /
        ``ends_transaction``); where the station chose the transactionIds, its removal
        is committed at once with the batch before it."""
        self._conn = conn
        self._bounds_transaction = bounds_transaction
        self.protocol = protocol
        self._csms_ids = csms_assigns_transaction_ids
        self._policy = policy
        self._monotonic = monotonic
        self.budget_bytes = budget_bytes
        self.delivered_total = 0
        self._rows, self._bytes, self._seen_seq = repo.outbox_usage(conn)
        self._over_budget = False
        self._last_alarm_s = 0.0
        # Delivered, not yet removed on disk (oldest first), and since when.
        self._pending: list[ReadyMessage] = []
        self._pending_since_s = 0.0
        # Rows read ahead (seq order), after every delivered one; and the highest seq
        # delivered: every queued row at or below it is removed or pending removal.
        self._ahead: deque[repo.OutboxMessage] = deque()
        self._delivered_seq = 0
        self._transaction_ids: dict[int, int] = {}
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
        if self._pending and self._monotonic() - self._pending_since_s >= DURABLE_AFTER_S:
            self.flush()
        while True:
            message = self._first_row()
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
            if self._csms_ids and message.local_tx_id is not None \
                    and message.action != "StartTransaction":
                transaction_id = self._transaction_id(message.local_tx_id)
                if transaction_id is None:
                    self._drop_transaction(message.local_tx_id,
                                           "its StartTransaction was dropped, so the CSMS "
                                           "has no transactionId to file it under")
                    continue
                payload = with_transaction_id(message.action, payload, transaction_id)
            return ReadyMessage(message.seq, message.action, message.local_tx_id, payload,
                                message.attempts, message.created_at_s,
                                message.stored_bytes), 0.0

    def _first_row(self) -> repo.OutboxMessage | None:
        if not self._ahead:
            self._ahead.extend(repo.outbox_rows_from(self._conn, self._delivered_seq,
                                                     READ_AHEAD, self.protocol))
        return self._ahead[0] if self._ahead else None

    def _reread(self) -> None:
        """Our own change to the queue: the rows read ahead may be stale."""
        self._ahead.clear()

    def _transaction_id(self, local_tx_id: int) -> int | None:
        transaction_id = self._transaction_ids.get(local_tx_id)
        if transaction_id is None:
            transaction_id = repo.transaction_id_for(self._conn, local_tx_id)
            if transaction_id is not None:
                self._transaction_ids[local_tx_id] = transaction_id
        return transaction_id

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
        message = repo.outbox_head(self._conn, self.protocol)
        if message is None or message.attempts == 0:
            return None
        due_s = self._retry_due_mono_s.get(message.seq)
        if due_s is None:
            return None
        return max(0.0, due_s - self._monotonic())

    def stats(self) -> tuple[int, float | None, int]:
        """(depth, created_at_s of the oldest, attempts of the queued messages)."""
        self.flush()
        return repo.outbox_stats(self._conn)

    def queued_for(self, transaction_id: str | None = None) -> int:
        """Messages of this outbox's version not yet delivered (delivered ones pending
        removal are committed first): all, or those of a 2.0.1 ``transaction_id``."""
        self.flush()
        return repo.outbox_count_of(self._conn, self.protocol, transaction_id)

    def snapshot(self) -> OutboxSnapshot:
        self.flush()
        depth, oldest, _ = repo.outbox_stats(self._conn)
        head = repo.outbox_head(self._conn, self.protocol)
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
        """The CSMS answered ``message``, the head ``head`` returned, with a CALLRESULT.

        Its removal joins the pending batch (module docstring); a StartTransaction's or
        StopTransaction's commits the batch at once, with what it records."""
        if self._ahead and self._ahead[0].seq == message.seq:
            self._ahead.popleft()
        else:
            self._reread()
        self._delivered_seq = max(self._delivered_seq, message.seq)
        self._retry_due_mono_s.pop(message.seq, None)
        if not self._pending:
            self._pending_since_s = self._monotonic()
        self._pending.append(message)
        self.delivered_total += 1
        self._removed(message.stored_bytes)
        if self._csms_ids and message.action in _RECORDING_ACTIONS \
                and message.local_tx_id is not None:
            self._commit_pending(message.local_tx_id, message.action, response)
        elif not self._csms_ids and self._bounds_transaction(message.action, message.payload):
            # 2.0.1: nothing of a transaction may reach the CSMS after its confirmed
            # end, and its start only once; a crash before a batched commit would
            # replay them (found by the 2.0.1 chaos run), so their removal and the
            # batch before them commit now.
            self.flush()
        elif len(self._pending) >= DURABLE_EVERY \
                or self._monotonic() - self._pending_since_s >= DURABLE_AFTER_S:
            self.flush()

    def flush(self) -> None:
        """Remove on disk every delivered message still pending (one durable commit)."""
        if self._pending:
            self._commit_pending(None, "", {})

    def _commit_pending(self, local_tx_id: int | None, action: str,
                        response: dict[str, Any]) -> None:
        transaction_id = response.get("transactionId") if action == "StartTransaction" else None
        with atomic(self._conn):
            repo.outbox_remove_seqs(self._conn, [m.seq for m in self._pending])
            if local_tx_id is None:
                pass
            elif isinstance(transaction_id, int):
                repo.save_transaction_id(self._conn, local_tx_id, transaction_id)
            elif action == "StopTransaction":
                if repo.outbox_pending_for(self._conn, local_tx_id) == 0:
                    self._forget_transaction_id(local_tx_id)
        # Only once committed: a failed commit leaves them pending (sent again at worst).
        self._pending = []
        if local_tx_id is not None and isinstance(transaction_id, int):
            self._transaction_ids[local_tx_id] = transaction_id

    def _forget_transaction_id(self, local_tx_id: int) -> None:
        repo.forget_transaction_id(self._conn, local_tx_id)
        self._transaction_ids.pop(local_tx_id, None)

    def _settle(self) -> None:
        """Nothing to send now: commit the pending removals."""
        self.flush()

    def failed(self, message: ReadyMessage, now: float, why: str) -> bool:
        """Record a failed transmission; True if the message was dropped for good."""
        self.flush()
        self._reread()
        policy = self._policy()
        transmissions = message.attempts + 1
        if transmissions >= policy.attempts:
            with atomic(self._conn):
                repo.add_counter(self._conn, FAILED_COUNTER)
                self._drop(message.seq, message.action, message.local_tx_id,
                           message.stored_bytes,
                           f"{transmissions} transmission(s) failed, last: {why}")
                if self._csms_ids and message.action == "StartTransaction" \
                        and message.local_tx_id is not None:
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
        self.flush()
        self._reread()
        with atomic(self._conn):
            repo.outbox_remove(self._conn, seq)
            repo.add_counter(self._conn, DROPPED_COUNTER)
            if self._csms_ids and action == "StopTransaction" and local_tx_id is not None \
                    and repo.outbox_pending_for(self._conn, local_tx_id) == 0:
                self._forget_transaction_id(local_tx_id)
        self._removed(stored_bytes)
        log.error("DROPPED transaction message %s (queue seq %d, local tx %s): %s",
                  action, seq, local_tx_id, why)

    def _drop_transaction(self, local_tx_id: int, why: str) -> None:
        """Drop every queued message of a transaction the CSMS will never know."""
        self.account_appended()  # rows not yet counted must not be subtracted
        self.flush()
        self._reread()
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
