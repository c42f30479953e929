"""CALLs answered outside the core: certificates, logs, firmware updates (issue 11).

The core answers the CALLs that touch charging (``ev.Request`` events). Some CSMS
requests are about the station's files and links instead — install a certificate, upload
a log, fetch a firmware image — and need I/O the sans-I/O core must not do. A
``CallService`` owns such actions for one OCPP version; the version's inbound dispatcher
(``firmware.ocpp.handlers.InboundDispatcher`` for 1.6,
``firmware.ocpp.v201.inbound.V201InboundDispatcher``) routes them to it.

Obligations of a service:
- ``actions`` names the CSMS→station actions it answers (each a known action of its
  version). The dispatcher has already checked the action, the registration gate and the
  payload against the version's official request schema; it checks the response against
  the response schema (one that fails is a bug, answered InternalError).
- ``answer(action, payload)`` returns the CALLRESULT payload exactly as sent (camelCase)
  and an optional continuation the session awaits after the CALLRESULT went out (start a
  download, send the first status notification, reconnect). It must be quick: long work
  belongs to a task the service's owner runs, never to the answer.
- A refusal that is a CALLERROR raises ``firmware.ocpp.frames.CallErrorReply`` with the
  1.6 spelling of the code (the 2.0.1 dispatcher renames it, ``v201.errors.from_v16``);
  a refusal that the schema expresses (Rejected, NotFound) is a normal answer.
- It never raises anything else for a schema-valid payload.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Iterable, Protocol

Continuation = Callable[[], Awaitable[None]]


class CallService(Protocol):
    @property
    def actions(self) -> frozenset[str]: ...

    async def answer(self, action: str, payload: dict[str, Any]
                     ) -> tuple[dict[str, Any], Continuation | None]: ...


def by_action(services: Iterable[CallService]) -> dict[str, CallService]:
    """Each action's service; two services claiming one action is a wiring bug."""
    table: dict[str, CallService] = {}
    for service in services:
        for action in service.actions:
            if action in table:
                raise ValueError(f"{action} is answered by two services")
            table[action] = service
    return table


class MessageTrigger(Protocol):
    """A message only a service can send on request (the 1.6 whitepaper's
    ExtendedTriggerMessage SignChargePointCertificate, 2.0.1 TriggerMessage
    SignChargingStationCertificate): ``requested_messages`` names them as the version's
    trigger enum does; ``trigger(name)`` returns the continuation that sends it after
    the Accepted reply. Without one registered the dispatcher answers NotImplemented."""

    @property
    def requested_messages(self) -> frozenset[str]: ...

    def trigger(self, requested_message: str) -> Continuation: ...


def by_message(triggers: Iterable[MessageTrigger]) -> dict[str, MessageTrigger]:
    table: dict[str, MessageTrigger] = {}
    for trigger in triggers:
        for name in trigger.requested_messages:
            if name in table:
                raise ValueError(f"{name} is triggered by two services")
            table[name] = trigger
    return table
