"""Wiring of the console into the agent: the session, event lines, log tail, audit.

- ``LogRing``: a logging handler keeping the last ``capacity`` formatted records, for
  ``log tail [N] [LEVEL]`` (what a technician reads instead of journalctl).
- ``EventFeed``: every ``interval_s`` compares what the console already gets (the
  runtime's recent authorization decisions, each connector's status, fault and
  transaction) with what it last saw, and prints the differences above the prompt
  (card refused, fault, transaction started/stopped). Polling keeps the core
  untouched; an event is shown at most ``interval_s`` late.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from firmware.logs import mask_id_tag

from .accounts import load_accounts
from .audit import AuditLog
from .console import Console, ConsoleError, need_args, parse_int, stamp
from .session import ConsoleSession
from .transport import ConsoleTransport, open_console

log = logging.getLogger(__name__)
REOPEN_EVERY_S = 2.0

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class LogRing(logging.Handler):
    def __init__(self, capacity: int = 1000) -> None:
        super().__init__(logging.DEBUG)
        # (level, UTC epoch s of the record, formatted line)
        self.records: deque[tuple[int, float, str]] = deque(maxlen=capacity)
        self.total = 0  # records ever appended: ``since`` counts from it
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.records.append((record.levelno, record.created, self.format(record)))
            self.total += 1
        except Exception:
            self.handleError(record)

    def since(self, seen: int, level: str = "DEBUG") -> tuple[int, list[str]]:
        """Lines appended after the ``seen``-th record (those still kept), and the new
        count to pass next time."""
        floor = logging.getLevelName(level)
        fresh = min(self.total - seen, len(self.records))
        chosen = list(self.records)[len(self.records) - fresh:] if fresh > 0 else []
        return self.total, [text for levelno, _, text in chosen if levelno >= floor]

    def tail(self, count: int, level: str = "DEBUG") -> list[str]:
        floor = logging.getLevelName(level)
        chosen = [text for levelno, _, text in self.records if levelno >= floor]
        return chosen[-count:] if count else []

    def between(self, oldest_s: float | None, latest_s: float | None,
                count: int) -> list[str]:
        """The last ``count`` lines logged in [oldest_s, latest_s] (UTC epoch s; None =
        unbounded), every level: GetLog's / GetDiagnostics' time filter."""
        chosen = [text for _, at_s, text in self.records
                  if (oldest_s is None or at_s >= oldest_s)
                  and (latest_s is None or at_s <= latest_s)]
        return chosen[-count:] if count else []


class EventFeed:
    def __init__(self, agent: Any, session: ConsoleSession, interval_s: float = 0.5) -> None:
        self.agent = agent
        self.session = session
        self.interval_s = interval_s
        self._last_decision = agent.runtime.decisions[-1] if agent.runtime.decisions else None
        self._seen = self._connectors()
        messages = getattr(agent.runtime, "payment_messages", ())
        self._payment_seq = messages[-1][0] if messages else 0

    def _connectors(self) -> dict[int, tuple[str, str | None, int | None]]:
        out = {}
        for c in self.agent.station.connectors.values():
            fault = c.error()
            out[c.connector_id] = (c.status(), fault.error_code if fault else None,
                                   c.tx.local_tx_id if c.tx is not None else None)
        return out

    def changes(self) -> list[str]:
        lines = []
        decisions = list(self.agent.runtime.decisions)
        new = decisions[decisions.index(self._last_decision) + 1:] \
            if self._last_decision in decisions else decisions
        for d in new:
            lines.append(f"* card {mask_id_tag(d.id_tag)} "
                         f"{'accepted' if d.accepted else 'REFUSED'} on connector "
                         f"{d.connector_id or '-'}: {d.why}")
        if decisions:
            self._last_decision = decisions[-1]
        for seq, cid, text in list(getattr(self.agent.runtime, "payment_messages", ())):
            if seq > self._payment_seq:
                lines.append(f"* payment{f' connector {cid}' if cid else ''}: {text}")
                self._payment_seq = seq
        now = self._connectors()
        for cid, (status, fault, tx) in now.items():
            old = self._seen.get(cid, (status, fault, tx))
            if fault != old[1]:
                lines.append(f"* connector {cid}: fault {fault}" if fault
                             else f"* connector {cid}: fault cleared")
            if tx != old[2]:
                if old[2] is not None:
                    lines.append(f"* connector {cid}: transaction (local {old[2]}) stopped")
                if tx is not None:
                    lines.append(f"* connector {cid}: transaction (local {tx}) started")
            elif status != old[0]:
                lines.append(f"* connector {cid}: {status}")
        self._seen = now
        return lines

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            lines = self.changes()
            if lines:
                self.session.notify(lines)


def install_session_commands(console: Console, audit: AuditLog, ring: LogRing) -> None:
    async def audit_(args: list[str]) -> list[str]:
        need_args(args, 0, 1, "audit [N]")
        count = parse_int(args[0], "N", 1) if args else 20
        return [f"{stamp(e.at_s)} {e.port} {e.user} {e.kind} {e.detail}".rstrip()
                for e in audit.recent(min(count, 10_000))]

    async def log_tail(args: list[str]) -> list[str]:
        need_args(args, 0, 2, "log tail [N] [LEVEL]")
        count, level = 20, "DEBUG"
        for arg in args:
            if arg.upper() in LEVELS:
                level = arg.upper()
            else:
                count = parse_int(arg, "N", 1)
        lines = ring.tail(min(count, 1000), level)
        if not lines:
            raise ConsoleError(f"no log lines at {level} or above yet")
        return lines

    console.register("audit [N]", "the last N logins, failed logins and commands (default 20)",
                     audit_, role="technician")
    async def log_follow(args: list[str]) -> list[str]:
        raise ConsoleError("log follow streams on a terminal session only")

    console.register("log follow [LEVEL]", "print new log lines as they come until Ctrl-C",
                     log_follow)
    console.register("log tail [N] [LEVEL]", "the last N log lines (default 20) at LEVEL or "
                     "above", log_tail)


_RING: LogRing | None = None


def log_ring() -> LogRing:
    """The process's one ring of recent log lines (installed on the root logger once)."""
    global _RING
    if _RING is None:
        _RING = LogRing()
        logging.getLogger().addHandler(_RING)
    return _RING


