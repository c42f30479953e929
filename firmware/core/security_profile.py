"""Security profile and Basic-auth password changes (security-whitepaper.md §2, §5).

Sans-I/O rules the core applies to ChangeConfiguration (1.6) and SetVariables
SecurityCtrlr.SecurityProfile / BasicAuthPassword (2.0.1, which reach the core as the
same key change):

- SecurityProfile "can only be increased" ([SEC3] §7.6): a value lower or equal to the
  current one is Rejected and nothing changes (A05.FR.01; 2.0.1's optional
  AllowSecurityProfileDowngrade is not offered, so 3 → 2 is refused there too).
- Prerequisites (A05.FR.02-.04): profile 1 or 2 needs an AuthorizationKey, 2 or 3 an
  installed CSMS root certificate, 3 a client certificate. What is installed is a fact
  the core is given (``SecurityPrerequisites``, read through the check port the station
  was built with); the store lives outside the core.
- AuthorizationKey: at least 16 characters (A00.FR.205 minimum; the 1.6 adapter also
  requires 32-40 hex digits, which is a 1.6 wire rule).
- Accepted: the conf goes first, then the link reconnects with the new settings
  (A05.FR.05-.07; a new AuthorizationKey is used on the next connection, A01), and the
  change is a ReconfigurationOfSecurityParameters security event whose techInfo never
  holds the key (A01.FR.11/.12).
- A new profile that cannot connect (``SecurityProfileConnectFailed`` from the link) is
  undone: the previous profile is stored again and reported (A05.FR.08).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import effects as fx
from . import events as ev
from . import security_events
from .configuration import Configuration

AUTHORIZATION_KEY_MIN_CHARS = 16


@dataclass(frozen=True)
class SecurityPrerequisites:
    """What the certificate store holds, as far as profile changes care."""

    csms_root_installed: bool = False
    client_certificate_installed: bool = False


PrerequisitesCheck = Callable[[], SecurityPrerequisites]
SECURITY_KEYS = ("SecurityProfile", "AuthorizationKey")


def none_installed() -> SecurityPrerequisites:
    return SecurityPrerequisites()


def change_problem(key: str, value: str, config: Configuration,
                   prerequisites: PrerequisitesCheck) -> str | None:
    """Why a change of a security key must be Rejected, or None (other keys: None)."""
    if key == "AuthorizationKey":
        if len(value) < AUTHORIZATION_KEY_MIN_CHARS:
            return f"AuthorizationKey shorter than {AUTHORIZATION_KEY_MIN_CHARS} characters"
        return None
    if key != "SecurityProfile":
        return None
    text = value.strip()
    if not text.isdigit() or len(text) > 2:
        return None  # the key's own range check refuses it
    new, current = int(text), config.get_int("SecurityProfile")
    if new <= current:
        return f"SecurityProfile {new} is not above {current} (A05.FR.01)"
    facts = prerequisites()
    if new in (1, 2) and not config.get("AuthorizationKey"):
        return "no AuthorizationKey set (A05.FR.02)"
    if new in (2, 3) and not facts.csms_root_installed:
        return "no CSMS root certificate installed (A05.FR.03)"
    if new == 3 and not facts.client_certificate_installed:
        return "no client certificate installed (A05.FR.04)"
    return None


def changed(key: str, previous: str, config: Configuration, now: float) -> list[fx.Effect]:
    """The effects after an accepted change of ``key`` (after its PersistConfiguration)."""
    if key == "SecurityProfile":
        fallback = int(previous)
        info = f"SecurityProfile {fallback} -> {config.get('SecurityProfile')}"
        reconnect = fx.ReconnectLink(fallback_profile=fallback)
    else:
        info, reconnect = f"{key} changed", fx.ReconnectLink()
    return [reconnect, *security_events.report(
        ev.SecurityEventOccurred("ReconfigurationOfSecurityParameters", info), now)]


def connect_failed(event: ev.SecurityProfileConnectFailed, config: Configuration,
                   now: float) -> list[fx.Effect]:
    """The link could not connect with ``event.profile``: back to the previous one
    (A05.FR.08), unless the profile was changed again meanwhile."""
    if config.get_int("SecurityProfile") != event.profile:
        return []
    config.change("SecurityProfile", str(event.fallback_profile))
    info = (f"SecurityProfile {event.profile} could not connect ({event.why[:120]}); "
            f"back to {event.fallback_profile}")
    return [fx.PersistConfiguration("SecurityProfile", config.get("SecurityProfile")),
            *security_events.report(
                ev.SecurityEventOccurred("ReconfigurationOfSecurityParameters", info), now)]
