"""Console actions that the security event list names, reported over OCPP (issue #14
item 2; security-whitepaper.md §7): the audit trail's writer also tells the core.

- a login with a password → MaintenanceLoginAccepted (not the automatic one of
  ``login = "none"``), a failed login → MaintenanceLoginFailed (critical
  in 2.0.1, techInfo ``{"user": ..., "origin": ...}`` as [DM201] recommends; the origin
  is the console port);
- ``config set`` of a security key (AuthorizationKey, SecurityProfile, CpoName, ...) and
  ``factory-reset`` (which forgets AuthorizationKey) by a user whose role allows it →
  ReconfigurationOfSecurityParameters, naming the key, never the value;
- ``reboot`` / ``factory-reset`` restart through the core's Reset, which reports
  ResetOrReboot itself ("by the console").

Reported as ``ev.SecurityEventOccurred`` through ``dispatch`` (the runtime's), so the
event is in the security log and, when critical, queued durably like every other one.
A failure to report is logged and never breaks the console.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Callable

from firmware.core import events as ev

log = logging.getLogger(__name__)

SECURITY_KEYS = frozenset({"authorizationkey", "securityprofile", "cponame",
                           "additionalrootcertificatecheck", "certificatesignedmaxchainsize",
                           "certificatestoremaxlength"})


class ReportingAudit:
    """``AuditLog``'s interface (``record``, ``recent``) over ``audit``, reporting the
    entries above as security events."""

    def __init__(self, audit: Any, dispatch: Callable[[ev.Event], object]) -> None:
        self._audit = audit
        self._dispatch = dispatch

    def recent(self, count: int) -> Any:
        return self._audit.recent(count)

    def record(self, port: str, user: str, kind: str, detail: str = "") -> None:
        self._audit.record(port, user, kind, detail)
        event = security_event(port, user, kind, detail)
        if event is None:
            return
        try:
            self._dispatch(event)
        except Exception:  # the agent's crash policy handles a core bug; the console lives on
            log.exception("console: reporting %s failed", event.kind)


def security_event(port: str, user: str, kind: str, detail: str
                   ) -> ev.SecurityEventOccurred | None:
    who = json.dumps({"user": user, "origin": port})
    if kind == "login" and detail == "no-login":
        return None  # login = "none": nobody logged in, the port is open by configuration
    if kind == "login":
        return ev.SecurityEventOccurred("MaintenanceLoginAccepted", who)
    if kind == "login-failed":
        return ev.SecurityEventOccurred("MaintenanceLoginFailed", who)
    if kind != "command":
        return None
    words = detail.split()
    lowered = [w.lower() for w in words]
    if lowered[:2] == ["config", "set"] and len(words) >= 3 and lowered[2] in SECURITY_KEYS:
        return ev.SecurityEventOccurred("ReconfigurationOfSecurityParameters",
                                        f"console config set {words[2]} by {user} on {port}")
    if lowered[:1] == ["factory-reset"] and len(words) == 2:
        return ev.SecurityEventOccurred("ReconfigurationOfSecurityParameters",
                                        f"console factory-reset by {user} on {port}")
    return None
