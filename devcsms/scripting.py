"""Scripted answers to charge-point requests, for tests that need the CSMS to misbehave.

A responder says how the CSMS answers the next (or every) CALL of one action:

    csms.script("StartTransaction", CallError("InternalError", "database down"))     # once
    csms.script("Heartbeat", NoAnswer(), always=True)                                # every time
    csms.script("StopTransaction", Delay(5.0, then=Reply({"idTagInfo": {"status": "Accepted"}})))
    csms.script("Authorize", Reply({"idTagInfo": {"status": "Bogus"}}))              # schema-invalid on purpose

`Reply` payloads are sent exactly as given, without schema validation (the point is to be able to send
what a broken CSMS sends). Scripts are consulted before the default behaviour: once-scripts first, in the
order they were added, then the always-script of that action, then the built-in handler.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass
from typing import Any, Union

from ocpp.charge_point import remove_nones, serialize_as_dict, snake_to_camel_case


@dataclass(frozen=True)
class Reply:
    """Answer with a CALLRESULT carrying `payload`: a camelCase dict sent verbatim, or a
    `ocpp.v16.call_result.*` dataclass serialised the way the library does (None fields dropped)."""

    payload: Any

    def payload_dict(self) -> Any:
        """The JSON payload to send (the dict itself, or the serialised dataclass)."""
        if dataclasses.is_dataclass(self.payload) and not isinstance(self.payload, type):
            return snake_to_camel_case(remove_nones(serialize_as_dict(self.payload)))
        return self.payload


@dataclass(frozen=True)
class CallError:
    """Answer with a CALLERROR. `code` is sent as given (use the 1.6 codes, e.g. "InternalError",
    "NotSupported", "FormationViolation", or anything else to test a charge point's robustness)."""

    code: str
    description: str = ""
    details: dict | None = None


@dataclass(frozen=True)
class NoAnswer:
    """Never answer the CALL (the charge point must time out on its own)."""


@dataclass(frozen=True)
class Delay:
    """Wait `delay_s` seconds, then answer with `then` (None: the built-in default answer).

    Later CALLs from the same station queue behind the delayed one, as they would at a slow CSMS;
    frames answering CSMS calls are still received meanwhile."""

    delay_s: float
    then: "Responder | None" = None


@dataclass(frozen=True)
class Disconnect:
    """Close the websocket with `code` instead of answering (the CALL stays unanswered)."""

    code: int = 1000
    reason: str = ""


Responder = Union[Reply, CallError, NoAnswer, Delay, Disconnect]


class ScriptBook:
    """Responders per action, optionally per station, consumed as CALLs arrive."""

    def __init__(self) -> None:
        self._once: dict[tuple[str, str | None], deque[Responder]] = {}
        self._always: dict[tuple[str, str | None], Responder] = {}

    def add(self, action: str, responder: Responder, *, always: bool = False, station: str | None = None) -> None:
        """Queue `responder` for the next CALL of `action` (or every CALL when `always`).

        `station=None` applies to every station; a station-specific script is preferred over a general one.
        Raises TypeError for something that is not a responder, so test typos fail loudly.
        """
        if not isinstance(responder, (Reply, CallError, NoAnswer, Delay, Disconnect)):
            raise TypeError(f"not a responder: {responder!r}")
        key = (action, station)
        if always:
            self._always[key] = responder
        else:
            self._once.setdefault(key, deque()).append(responder)

    def clear(self, action: str | None = None) -> None:
        """Forget every script (of `action` only, when given)."""
        for table in (self._once, self._always):
            for key in [k for k in table if action is None or k[0] == action]:
                del table[key]

    def take(self, action: str, station: str) -> Responder | None:
        """The responder for this CALL, consuming a once-script; None means: default behaviour."""
        for key in ((action, station), (action, None)):
            queue = self._once.get(key)
            if queue:
                return queue.popleft()
        for key in ((action, station), (action, None)):
            if key in self._always:
                return self._always[key]
        return None