def install_console(agent: Any) -> None:
    """At build: the audit, log and session commands on ``agent.console``."""
    from .tech_commands import install_tech_commands

    from .security_commands import install_security_commands

    install_session_commands(agent.console, AuditLog(agent.conn), log_ring())
    install_tech_commands(agent.console, agent, log_ring(), agent.bundle)
    install_security_commands(agent.console, agent.conn)


async def serve_console(agent: Any, transport: ConsoleTransport,
                        reopen_every_s: float = REOPEN_EVERY_S) -> None:
    """Run the console and its event lines until the port's input ends; a serial device
    that vanishes (USB adapter pulled) is reopened once it is back."""
    settings = agent.site.console
    while True:
        # Logins and security changes are also security events over OCPP (issue #14).
        from .security_audit import ReportingAudit

        audit = ReportingAudit(AuditLog(agent.conn), agent.runtime.dispatch)
        session = console_session(agent, transport, audit)  # type: ignore[arg-type]
        feed = EventFeed(agent, session)
        async with asyncio.TaskGroup() as tasks:
            events = tasks.create_task(feed.run())
            try:
                await session.run()
            finally:
                events.cancel()
        if not transport.is_device:
            return
        log.warning("console %s gone; reopening it when it comes back", transport.description)
        while True:
            await asyncio.sleep(reopen_every_s)
            try:
                reopened = open_console(settings["device"], settings["baudrate"])
            except OSError:
                continue
            if reopened is not None:
                transport = reopened
                log.info("console %s is back", transport.description)
                break


def console_session(agent: Any, transport: ConsoleTransport, audit: AuditLog) -> ConsoleSession:
    settings = agent.site.console
    return ConsoleSession(agent.console, transport, station_id=agent.site.station["id"],
                          accounts=load_accounts(settings["accounts"]), audit=audit,
                          login=settings["login"], idle_logout_s=settings["idle_logout_s"],
                          page_lines=settings["page_lines"], log_ring=log_ring())
