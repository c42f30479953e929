"""A site switched between OCPP versions never replays a queued message in the wrong
one (issue 9 item 2); a site that lists both follows the CSMS's pick (item 4,
``ProtocolNegotiation``).

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

import json
import logging
import sqlite3
from typing import Callable

from firmware.errors import StartupError
from firmware.store import repositories as repo
from firmware.store.db import atomic

log = logging.getLogger(__name__)

FORCE_FLAG = "--force-protocol-switch"


SECURITY_EVENT = "SecurityEventNotification"


def carry_security_events(conn: sqlite3.Connection, protocol: str) -> int:
    """Rewrite queued SecurityEventNotifications of another version into ``protocol``:
    the payload {type, timestamp, techInfo} is the same in 1.6 (whitepaper) and 2.0.1
    but for four type names (``mapping.SECURITY_EVENT_NAMES_16``). So a queued critical
    event (a start-up's, always) never blocks a version switch and is never lost by one.
    Returns how many rows were rewritten."""
    from firmware.ocpp.mapping import SECURITY_EVENT_NAMES_16

    names = (SECURITY_EVENT_NAMES_16 if protocol == "ocpp1.6"
             else {v: k for k, v in SECURITY_EVENT_NAMES_16.items()})
    rows = conn.execute("SELECT seq, payload FROM outbox WHERE action = ? AND protocol != ?",
                        (SECURITY_EVENT, protocol)).fetchall()
    with atomic(conn):
        for seq, text in rows:
            payload = json.loads(text)
            payload["type"] = names.get(payload.get("type"), payload.get("type"))
            conn.execute("UPDATE outbox SET protocol = ?, payload = ? WHERE seq = ?",
                         (protocol, json.dumps(payload), seq))
    return len(rows)


def blocking_queue_depth(conn: sqlite3.Connection) -> int:
    """Queued messages that pin the version spoken: all but security events, which
    ``carry_security_events`` rewrites at the switch."""
    return int(conn.execute("SELECT COUNT(*) FROM outbox WHERE action != ?",
                            (SECURITY_EVENT,)).fetchone()[0])


def settle_protocol_switch(conn: sqlite3.Connection, protocol: str, *, force: bool) -> int:
    """Refuse, or with ``force`` discard, queued messages of another OCPP version than
    ``protocol`` (security events are carried over, ``carry_security_events``); returns
    how many were discarded. Raises ``StartupError``."""
    carry_security_events(conn, protocol)
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


NEGOTIATED_KEY = "ocpp_negotiated"  # meta: the version the CSMS last picked


def choose_protocol(conn: sqlite3.Connection, preferences: tuple[str, ...]) -> str:
    """The version to speak from the start, of the site's ``preferences`` (issue 9 item
    4): the one queued messages are written in (they are only ever sent in it), else the
    one the CSMS picked last time, else the first preference."""
    queued = {str(row[0]): int(row[1]) for row in conn.execute(
        "SELECT protocol, COUNT(*) FROM outbox WHERE action != ? GROUP BY protocol",
        (SECURITY_EVENT,))}  # security events follow the version (carry_security_events)
    for name in preferences:
        if queued.get(name):
            return name
    negotiated = repo.get_meta(conn, NEGOTIATED_KEY)
    if negotiated in preferences:
        return str(negotiated)
    return preferences[0]


class ProtocolNegotiation:
    """Offer the site's versions in preference order and follow the CSMS's pick.

    The agent speaks one version per process (its adapter, outbox rows and 2.0.1
    transaction state belong to it). ``offered()`` is every preference while a switch is
    safe — nothing queued, no transaction running (``can_switch``) — and only the version
    spoken otherwise, so a transaction always ends in the version it started in. When the
    CSMS picks another offered version, ``switch_to`` records it and calls ``restart``:
    the agent restarts speaking it (``choose_protocol``)."""

    def __init__(self, conn: sqlite3.Connection, preferences: tuple[str, ...], speaking: str,
                 can_switch: Callable[[], bool], restart: Callable[[], None]) -> None:
        self._conn = conn
        self.preferences = preferences
        self.speaking = speaking
        self._can_switch = can_switch
        self._restart = restart
        self.switching_to: str | None = None

    def offered(self) -> list[str]:
        if self.switching_to is None and self._can_switch():
            return list(self.preferences)
        return [self.speaking]

    def switch_to(self, picked: str | None) -> bool:
        """True when the agent restarts to speak ``picked``; False when it cannot (not a
        preference, or messages queued / a transaction running since the offer)."""
        if picked not in self.preferences or picked == self.speaking:
            return False
        if self.switching_to is None:
            if not self._can_switch():
                return False
            with atomic(self._conn):
                repo.set_meta(self._conn, NEGOTIATED_KEY, picked)
            self.switching_to = picked
            log.warning("the CSMS picked %s (offered %s): restarting to speak it",
                        picked, ", ".join(self.preferences))
            self._restart()
        return True
