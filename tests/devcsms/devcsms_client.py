"""A minimal charge point for the devcsms tests: the `ocpp` library's client side over websockets.connect."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action
from websockets.exceptions import ConnectionClosed


UTC_TIMESTAMP = "2025-03-01T12:00:00Z"


class ChargePointClient(ChargePoint):
    """Answers the CSMS calls the tests send; remembers what it was asked in `received`."""

    def __init__(self, station_id: str, connection: Any) -> None:
        super().__init__(station_id, connection, response_timeout=5)
        self.connection = connection
        self.received: list[tuple[str, dict]] = []
        self.reset_status = "Accepted"

    @on(Action.remote_start_transaction)
    def _on_remote_start(self, id_tag: str, **kwargs: Any):
        self.received.append(("RemoteStartTransaction", {"id_tag": id_tag, **kwargs}))
        return call_result.RemoteStartTransaction(status="Accepted")

    # Unvalidated so tests can make this charge point answer with a schema-invalid status.
    @on(Action.reset, skip_schema_validation=True)
    def _on_reset(self, type: str, **_: Any):
        self.received.append(("Reset", {"type": type}))
        return call_result.Reset(status=self.reset_status)

    @on(Action.change_configuration)
    def _on_change_configuration(self, key: str, value: str, **_: Any):
        self.received.append(("ChangeConfiguration", {"key": key, "value": value}))
        return call_result.ChangeConfiguration(status="Accepted")

    @on(Action.trigger_message)
    def _on_trigger_message(self, requested_message: str, **_: Any):
        self.received.append(("TriggerMessage", {"requested_message": requested_message}))
        return call_result.TriggerMessage(status="Accepted")


async def _receive_until_closed(charge_point: ChargePointClient) -> None:
    try:
        await charge_point.start()
    except ConnectionClosed:
        pass


def basic_auth_header(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@asynccontextmanager
async def connected_charge_point(url: str, station_id: str, **connect_options: Any) -> AsyncIterator[ChargePointClient]:
    """A connected ChargePointClient whose receive loop runs for the duration of the block."""
    async with websockets.connect(f"{url}/{station_id}", subprotocols=["ocpp1.6"], **connect_options) as connection:
        charge_point = ChargePointClient(station_id, connection)
        async with asyncio.TaskGroup() as tasks:
            receiver = tasks.create_task(_receive_until_closed(charge_point))
            try:
                yield charge_point
            finally:
                receiver.cancel()
