"""The interfaces between a station session and the version-specific default answers (`handlers16`,
`handlers201`, `handlers21`): what the handlers get (`FrameSender`, `Policies`) and what the session uses (`Router`)."""

from __future__ import annotations

from typing import Protocol

from devcsms.policy import AuthorizationPolicy, BootPolicy, ReceiptPolicy


class FrameSender(Protocol):
    """Where the library's replies go: the session, which records each frame before sending it."""

    async def send(self, message: str) -> None: ...


class Policies(Protocol):
    """Where handlers read the current answers (DevCsms itself): attributes tests may even replace."""

    boot: BootPolicy
    authorization: AuthorizationPolicy
    receipts: ReceiptPolicy  # 2.1 NotifySettlement


class Router(Protocol):
    """The `ocpp` library's ChargePoint with @on handlers: answers one CALL (or logs a bad frame)."""

    route_map: dict

    async def route_message(self, raw_msg: str) -> None: ...
