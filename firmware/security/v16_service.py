"""The 1.6 security whitepaper's certificate CALLs (``firmware.ocpp.services.CallService``).

InstallCertificate, DeleteCertificate, GetInstalledCertificateIds (M03-M05),
CertificateSigned (A02) and ExtendedTriggerMessage ([SEC3] §5.5): its
SignChargePointCertificate starts A02 (conf first, then SignCertificate); BootNotification,
Heartbeat, MeterValues and StatusNotification are the core's TriggerMessage; the others
(LogStatusNotification, FirmwareStatusNotification) are answered NotImplemented until the
log and firmware parts answer them.
"""

from __future__ import annotations

import itertools
from typing import Any, Awaitable, Callable

from firmware.core import events as ev
from firmware.ocpp.services import Continuation

from .manager import CertificateManager
from .store import CSMS, MANUFACTURER

KINDS = {"CentralSystemRootCertificate": CSMS, "ManufacturerRootCertificate": MANUFACTURER}
CORE_TRIGGERS = {"BootNotification", "Heartbeat", "MeterValues", "StatusNotification"}

TriggerPort = Callable[[ev.MessageTriggerRequested],
                       Awaitable[tuple[dict[str, Any], Continuation]]]


class CertificateServiceV16:
    """``trigger``: the runtime's ``request`` for the core's TriggerMessage."""

    actions = frozenset({"InstallCertificate", "DeleteCertificate",
                         "GetInstalledCertificateIds", "CertificateSigned",
                         "ExtendedTriggerMessage"})

    def __init__(self, manager: CertificateManager, trigger: TriggerPort) -> None:
        self._manager = manager
        self._trigger = trigger
        self._refs = itertools.count(1)

    async def answer(self, action: str, payload: dict[str, Any]
                     ) -> tuple[dict[str, Any], Continuation | None]:
        m = self._manager
        if action == "InstallCertificate":
            return {"status": m.install(KINDS[payload["certificateType"]],
                                        payload["certificate"])}, None
        if action == "DeleteCertificate":
            return {"status": m.delete(payload["certificateHashData"])}, None
        if action == "GetInstalledCertificateIds":
            found = [h.wire() for h in m.store.root_hashes(KINDS[payload["certificateType"]])]
            if not found:  # minItems 1: omit the list (EVerest/libocpp#391, M03.FR.02)
                return {"status": "NotFound"}, None
            return {"status": "Accepted", "certificateHashData": found}, None
        if action == "CertificateSigned":
            status = m.signed(payload["certificateChain"])
            return {"status": status}, _after(m.after_signed) if status == "Accepted" else None
        return await self._extended_trigger(payload)

    async def _extended_trigger(self, payload: dict[str, Any]
                                ) -> tuple[dict[str, Any], Continuation | None]:
        message = payload["requestedMessage"]
        if message == "SignChargePointCertificate":
            if not self._manager.can_request_signing():
                return {"status": "Rejected"}, None  # CpoName unset (A02.FR.13)
            return {"status": "Accepted"}, _after(self._manager.request_signing)
        if message in CORE_TRIGGERS:
            fields, continuation = await self._trigger(ev.MessageTriggerRequested(
                ("ExtendedTriggerMessage", next(self._refs)), message,
                payload.get("connectorId")))
            return {"status": str(fields.get("status", "Rejected"))}, continuation
        return {"status": "NotImplemented"}, None


def _after(step: Callable[[], None]) -> Continuation:
    async def run() -> None:
        step()
    return run
