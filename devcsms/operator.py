"""Operator scripts: what a CSMS operator would push to a station, from a file (issue 10
item 4: `make run CSMS_SCRIPT=dev/smart-charging.csms` shows a limit changing the power).

One command per line; `#` starts a comment. The script runs once for each station, from
its first BootNotification on, in the version the station speaks (2.1 as 2.0.1):

    wait SECONDS                          pause (a float)
    profile EVSE LIMIT A|W [TxDefault|StationMax] [ID]
                                          SetChargingProfile: TxDefault is Relative, StationMax
                                          Absolute from now; EVSE 0 = the whole station
    clear-profile [ID]                    ClearChargingProfile (all without an id)
    reserve EVSE IDTAG MINUTES [ID]       ReserveNow until now + MINUTES
    cancel-reservation ID                 CancelReservation
    call ACTION JSON                      any CALL, payload as JSON in the station's version

`parse` raises `ScriptError` naming the line and what is wrong; nothing runs then. A step
the station refuses (a CALLERROR, no answer) is printed and the script goes on.
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from devcsms.errors import DevCsmsError

V16, V201, V21 = "ocpp1.6", "ocpp2.0.1", "ocpp2.1"  # V21 gets the V201 shapes (same schemas for these)
COMMANDS = ("wait", "profile", "clear-profile", "reserve", "cancel-reservation", "call")


class ScriptError(DevCsmsError):
    """A script line that cannot run: ``file:line: why``."""


@dataclass(frozen=True)
class Step:
    line: int
    command: str
    args: tuple[Any, ...]


def _number(text: str, what: str, *, integer: bool = False, minimum: float = 0.0) -> float:
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        raise ValueError(f"{what} must be {'an integer' if integer else 'a number'}, "
                         f"not {text!r}") from None
    if not math.isfinite(value) or value < minimum:
        raise ValueError(f"{what} must be a finite number >= {minimum:g}")
    return value


def _step(number: int, words: list[str]) -> Step:
    command, rest = words[0], words[1:]
    if command == "wait":
        if len(rest) != 1:
            raise ValueError("usage: wait SECONDS")
        return Step(number, command, (_number(rest[0], "SECONDS"),))
    if command == "profile":
        if not 3 <= len(rest) <= 5:
            raise ValueError("usage: profile EVSE LIMIT A|W [TxDefault|StationMax] [ID]")
        evse = int(_number(rest[0], "EVSE", integer=True))
        limit = _number(rest[1], "LIMIT")
        unit = rest[2]
        if unit not in ("A", "W"):
            raise ValueError("the unit is A or W")
        purpose = rest[3] if len(rest) > 3 else "TxDefault"
        if purpose not in ("TxDefault", "StationMax"):
            raise ValueError("the purpose is TxDefault or StationMax")
        profile_id = int(_number(rest[4], "ID", integer=True, minimum=1)) if len(rest) > 4 else 1
        return Step(number, command, (evse, limit, unit, purpose, profile_id))
    if command == "clear-profile":
        if len(rest) > 1:
            raise ValueError("usage: clear-profile [ID]")
        return Step(number, command,
                    (int(_number(rest[0], "ID", integer=True)) if rest else None,))
    if command == "reserve":
        if not 3 <= len(rest) <= 4:
            raise ValueError("usage: reserve EVSE IDTAG MINUTES [ID]")
        evse = int(_number(rest[0], "EVSE", integer=True))
        if not 1 <= len(rest[1]) <= 20:
            raise ValueError("IDTAG is 1-20 characters")
        minutes = _number(rest[2], "MINUTES")
        reservation_id = int(_number(rest[3], "ID", integer=True)) if len(rest) > 3 else 1
        return Step(number, command, (evse, rest[1], minutes, reservation_id))
    if command == "cancel-reservation":
        if len(rest) != 1:
            raise ValueError("usage: cancel-reservation ID")
        return Step(number, command, (int(_number(rest[0], "ID", integer=True)),))
    if command == "call":
        if len(rest) < 2:
            raise ValueError("usage: call ACTION JSON")
        try:
            payload = json.loads(" ".join(rest[1:]))
        except json.JSONDecodeError as error:
            raise ValueError(f"the payload is not JSON ({error.msg})") from None
        if not isinstance(payload, dict):
            raise ValueError("the payload is a JSON object")
        return Step(number, command, (rest[0], payload))
    raise ValueError(f"unknown command {command!r}; known: {', '.join(COMMANDS)}")


def parse(text: str, source: str = "script") -> list[Step]:
    steps: list[Step] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith("call "):
            words = line.split(None, 2)  # the JSON may hold "#" and spaces
        else:
            words = line.split("#", 1)[0].split()
        if not words:
            continue
        try:
            steps.append(_step(number, words))
        except ValueError as error:
            raise ScriptError(f"{source}:{number}: {error}") from None
    return steps


def load(path: Path) -> list[Step]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ScriptError(f"{path}: cannot read the script ({error})") from None
    return parse(text, str(path))


def _time(after_s: float = 0.0) -> str:
    moment = datetime.now(timezone.utc) + timedelta(seconds=after_s)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def request(step: Step, protocol: str) -> tuple[str, dict[str, Any]]:
    """The CALL of a step (not ``wait``) in ``protocol`` (V16, V201 or V21; V21 gets the V201 message)."""
    if step.command == "profile":
        evse, limit, unit, purpose, profile_id = step.args
        kind = "Relative" if purpose == "TxDefault" else "Absolute"
        periods = [{"startPeriod": 0, "limit": limit}]
        if protocol == V16:
            schedule: dict[str, Any] = {"chargingRateUnit": unit, "chargingSchedulePeriod": periods}
            if kind == "Absolute":
                schedule["startSchedule"] = _time()
            return "SetChargingProfile", {"connectorId": evse, "csChargingProfiles": {
                "chargingProfileId": profile_id, "stackLevel": 0,
                "chargingProfilePurpose": ("TxDefaultProfile" if purpose == "TxDefault"
                                           else "ChargePointMaxProfile"),
                "chargingProfileKind": kind, "chargingSchedule": schedule}}
        schedule = {"id": 1, "chargingRateUnit": unit, "chargingSchedulePeriod": periods}
        if kind == "Absolute":
            schedule["startSchedule"] = _time()
        return "SetChargingProfile", {"evseId": evse, "chargingProfile": {
            "id": profile_id, "stackLevel": 0,
            "chargingProfilePurpose": ("TxDefaultProfile" if purpose == "TxDefault"
                                       else "ChargingStationMaxProfile"),
            "chargingProfileKind": kind, "chargingSchedule": [schedule]}}
    if step.command == "clear-profile":
        (profile_id,) = step.args
        if profile_id is None:
            return "ClearChargingProfile", {}
        return "ClearChargingProfile", ({"id": profile_id} if protocol == V16
                                        else {"chargingProfileId": profile_id})
    if step.command == "reserve":
        evse, tag, minutes, reservation_id = step.args
        if protocol == V16:
            return "ReserveNow", {"connectorId": evse, "expiryDate": _time(minutes * 60),
                                  "idTag": tag, "reservationId": reservation_id}
        payload: dict[str, Any] = {"id": reservation_id, "expiryDateTime": _time(minutes * 60),
                                   "idToken": {"idToken": tag, "type": "ISO14443"}}
        if evse:
            payload["evseId"] = evse
        return "ReserveNow", payload
    if step.command == "cancel-reservation":
        return "CancelReservation", {"reservationId": step.args[0]}
    if step.command == "call":
        return step.args[0], step.args[1]
    raise ValueError(f"{step.command} sends nothing")


Caller = Callable[[str, tuple[str, dict[str, Any]]], Any]


async def run_steps(steps: list[Step], station: str, protocol: str, call: Caller,
                    emit: Callable[[str], None]) -> None:
    """Run the script for one station: each CALL through ``call(station, (action,
    payload))`` (``DevCsms.call``), its answer or refusal printed."""
    for step in steps:
        if step.command == "wait":
            await asyncio.sleep(step.args[0])
            continue
        action, payload = request(step, protocol)
        try:
            reply = await call(station, (action, payload))
        except Exception as error:  # a refusal, a timeout, a disconnect: say it, go on
            emit(f"script {station} line {step.line}: {action} failed: "
                 f"{type(error).__name__}: {error}")
            continue
        emit(f"script {station} line {step.line}: {action} -> {json.dumps(reply)}")


async def run_for_each_station(csms: Any, steps: list[Step],
                               emit: Callable[[str], None]) -> None:
    """Run ``steps`` once for each station, as soon as the CSMS has accepted its first
    BootNotification (forever; this task owns the per-station ones)."""
    started: set[str] = set()
    mark = 0
    async with asyncio.TaskGroup() as tasks:
        while True:
            try:
                boot = await csms.wait_for(
                    "BootNotification", lambda f: isinstance(f.payload, dict)
                    and f.payload.get("status") == "Accepted", direction="to_cp", after=mark,
                    timeout_s=3600.0)
            except TimeoutError:
                continue
            mark = boot.seq + 1
            if boot.station in started:
                continue
            started.add(boot.station)
            emit(f"script {boot.station}: running {len(steps)} step(s) ({boot.protocol})")
            tasks.create_task(run_steps(steps, boot.station, boot.protocol, csms.call, emit))
