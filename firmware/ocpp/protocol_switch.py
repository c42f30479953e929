"""A site switched between OCPP versions never replays a queued message in the wrong
one (issue 9 item 2).

Every outbox row names the version it was written in (schema version 5). At start,
before anything is sent, ``settle_protocol_switch`` looks for queued rows of another
version than the site's ``[ocpp] protocol``:

- none: nothing to do (the usual case, and a switch made with an empty queue);
- some, not forced: the agent refuses to start (``StartupError``, exit 1), naming how
  many and in which version, and the two ways out: start once more with the old
  protocol until the queue is empty, or ``borne run --force-protocol-switch``;
- some, forced: they are deleted in one commit and the loss is logged at ERROR with
  the count per version. They are never translated: a message the CSMS never got in
  its version is lost to it, which is what the log line tells the operator.
"""

from __future__ import annotations

import logging
import sqlite3

from firmware.errors import StartupError
from firmware.store import repositories as repo
from firmware.store.db import atomic

log = logging.getLogger(__name__)

FORCE_FLAG = "--force-protocol-switch"


def settle_protocol_switch(conn: sqlite3.Connection, protocol: str, *, force: bool) -> int:
    """Refuse, or with ``force`` discard, queued messages of another OCPP version than
    ``protocol``; returns how many were discarded. Raises ``StartupError``."""
    others = {name: count for name, count in repo.outbox_protocols(conn).items()
              if name != protocol}
    if not others:
        return 0
    described = ", ".join(f"{count} in {name}" for name, count in sorted(others.items()))
    total = sum(others.values())
    if not force:
        old = sorted(others)[0]
        raise StartupError(
            f"[ocpp] protocol is {protocol} but {total} transaction message(s) are still "
            f"queued for the CSMS in another OCPP version ({described}); they cannot be "
            f"sent in {protocol}. Either start once with protocol = \"{old}\" until the "
            f"queue is empty (console: queue), or discard them with "
            f"`borne run {FORCE_FLAG}`")
    with atomic(conn):
        discarded = repo.outbox_discard_other_than(conn, protocol)
    log.error("protocol switch to %s forced: DISCARDED %d queued transaction message(s) "
              "(%s); the CSMS will never receive them", protocol, discarded, described)
    return discarded
