"""The record of every OCPP-J frame the development CSMS exchanged, checked as it is written.

`Recorder.record()` is called synchronously for each frame, in the order frames cross the websocket:
inbound frames before they are routed, outbound frames just before they are sent. It parses the frame,
links replies to the CALL they answer (so a CALLRESULT knows its action), checks every frame a charge
point sent (OCPP-J framing, the official schemas of the station's OCPP version with `date-time`
enforced, ordering rules of `conformance`) and appends each problem to `violations`. Waiters (`wait_for_frame`) are woken on every
append; nobody polls.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Literal

from devcsms.conformance import FrameRule, rules_for
from devcsms.errors import DevCsmsError
from devcsms.validation import (
    CALL,
    CALLERROR,
    CALLRESULT,
    MESSAGE_TYPE_NAMES,
    SEND,
    OCPP16,
    OcppVersion,
    ParsedFrame,
    parse_frame,
    payload_problems,
)

Direction = Literal["from_cp", "to_cp"]
FROM_CP: Direction = "from_cp"
TO_CP: Direction = "to_cp"

ARROWS = {FROM_CP: "→", TO_CP: "←"}


@dataclass(frozen=True, repr=False)
class Frame:
    """One recorded websocket message.

    `seq` is the index in the record (see `Recorder.mark`). `monotonic_s` is `time.monotonic()` when it was
    recorded; `wall_time` the UTC time for humans. For a CALLRESULT or CALLERROR, `action` is the action of
    the CALL it answers and `request_seq` that CALL's `seq` (None when the unique id matches no CALL).
    `payload` is the JSON payload (plain floats) or, for a CALLERROR, its errorDetails. `violations` lists
    what is wrong with a frame the charge point sent (always empty for frames the CSMS sent). `protocol`
    is the websocket subprotocol of the connection it crossed ("ocpp1.6", "ocpp2.0.1" or "ocpp2.1").
    """

    seq: int
    monotonic_s: float
    wall_time: datetime
    direction: Direction
    station: str
    raw: str
    message_type: int | None
    unique_id: str | None
    action: str | None
    payload: Any
    error_code: str | None = None
    error_description: str | None = None
    request_seq: int | None = None
    violations: tuple[str, ...] = field(default=())
    protocol: str = OCPP16.subprotocol

    def __repr__(self) -> str:
        flagged = f" violations={list(self.violations)}" if self.violations else ""
        return (
            f"<Frame #{self.seq} {self.station} {ARROWS[self.direction]} {self.action or '?'} {self.type_name} "
            f"[{self.unique_id}] {self.payload!r}{flagged}>"
        )

    @property
    def type_name(self) -> str:
        """"CALL", "CALLRESULT", "CALLERROR" or "malformed"."""
        return MESSAGE_TYPE_NAMES.get(self.message_type, "malformed")


class WaitTimeout(DevCsmsError, TimeoutError):
    """A `wait_*` helper gave up; the message says what was awaited and what was recorded meanwhile."""


class Recorder:
    """Append-only record of frames plus the violations found in charge-point frames.

    `on_frame` (optional) is called with each new frame after it is recorded, e.g. to print it; it must
    not raise. `check_boot_sequence` enables the boot ordering rules of `conformance` (OCPP 1.6 §4.2,
    2.0.1 B01-B03); the 2.0.1 seqNo rule is always on.
    """

    def __init__(
        self,
        on_frame: Callable[[Frame], None] | None = None,
        *,
        check_boot_sequence: bool = True,
    ) -> None:
        self.frames: list[Frame] = []
        self.violations: list[str] = []
        self._on_frame = on_frame
        self._check_boot_sequence = check_boot_sequence
        self._rules_by_protocol: dict[str, list[FrameRule]] = {}
        # (station, direction of the CALL, unique id) -> the CALL frame, to give replies their action.
        self._open_calls: dict[tuple[str, Direction, str], Frame] = {}
        self._changed = asyncio.Event()

    def mark(self) -> int:
        """The `seq` the next frame will get; pass it as `after=` to only see frames recorded from now on."""
        return len(self.frames)

    def add_violation(self, station: str, text: str) -> None:
        """Record a problem found outside a frame check (e.g. a CALL the library refused)."""
        self.violations.append(f"{station}: {text}")
        self._notify()

    def record(self, direction: Direction, station: str, raw: str | bytes, version: OcppVersion = OCPP16) -> Frame:
        """Parse, link, check (as `version`) and append one frame; return it. Never raises on bad frames."""
        problems: list[str] = []  # only frames from a charge point are judged
        if isinstance(raw, bytes):
            if direction == FROM_CP:
                problems.append("binary websocket frame (OCPP-J uses text frames)")
            raw = raw.decode("utf-8", errors="replace")
        parsed = parse_frame(raw, version)
        if direction == FROM_CP:
            problems.extend(parsed.problems)

        action, request = parsed.action, None
        if parsed.message_type in (CALLRESULT, CALLERROR) and parsed.unique_id is not None:
            call_direction: Direction = TO_CP if direction == FROM_CP else FROM_CP
            request = self._open_calls.pop((station, call_direction, parsed.unique_id), None)
            action = request.action if request is not None else None

        if direction == FROM_CP and parsed.message_type is not None:
            problems.extend(self._payload_problems(parsed, action, request, version))

        frame = Frame(
            seq=len(self.frames),
            monotonic_s=time.monotonic(),
            wall_time=datetime.now(timezone.utc),
            direction=direction,
            station=station,
            raw=raw,
            message_type=parsed.message_type,
            unique_id=parsed.unique_id,
            action=action,
            payload=parsed.payload,
            error_code=parsed.error_code,
            error_description=parsed.error_description,
            request_seq=request.seq if request is not None else None,
            violations=(),
            protocol=version.subprotocol,
        )
        for rule in self._rules(version.subprotocol):
            problems.extend(rule.observe(frame))
        if problems:
            frame = replace(frame, violations=tuple(problems))
            label = f"{station} {ARROWS[direction]} {frame.action or '?'} {frame.type_name}"
            if frame.unique_id is not None:
                label += f" [{frame.unique_id}]"
            self.violations.extend(f"{label}: {problem}" for problem in problems)
        if frame.message_type == CALL and frame.unique_id is not None and frame.action is not None:
            self._open_calls[(station, direction, frame.unique_id)] = frame
        self.frames.append(frame)
        if self._on_frame is not None:
            self._on_frame(frame)
        self._notify()
        return frame

    def _rules(self, subprotocol: str) -> list[FrameRule]:
        if subprotocol not in self._rules_by_protocol:
            self._rules_by_protocol[subprotocol] = rules_for(
                subprotocol, check_boot_sequence=self._check_boot_sequence
            )
        return self._rules_by_protocol[subprotocol]

    def _payload_problems(
        self, parsed: ParsedFrame, action: str | None, request: Frame | None, version: OcppVersion
    ) -> list[str]:
        if parsed.message_type == CALL:
            if parsed.action is None or not isinstance(parsed.payload, dict):
                return []  # already reported as a framing problem
            if parsed.action not in version.charge_point_actions:
                return [f"{parsed.action} is not a request a {version.label} charge point sends"]
            return payload_problems(CALL, parsed.action, parsed.payload_for_schema, version)
        if parsed.message_type == SEND:  # 2.1: checked like a CALL against `<Action>.json`, never answered
            if parsed.action is None or not isinstance(parsed.payload, dict):
                return []
            if parsed.action not in version.send_actions:
                return [f"{parsed.action} is not a SEND message of OCPP {version.label}"]
            return payload_problems(SEND, parsed.action, parsed.payload_for_schema, version)
        if parsed.message_type == CALLRESULT:
            if request is None:
                return [f"CALLRESULT answers no open CSMS CALL (unique id {parsed.unique_id!r})"]
            if not isinstance(parsed.payload, dict) or action is None:
                return []
            return payload_problems(CALLRESULT, action, parsed.payload_for_schema, version)
        return []  # a CALLERROR's (2.1: CALLRESULTERROR's) framing and code are checked by parse_frame

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def select(
        self,
        *,
        action: str | None = None,
        station: str | None = None,
        direction: Direction | None = None,
        message_type: int | None = None,
        after: int = 0,
    ) -> list[Frame]:
        """Recorded frames matching every given filter, oldest first, from `seq >= after`."""
        return [
            frame
            for frame in self.frames[after:]
            if (action is None or frame.action == action)
            and (station is None or frame.station == station)
            and (direction is None or frame.direction == direction)
            and (message_type is None or frame.message_type == message_type)
        ]

    async def wait_for_frame(
        self, matches: Callable[[Frame], bool], *, after: int, timeout_s: float, awaited: str
    ) -> Frame:
        """The first frame with `seq >= after` for which `matches(frame)` is true, recorded or future.

        Raises WaitTimeout (a TimeoutError) after `timeout_s` seconds, naming `awaited` and listing the
        frames recorded meanwhile. Exceptions raised by `matches` propagate.
        """
        index = after
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    while index < len(self.frames):
                        frame = self.frames[index]
                        index += 1
                        if matches(frame):
                            return frame
                    await self._changed.wait()
        except TimeoutError:
            seen = ", ".join(
                f"{f.station} {ARROWS[f.direction]} {f.action or '?'} {f.type_name}"
                for f in self.frames[after:][-20:]
            )
            raise WaitTimeout(
                f"no {awaited} within {timeout_s} s; recorded since seq {after}: {seen or 'nothing'}"
            ) from None

    async def wait_until(self, condition: Callable[[], bool], *, timeout_s: float, awaited: str) -> None:
        """Return once `condition()` holds; it is re-evaluated after every recorded frame or violation.

        Callers that change state outside the record (connections) call `poke()` to re-evaluate.
        Raises WaitTimeout after `timeout_s` seconds.
        """
        try:
            async with asyncio.timeout(timeout_s):
                while not condition():
                    await self._changed.wait()
        except TimeoutError:
            raise WaitTimeout(f"no {awaited} within {timeout_s} s") from None

    def poke(self) -> None:
        """Wake `wait_until` callers after a state change that is not a frame (connect, disconnect)."""
        self._notify()
