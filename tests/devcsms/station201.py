"""A raw OCPP 2.0.1 charging station for the devcsms tests: a real websockets client on 127.0.0.1 that
sends frames exactly as written (valid or not) and reads the CSMS's answers as JSON arrays."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import websockets

TS = "2025-03-01T12:00:00Z"

BOOT = {"reason": "PowerUp", "chargingStation": {"model": "AC-22-1C", "vendorName": "Borne"}}
TOKEN = {"idToken": "04A2B3C4", "type": "ISO14443"}


def energy(wh: float) -> list[dict]:
    """A meterValue list with one Energy.Active.Import.Register sample of `wh`."""
    sample = {"value": wh, "measurand": "Energy.Active.Import.Register", "unitOfMeasure": {"unit": "Wh"}}
    return [{"timestamp": TS, "sampledValue": [sample]}]


def transaction_event(event_type: str, seq_no: int, transaction_id: str = "tx-1", **fields: Any) -> dict:
    """A schema-valid TransactionEventRequest; `fields` add or replace top-level keys."""
    trigger = {"Started": "Authorized", "Updated": "MeterValuePeriodic", "Ended": "EVDeparted"}[event_type]
    info: dict[str, Any] = {"transactionId": transaction_id}
    if event_type == "Ended":
        info["stoppedReason"] = "EVDisconnected"
    payload = {"eventType": event_type, "timestamp": TS, "triggerReason": trigger, "seqNo": seq_no,
               "transactionInfo": info}
    payload.update(fields)
    return payload


class RawStation:
    """One websocket connection speaking OCPP-J 2.0.1 by hand."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self._ids = itertools.count(1)

    @property
    def subprotocol(self) -> str | None:
        return self.connection.subprotocol

    async def send(self, text: str) -> None:
        await self.connection.send(text)

    async def receive(self, timeout_s: float = 5.0) -> Any:
        """The next frame from the CSMS, decoded."""
        async with asyncio.timeout(timeout_s):
            return json.loads(await self.connection.recv())

    async def call(self, action: str, payload: Any, message_id: str | None = None) -> list:
        """Send a CALL and return the CSMS's reply frame ([3, id, payload] or [4, id, code, text, details])."""
        message_id = message_id or f"m{next(self._ids)}"
        await self.send(json.dumps([2, message_id, action, payload]))
        return await self.receive()

    async def result(self, action: str, payload: Any) -> dict:
        """Send a CALL that must be answered with a CALLRESULT; return its payload."""
        reply = await self.call(action, payload)
        assert reply[0] == 3, reply
        return reply[2]


@asynccontextmanager
async def raw_station(
    url: str, station_id: str, subprotocols: Sequence[str] = ("ocpp2.0.1",)
) -> AsyncIterator[RawStation]:
    async with websockets.connect(f"{url}/{station_id}", subprotocols=list(subprotocols)) as connection:
        yield RawStation(connection)
