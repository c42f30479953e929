"""The OCPP versions the development CSMS speaks, by websocket subprotocol.

A `Dialect` bundles what a station session needs to know about its version: the frame checks
(`OcppVersion`), the default answers (`handlers16`/`handlers201`/`handlers21`), the CALLERRORs it
decides itself (2.0.1 and 2.1: the library gets those wrong, see `devcsms.v201`, `devcsms.v21`), and the
package whose `call.*` dataclasses `csms.call` accepts.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import dataclass

from devcsms import v21
from devcsms.handlers16 import Ocpp16Handlers
from devcsms.handlers21 import Ocpp21Handlers
from devcsms.handlers201 import Ocpp2Answers, Ocpp201Handlers
from devcsms.v201 import OCPP201, Refusal, refusal
from devcsms.validation import OCPP16, OcppVersion


@dataclass(frozen=True)
class Dialect:
    """One OCPP version as a session speaks it.

    `refusal(raw, handled_actions)` (None for 1.6, where the library answers) returns the CALLERROR a
    frame must get before any handler sees it. `refuses_while_rejected`: after a Rejected boot, every other
    request gets CALLERROR SecurityError (OCPP 2.0.1 B03.FR.04 as corrected by the ed.3 errata 2.2; 2.1 alike).
    """

    version: OcppVersion
    handlers: type[Ocpp16Handlers] | type[Ocpp2Answers]
    refusal: Callable[[str, Container[str]], Refusal | None] | None
    refuses_while_rejected: bool
    calls_package: str

    @property
    def subprotocol(self) -> str:
        return self.version.subprotocol


OCPP16_DIALECT = Dialect(OCPP16, Ocpp16Handlers, None, False, "ocpp.v16")
OCPP201_DIALECT = Dialect(OCPP201, Ocpp201Handlers, refusal, True, "ocpp.v201")
OCPP21_DIALECT = Dialect(v21.OCPP21, Ocpp21Handlers, v21.refusal, True, "ocpp.v21")

DIALECTS = {dialect.subprotocol: dialect for dialect in (OCPP16_DIALECT, OCPP201_DIALECT, OCPP21_DIALECT)}
SUBPROTOCOLS = tuple(DIALECTS)


def dialect_for(subprotocol: str | None) -> Dialect:
    """The dialect of a negotiated subprotocol; 1.6 when there is none (a client that offered nothing)."""
    return DIALECTS.get(subprotocol or "", OCPP16_DIALECT)
