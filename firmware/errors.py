"""Borne's error tree: one root, one branch per layer.

::

    BorneError                   root (defined in hal.errors: hal cannot import firmware)
    ├── HalError                 hardware layer (hal.errors)
    │   └── DriverError          drivers (drivers.errors)
    ├── CoreError                the sans-I/O core (firmware.core)
    ├── OcppError                the OCPP wire layer (firmware.ocpp: CALLERRORs, link loss)
    ├── AuthError                local list and authorization cache (firmware.auth)
    ├── StoreError               the database: cannot open, migrate, or newer than us
    ├── ConfigError              site and board configuration (every problem listed)
    ├── ConsoleError             a technician command that cannot be done
    ├── SecurityError            certificates and keys (firmware.security)
    ├── AgentError               the running agent (firmware.runtime, app, readers)
    │   ├── StartupError         cannot start: a device, the state directory
    │   └── AgentBug             an unexpected exception in our own code (crash policy)
    └── DevCsmsError             the development CSMS (devcsms.errors)

Every exception class the project defines is in this tree (``tests/test_error_tree.py``
walks the packages). Where code outside a layer relied on a builtin (``except
ValueError``), the class keeps it as a second base.

Crash policy (``firmware.runtime``): an error of ours is handled where it happens (a CALL
that is not valid gets its CALLERROR, a device that fails is a fault event). Anything
else, an exception the code did not expect, is a bug: it is logged with the event that
caused it, the agent stops with exit status 70, systemd restarts it, and it recovers
from the database as after a power loss (every event's writes are one transaction, so
the database never holds half of one). Memory that a swallowed exception left
disagreeing with the database is never used again.
"""

from __future__ import annotations

from dataclasses import dataclass

from hal.errors import BorneError

# The exit status of ``borne run`` after a bug (EX_SOFTWARE): systemd's
# Restart=on-failure starts the agent again.
EXIT_BUG = 70

__all__ = ["EXIT_BUG", "AgentBug", "AgentError", "AuthError", "BorneError", "ConfigError",
           "ConfigProblem", "ConsoleError", "CoreError", "FirmwareUpdateError", "OcppError",
           "SecurityError", "StartupError", "StoreError"]


class CoreError(BorneError):
    """The core refuses an input it was given (e.g. a card that cannot be an idTag)."""


class OcppError(BorneError):
    """The OCPP wire layer: a CALL to answer with a CALLERROR, a CALL of ours that failed."""


class AuthError(BorneError):
    """The local authorization list or cache refuses an update."""


class SecurityError(BorneError):
    """A certificate or key that cannot be used (not PEM, not valid, not ours)."""


class StoreError(BorneError):
    """The database cannot be opened, migrated or written (the agent cannot start)."""


@dataclass(frozen=True)
class ConfigProblem:
    file: str
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.message}"


class ConfigError(BorneError):
    """A configuration cannot be used; ``problems`` lists every problem found."""

    def __init__(self, problems: list[ConfigProblem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


class ConsoleError(BorneError):
    """Raise in a console command to answer ``ERROR: <message>``."""


class FirmwareUpdateError(BorneError):
    """A firmware update step failed (download, signature, installer): reported to the
    CSMS as the step's failure status, never a crash (``firmware.update``)."""


class AgentError(BorneError):
    """The running agent (runtime, composition, readers)."""


class StartupError(AgentError):
    """The agent cannot start (a device will not open, the database is unusable)."""


class AgentBug(AgentError):
    """An unexpected exception in Borne's own code, with what it was handling.

    Never caught to carry on: the runtime stops the agent (exit 70) and systemd restarts
    it. The original exception is the ``__cause__``.
    """
